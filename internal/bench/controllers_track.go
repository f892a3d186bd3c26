package bench

import (
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/tools/cache"
)

// progress follows the ReplicaSets and Deployments of the benchmark's
// namespace through informers (one watch each) and records when every
// one of them first reports all its pods.
type progress struct {
	want  int32 // replicas per Deployment
	total int   // Deployments
	t0    time.Time

	requested atomic.Int64 // Deployments created so far

	mu         sync.Mutex
	rs         map[string]int32 // ReplicaSet name → status.replicas
	created    int              // sum of rs
	fullRS     int              // ReplicaSets with status.replicas == want
	dep        map[string]bool  // Deployment name → status.replicas == want
	syncedDeps int
	allCreated time.Duration // first moment fullRS == total; 0 before
	allSynced  time.Duration // first moment syncedDeps == total; 0 before
	done       chan struct{} // closed once both moments passed
}

func newProgress(deployments, replicas int) *progress {
	return &progress{want: int32(replicas), total: deployments,
		rs: make(map[string]int32, deployments), dep: make(map[string]bool, deployments), done: make(chan struct{})}
}

// register adds the event handlers to the factory's ReplicaSet and
// Deployment informers.
func (p *progress) register(f informers.SharedInformerFactory) error {
	if _, err := f.Apps().V1().ReplicaSets().Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    p.setRS,
		UpdateFunc: func(_, cur any) { p.setRS(cur) },
		DeleteFunc: p.deleteRS,
	}); err != nil {
		return fmt.Errorf("bench: ReplicaSet handler: %w", err)
	}
	if _, err := f.Apps().V1().Deployments().Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    p.setDeployment,
		UpdateFunc: func(_, cur any) { p.setDeployment(cur) },
	}); err != nil {
		return fmt.Errorf("bench: Deployment handler: %w", err)
	}
	return nil
}

// start sets the time origin: the first Deployment create.
func (p *progress) start(t0 time.Time) {
	p.mu.Lock()
	p.t0 = t0
	p.mu.Unlock()
}

func (p *progress) setRS(obj any) {
	rs, ok := obj.(*appsv1.ReplicaSet)
	if !ok {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	old, seen := p.rs[rs.Name]
	n := rs.Status.Replicas
	p.rs[rs.Name] = n
	p.created += int(n - old)
	if wasFull, isFull := seen && old == p.want, n == p.want; wasFull != isFull {
		if isFull {
			p.fullRS++
		} else {
			p.fullRS--
		}
	}
	if p.fullRS >= p.total && p.allCreated == 0 && !p.t0.IsZero() {
		p.allCreated = time.Since(p.t0)
		p.checkDone()
	}
}

func (p *progress) deleteRS(obj any) {
	if tomb, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = tomb.Obj
	}
	rs, ok := obj.(*appsv1.ReplicaSet)
	if !ok {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if old, seen := p.rs[rs.Name]; seen {
		p.created -= int(old)
		if old == p.want {
			p.fullRS--
		}
		delete(p.rs, rs.Name)
	}
}

func (p *progress) setDeployment(obj any) {
	d, ok := obj.(*appsv1.Deployment)
	if !ok {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	isSynced := d.Status.Replicas == p.want
	if p.dep[d.Name] != isSynced {
		if isSynced {
			p.syncedDeps++
		} else {
			p.syncedDeps--
		}
	}
	p.dep[d.Name] = isSynced
	if p.syncedDeps >= p.total && p.allSynced == 0 && !p.t0.IsZero() {
		p.allSynced = time.Since(p.t0)
		p.checkDone()
	}
}

// checkDone closes done once both moments are recorded; p.mu is held.
func (p *progress) checkDone() {
	if p.allCreated > 0 && p.allSynced > 0 {
		close(p.done)
	}
}

// sample returns the current state, stamped with the time since t0.
func (p *progress) sample() ProgressSample {
	p.mu.Lock()
	defer p.mu.Unlock()
	return ProgressSample{Seconds: round(time.Since(p.t0).Seconds(), 3),
		Requested: int(p.requested.Load()) * int(p.want), Created: p.created}
}

// state returns the moments recorded and the counts, for results and
// error messages.
func (p *progress) state() (allCreated, allSynced time.Duration, created, fullRS, syncedDeps int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.allCreated, p.allSynced, p.created, p.fullRS, p.syncedDeps
}

// sampleEvery records a sample every interval until stop is closed, then
// returns them all (with a last one at return).
func (p *progress) sampleEvery(interval time.Duration, stop <-chan struct{}) []ProgressSample {
	out := []ProgressSample{p.sample()}
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		select {
		case <-stop:
			return append(out, p.sample())
		case <-tick.C:
			out = append(out, p.sample())
		}
	}
}
