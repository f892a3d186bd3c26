package agent_test

import (
	"context"
	"fmt"
	"io"
	"sync/atomic"
	"testing"

	"github.com/berth-dev/berth/internal/agent/runtime"
	"github.com/berth-dev/berth/internal/agent/runtime/mock"
	corev1 "k8s.io/api/core/v1"
)

func TestProbes(t *testing.T) {
	cs := env(t)
	drv := mock.New()
	defer drv.Close()
	// Exec probes answer from these switches: "ready" and "alive".
	var ready, alive atomic.Bool
	alive.Store(true)
	drv.SetExecHandler(func(_ context.Context, _ runtime.ContainerStatus, cmd []string, _ io.Reader, _, _ io.Writer) (int, error) {
		ok := map[string]*atomic.Bool{"ready": &ready, "alive": &alive}[cmd[len(cmd)-1]]
		if ok != nil && ok.Load() {
			return 0, nil
		}
		return 1, nil
	})
	startAgent(t, cs, drv)
	exec := func(what string, failures int32) *corev1.Probe {
		return &corev1.Probe{ProbeHandler: corev1.ProbeHandler{Exec: &corev1.ExecAction{Command: []string{"check", what}}},
			PeriodSeconds: 1, FailureThreshold: failures}
	}
	create(t, cs, pod("probed", corev1.RestartPolicyAlways, func(p *corev1.Pod) {
		p.Spec.Containers[0].ReadinessProbe = exec("ready", 1)
		p.Spec.Containers[0].LivenessProbe = exec("alive", 2)
	}))
	readyIs := func(want bool) func(*corev1.Pod) error {
		return func(p *corev1.Pod) error {
			if len(p.Status.ContainerStatuses) == 0 || p.Status.ContainerStatuses[0].Ready != want {
				return fmt.Errorf("container statuses %+v", p.Status.ContainerStatuses)
			}
			return nil
		}
	}
	waitPod(t, cs, "probed", "running but not ready", func(p *corev1.Pod) error {
		if p.Status.Phase != corev1.PodRunning {
			return fmt.Errorf("phase %s", p.Status.Phase)
		}
		return readyIs(false)(p)
	})
	ready.Store(true)
	waitPod(t, cs, "probed", "ready once the probe passes", running)
	ready.Store(false)
	waitPod(t, cs, "probed", "not ready again", readyIs(false))
	ready.Store(true)
	alive.Store(false)
	waitPod(t, cs, "probed", "restarted by the liveness probe", func(p *corev1.Pod) error {
		if p.Status.ContainerStatuses[0].RestartCount < 1 {
			return fmt.Errorf("restarts %d", p.Status.ContainerStatuses[0].RestartCount)
		}
		return nil
	})
	alive.Store(true)
	waitPod(t, cs, "probed", "ready after the restart", running)
}
