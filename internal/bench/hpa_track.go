package bench

import (
	"context"
	"fmt"
	"sync"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/tools/cache"
)

// scaleChange is a change of the Deployment's spec.replicas, at the time
// the watch delivered it.
type scaleChange struct {
	at       time.Time
	from, to int
}

// deploymentState is what the tracker last saw of the Deployment.
type deploymentState struct {
	// seen is false until the Deployment was seen.
	seen bool
	// replicas is spec.replicas; current status.replicas (pods not being
	// deleted) and ready status.readyReplicas.
	replicas, current, ready int
}

// scaleTracker follows one Deployment through an informer (a watch):
// every change of its spec.replicas, with the time it arrived, and its
// latest replica counts.
type scaleTracker struct {
	name string

	mu      sync.Mutex
	state   deploymentState
	changes []scaleChange
	// updated is closed and replaced at every event.
	updated chan struct{}
}

// newScaleTracker returns a tracker of the Deployment name.
func newScaleTracker(name string) *scaleTracker {
	return &scaleTracker{name: name, updated: make(chan struct{})}
}

// register adds the tracker's handlers to the factory's Deployment
// informer.
func (t *scaleTracker) register(f informers.SharedInformerFactory) error {
	_, err := f.Apps().V1().Deployments().Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    t.observe,
		UpdateFunc: func(_, cur any) { t.observe(cur) },
		DeleteFunc: func(any) {
			t.mu.Lock()
			defer t.mu.Unlock()
			t.state = deploymentState{}
			t.signal()
		},
	})
	if err != nil {
		return fmt.Errorf("bench: watch the Deployments: %w", err)
	}
	return nil
}

// observe records a Deployment as the watch delivered it.
func (t *scaleTracker) observe(obj any) {
	now := time.Now()
	d, ok := obj.(*appsv1.Deployment)
	if !ok || d.Name != t.name {
		return
	}
	replicas := 1
	if d.Spec.Replicas != nil {
		replicas = int(*d.Spec.Replicas)
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.state.seen && replicas != t.state.replicas {
		t.changes = append(t.changes, scaleChange{at: now, from: t.state.replicas, to: replicas})
	}
	t.state = deploymentState{seen: true, replicas: replicas, current: int(d.Status.Replicas), ready: int(d.Status.ReadyReplicas)}
	t.signal()
}

// signal wakes the waiters; t.mu is held.
func (t *scaleTracker) signal() {
	close(t.updated)
	t.updated = make(chan struct{})
}

// snapshot returns the latest state and a channel closed at the next
// event.
func (t *scaleTracker) snapshot() (deploymentState, <-chan struct{}) {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.state, t.updated
}

// changesSince returns the changes that arrived at or after from.
func (t *scaleTracker) changesSince(from time.Time) []scaleChange {
	t.mu.Lock()
	defer t.mu.Unlock()
	var out []scaleChange
	for _, c := range t.changes {
		if !c.at.Before(from) {
			out = append(out, c)
		}
	}
	return out
}

// await waits until done holds for the latest state and returns the time
// it was first seen to hold (now when it already held). It fails when ctx
// ends, when stop (if not nil) is closed, or after timeout; what names the
// condition in the error.
func (t *scaleTracker) await(ctx context.Context, timeout time.Duration, what string, stop <-chan struct{}, done func(deploymentState) bool) (time.Time, error) {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		st, updated := t.snapshot()
		if done(st) {
			return time.Now(), nil
		}
		select {
		case <-updated:
		case <-ctx.Done():
			return time.Time{}, fmt.Errorf("bench: stopped while waiting for %s: %w", what, ctx.Err())
		case <-stop:
			return time.Time{}, fmt.Errorf("bench: a spawned process exited while waiting for %s", what)
		case <-deadline.C:
			return time.Time{}, fmt.Errorf("bench: %s not within --timeout %v (last seen: spec.replicas %d, %d current, %d Ready)",
				what, timeout, st.replicas, st.current, st.ready)
		}
	}
}

// firstChangeAfter waits for the first change of spec.replicas at or
// after from and returns it.
func (t *scaleTracker) firstChangeAfter(ctx context.Context, from time.Time, timeout time.Duration, stop <-chan struct{}) (scaleChange, error) {
	var first scaleChange
	_, err := t.await(ctx, timeout, "a change of spec.replicas", stop, func(deploymentState) bool {
		cs := t.changesSince(from)
		if len(cs) == 0 {
			return false
		}
		first = cs[0]
		return true
	})
	return first, err
}
