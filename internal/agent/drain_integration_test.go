package agent_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/berth-dev/berth/internal/agent"
	"github.com/berth-dev/berth/internal/agent/runtime"
	"github.com/berth-dev/berth/internal/agent/runtime/mock"
	"github.com/berth-dev/berth/internal/testutil/testenv"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

func drainOnExit(c *agent.Config) { c.DrainOnExit = true }

// nodeCordon returns the node's unschedulable flag and whether it carries
// the agent's cordon annotation.
func nodeCordon(t *testing.T, cs kubernetes.Interface) (unschedulable, annotated bool) {
	t.Helper()
	n, err := cs.CoreV1().Nodes().Get(context.Background(), node, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	_, annotated = n.Annotations[agent.AnnotationCordonedByAgent]
	return n.Spec.Unschedulable, annotated
}

// waitFinal returns a channel that receives the final status of the
// container id once it exits.
func waitFinal(t *testing.T, drv *mock.Driver, id string) <-chan runtime.ContainerStatus {
	t.Helper()
	ch := make(chan runtime.ContainerStatus, 1)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	go func() {
		st, err := drv.Wait(ctx, id)
		if err != nil {
			st.Reason = "wait: " + err.Error()
		}
		ch <- st
	}()
	return ch
}

// TestDrainOnExit: an agent with DrainOnExit cordons its node when it
// stops, deletes its pods with their grace periods (SIGTERM, then SIGKILL
// once the grace period is over), removes their sandboxes and returns once
// no pod is left; its next start uncordons the node.
func TestDrainOnExit(t *testing.T) {
	cs := env(t)
	drv := mock.New()
	defer drv.Close()
	stop := startAgent(t, cs, drv, drainOnExit)
	grace := func(s int64) func(*corev1.Pod) {
		return func(p *corev1.Pod) { p.Spec.TerminationGracePeriodSeconds = &s }
	}
	create(t, cs, pod("quick", corev1.RestartPolicyAlways, grace(30)))
	create(t, cs, pod("stubborn", corev1.RestartPolicyAlways, grace(2), func(p *corev1.Pod) {
		p.Spec.Containers[0].Command = []string{"sh", "-c", `trap "" TERM; sleep 1h`}
	}))
	create(t, cs, pod("done", corev1.RestartPolicyNever, func(p *corev1.Pod) { p.Spec.Containers[0].Command = []string{"sh", "-c", "exit 0"} }))
	quick := waitFinal(t, drv, containerID(waitPod(t, cs, "quick", "running", running)))
	stubborn := waitFinal(t, drv, containerID(waitPod(t, cs, "stubborn", "running", running)))
	waitPod(t, cs, "done", "Succeeded", func(p *corev1.Pod) error {
		if p.Status.Phase != corev1.PodSucceeded {
			return fmt.Errorf("phase %s", p.Status.Phase)
		}
		return nil
	})
	if u, a := nodeCordon(t, cs); u || a {
		t.Fatalf("node cordoned (%v) or annotated (%v) before the agent stopped", u, a)
	}

	t0 := time.Now()
	stop() // fails the test if Run returns an error
	took := time.Since(t0)
	if took < 2*time.Second {
		t.Errorf("the agent stopped after %v, before the 2 s grace period of the pod that ignores SIGTERM", took)
	}
	if st := <-quick; st.ExitCode != mock.ExitTERM {
		t.Errorf("quick: exit code %d (%s), want %d: stopped by SIGTERM", st.ExitCode, st.Reason, mock.ExitTERM)
	}
	if st := <-stubborn; st.ExitCode != mock.ExitKILL {
		t.Errorf("stubborn: exit code %d (%s), want %d: killed after its grace period", st.ExitCode, st.Reason, mock.ExitKILL)
	}
	pods, err := cs.CoreV1().Pods("default").List(context.Background(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(pods.Items) != 0 {
		t.Errorf("%d pods left after the drain: %v", len(pods.Items), pods.Items)
	}
	if sbs, err := drv.ListSandboxes(context.Background()); err != nil || len(sbs) != 0 {
		t.Errorf("sandboxes left after the drain: %v (%v)", sbs, err)
	}
	if u, a := nodeCordon(t, cs); !u || !a {
		t.Errorf("after the drain: unschedulable %v, annotated %v; want both", u, a)
	}

	// The next start, with or without DrainOnExit, uncordons the node
	// (when it registers, before it serves pods).
	startAgent(t, cs, drv)
	testenv.Eventually(t, 15*time.Second, "node uncordoned by the restarted agent", func() error {
		if u, a := nodeCordon(t, cs); u || a {
			return fmt.Errorf("unschedulable %v, annotated %v", u, a)
		}
		return nil
	})
	// A pod running again shows the agent serves (and stops cleanly).
	create(t, cs, pod("after", corev1.RestartPolicyAlways))
	waitPod(t, cs, "after", "running", running)
}

// TestDrainOnExitKeepsAnAdminCordon: a node an administrator cordoned is
// drained, but its agent neither marks it as its own cordon nor uncordons
// it when it starts again.
func TestDrainOnExitKeepsAnAdminCordon(t *testing.T) {
	cs := env(t)
	drv := mock.New()
	defer drv.Close()
	stop := startAgent(t, cs, drv, drainOnExit)
	ctx := context.Background()
	create(t, cs, pod("web", corev1.RestartPolicyAlways))
	waitPod(t, cs, "web", "running", running)
	n, err := cs.CoreV1().Nodes().Get(ctx, node, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	n.Spec.Unschedulable = true // kubectl cordon
	if _, err := cs.CoreV1().Nodes().Update(ctx, n, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	stop()
	if _, err := cs.CoreV1().Pods("default").Get(ctx, "web", metav1.GetOptions{}); err == nil {
		t.Error("pod web still exists after the drain")
	}
	if u, a := nodeCordon(t, cs); !u || a {
		t.Errorf("after the drain: unschedulable %v, annotated %v; want cordoned, not annotated", u, a)
	}
	startAgent(t, cs, drv)
	// A pod running again shows the agent registered and serves.
	create(t, cs, pod("after", corev1.RestartPolicyAlways))
	waitPod(t, cs, "after", "running", running)
	if u, a := nodeCordon(t, cs); !u || a {
		t.Errorf("after the restart: unschedulable %v, annotated %v; want the administrator's cordon kept", u, a)
	}
}
