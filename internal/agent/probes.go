package agent

import (
	"bytes"
	"context"
	"errors"
	"time"

	"github.com/berth-dev/berth/internal/agent/prober"
	"github.com/berth-dev/berth/internal/agent/runtime"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/tools/cache"
)

// probeSet is the running probes of one container instance.
type probeSet struct {
	workers []*prober.Worker
	cancel  context.CancelFunc
}

// ready reports the readiness the probes give (no readiness probe: ready
// once started).
func (p *probeSet) ready() bool {
	if p == nil {
		return true
	}
	for _, w := range p.workers {
		switch w.Type() {
		case prober.Readiness:
			if !w.Result().Passed() {
				return false
			}
		case prober.Startup:
			select {
			case <-w.Started():
			default:
				return false
			}
		}
	}
	return true
}

func (p *probeSet) stop() {
	if p != nil && p.cancel != nil {
		p.cancel()
	}
}

// startProbes starts the probe workers of a freshly started container. A
// failing liveness or startup probe stops the container (the restart
// policy then applies); every change re-syncs the pod. An invalid probe is
// reported as an event and the container runs without it.
func (a *Agent) startProbes(ctx context.Context, pod *corev1.Pod, ps *podState, c *corev1.Container, cs *ctrState) {
	cs.probes.stop()
	cs.probes = nil
	if c.StartupProbe == nil && c.LivenessProbe == nil && c.ReadinessProbe == nil {
		return
	}
	key, _ := cache.MetaNamespaceKeyFunc(pod)
	id := cs.id
	var execer prober.Execer
	if ex, ok := a.cfg.Driver.(runtime.Execer); ok {
		execer = func(ctx context.Context, cmd []string) (int, string, error) {
			var out bytes.Buffer
			code, err := ex.Exec(ctx, id, cmd, nil, &out, &out)
			return code, out.String(), err
		}
	}
	workers, err := prober.ForContainer(c, prober.WorkerConfig{
		Container: c.Name,
		Target:    prober.Target{PodIP: a.podIP(ps), Exec: execer},
		StartedAt: cs.status.StartedAt,
		OnChange: func(u prober.Update) {
			if (u.Type == prober.Liveness || u.Type == prober.Startup) && u.Result == prober.Failure {
				a.recorder.Eventf(pod, corev1.EventTypeNormal, "Killing", "Container %s failed %s probe, will be restarted", c.Name, u.Type)
				grace := 30 * time.Second
				if pod.Spec.TerminationGracePeriodSeconds != nil {
					grace = time.Duration(*pod.Spec.TerminationGracePeriodSeconds) * time.Second
				}
				if err := a.cfg.Driver.Stop(ctx, id, grace); err != nil && !errors.Is(err, runtime.ErrNotFound) {
					a.log.Warn("cannot stop unhealthy container", "pod", key, "container", c.Name, "err", err)
				}
			}
			a.queue.Add(key)
		},
		OnProbe: func(u prober.Update) {
			if !u.Result.Passed() && u.Result != prober.Unknown {
				a.recorder.Eventf(pod, corev1.EventTypeWarning, "Unhealthy", "%s probe failed: %s", u.Type, u.Message)
			}
		},
	})
	if err != nil {
		a.recorder.Eventf(pod, corev1.EventTypeWarning, "InvalidProbe", "%v (the container runs without probes)", err)
		return
	}
	pctx, cancel := context.WithCancel(ctx)
	cs.probes = &probeSet{workers: workers, cancel: cancel}
	for _, w := range workers {
		a.bg.Add(1)
		go func() {
			defer a.bg.Done()
			w.Run(pctx)
		}()
	}
}
