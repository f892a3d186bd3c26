package queue

import (
	"container/heap"
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/client-go/tools/cache"
)

// ErrClosed is returned by Pop after Close.
var ErrClosed = errors.New("queue: closed")

// Where a pod is.
type location int

const (
	inActive location = iota
	inBackoff
	inUnschedulable
	inFlight // popped, being scheduled or bound
)

type entry struct {
	qp       *QueuedPod
	profile  string
	loc      location
	deleted  bool        // deleted while in flight
	pending  *corev1.Pod // newer object that arrived while in flight
	backoff  time.Time   // end of back-off (inBackoff)
	since    time.Time   // when it became unschedulable
	heapIdx  int
	popCycle int64 // scheduling cycle it was popped in
}

// Config tunes a SchedulingQueue.
type Config struct {
	// InitialBackoff is the first back-off after a failed attempt (default
	// 1 s); it doubles per further failure up to MaxBackoff (default 10 s).
	InitialBackoff, MaxBackoff time.Duration
	// MaxUnschedulable is how long an unschedulable pod waits without a
	// relevant cluster event before it is tried again anyway (default 60 s).
	MaxUnschedulable time.Duration
	// Now is the clock (default time.Now).
	Now func() time.Time
}

// SchedulingQueue holds the pods waiting to be scheduled, for every
// profile: pods ready to be tried in each profile's Policy, pods backing
// off after a failed attempt, and unschedulable pods waiting for a cluster
// change. Pop serves the profiles in turn. It is safe for concurrent use.
type SchedulingQueue struct {
	cfg      Config
	mu       sync.Mutex
	cond     *sync.Cond
	policies map[string]Policy
	order    []string // profile names, served round-robin
	next     int
	pods     map[string]*entry
	unsched  map[string]*entry // the entries in inUnschedulable
	backoffQ backoffHeap
	seq      uint64
	closed   bool
	// cycle counts pops; moveCycle is the cycle of the last move request,
	// so a pod that fails after a cluster change it could not see is
	// retried instead of parked.
	cycle, moveCycle int64
}

// NewSchedulingQueue returns a queue serving the given profile policies.
func NewSchedulingQueue(cfg Config, policies map[string]Policy) *SchedulingQueue {
	if cfg.InitialBackoff <= 0 {
		cfg.InitialBackoff = time.Second
	}
	if cfg.MaxBackoff <= 0 {
		cfg.MaxBackoff = 10 * time.Second
	}
	if cfg.MaxBackoff < cfg.InitialBackoff {
		cfg.MaxBackoff = cfg.InitialBackoff
	}
	if cfg.MaxUnschedulable <= 0 {
		cfg.MaxUnschedulable = 60 * time.Second
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	q := &SchedulingQueue{cfg: cfg, policies: policies, pods: map[string]*entry{}, unsched: map[string]*entry{}}
	for name := range policies {
		q.order = append(q.order, name)
	}
	slices.Sort(q.order)
	q.cond = sync.NewCond(&q.mu)
	return q
}

// Key returns the queue key of pod.
func Key(pod *corev1.Pod) string {
	k, _ := cache.MetaNamespaceKeyFunc(pod)
	return k
}

// Add queues a new pod for profile (pod.Spec.SchedulerName). A pod already
// queued is updated instead.
func (q *SchedulingQueue) Add(pod *corev1.Pod) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	key := Key(pod)
	if e, ok := q.pods[key]; ok {
		q.updateLocked(e, pod)
		return nil
	}
	pol, ok := q.policies[pod.Spec.SchedulerName]
	if !ok {
		return fmt.Errorf("queue: no profile %q", pod.Spec.SchedulerName)
	}
	q.seq++
	e := &entry{qp: &QueuedPod{Pod: pod, Key: key, Seq: q.seq, Added: q.cfg.Now()}, profile: pod.Spec.SchedulerName, loc: inActive, heapIdx: -1}
	q.pods[key] = e
	pol.Push(e.qp)
	q.cond.Signal()
	return nil
}

// Update replaces a queued pod's object. An unschedulable pod whose spec,
// labels or annotations changed is tried again (after its back-off).
func (q *SchedulingQueue) Update(pod *corev1.Pod) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if e, ok := q.pods[Key(pod)]; ok {
		q.updateLocked(e, pod)
	}
}

func (q *SchedulingQueue) updateLocked(e *entry, pod *corev1.Pod) {
	if e.loc == inFlight {
		e.pending = pod // the scheduler owns e.qp until it reports back
		return
	}
	old := e.qp.Pod
	e.qp.Pod = pod
	switch e.loc {
	case inActive:
		q.policies[e.profile].Update(e.qp)
	case inUnschedulable:
		if !equality.Semantic.DeepEqual(old.Spec, pod.Spec) ||
			!equality.Semantic.DeepEqual(old.Labels, pod.Labels) ||
			!equality.Semantic.DeepEqual(old.Annotations, pod.Annotations) {
			q.requeueLocked(e)
		}
	}
}

// Delete forgets a pod (deleted, or bound by someone else).
func (q *SchedulingQueue) Delete(pod *corev1.Pod) {
	q.mu.Lock()
	defer q.mu.Unlock()
	key := Key(pod)
	e, ok := q.pods[key]
	if !ok {
		return
	}
	switch e.loc {
	case inActive:
		q.policies[e.profile].Delete(key)
	case inBackoff:
		heap.Remove(&q.backoffQ, e.heapIdx)
	case inUnschedulable:
		delete(q.unsched, key)
	case inFlight:
		e.deleted = true
		return // Done or a failure report removes it
	}
	delete(q.pods, key)
}

// Pop blocks until a pod is ready to be tried and returns it with its
// profile and the scheduling cycle to report failures with.
func (q *SchedulingQueue) Pop(ctx context.Context) (*QueuedPod, string, int64, error) {
	stop := context.AfterFunc(ctx, func() {
		q.mu.Lock()
		q.cond.Broadcast()
		q.mu.Unlock()
	})
	defer stop()
	q.mu.Lock()
	defer q.mu.Unlock()
	for {
		if q.closed {
			return nil, "", 0, ErrClosed
		}
		if err := ctx.Err(); err != nil {
			return nil, "", 0, err
		}
		for i := 0; i < len(q.order); i++ {
			name := q.order[(q.next+i)%len(q.order)]
			pol := q.policies[name]
			if pol.Len() == 0 {
				continue
			}
			q.next = (q.next + i + 1) % len(q.order)
			qp := pol.Pop()
			e := q.pods[qp.Key]
			e.loc = inFlight
			q.cycle++
			e.popCycle = q.cycle
			qp.LastAttempt = q.cfg.Now()
			return qp, name, q.cycle, nil
		}
		q.cond.Wait()
	}
}

// Done removes a popped pod that was bound (or needs no scheduling).
func (q *SchedulingQueue) Done(key string) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if e, ok := q.pods[key]; ok && e.loc == inFlight {
		delete(q.pods, key)
	}
}

// AddUnschedulable reports that a popped pod fits no node. It waits for a
// relevant cluster change (MoveAll), or MaxUnschedulable; if such a change
// happened since the pod was popped, it backs off and is retried at once.
func (q *SchedulingQueue) AddUnschedulable(qp *QueuedPod, cycle int64) {
	q.failed(qp, func(e *entry) {
		if q.moveCycle >= cycle {
			q.backoffLocked(e)
			return
		}
		e.loc, e.since = inUnschedulable, q.cfg.Now()
		q.unsched[e.qp.Key] = e
	})
}

// AddBackoff reports that a popped pod's attempt failed with an error (API
// error, failed binding); it is retried after its back-off.
func (q *SchedulingQueue) AddBackoff(qp *QueuedPod) {
	q.failed(qp, q.backoffLocked)
}

func (q *SchedulingQueue) failed(qp *QueuedPod, place func(*entry)) {
	q.mu.Lock()
	defer q.mu.Unlock()
	e, ok := q.pods[qp.Key]
	if !ok || e.loc != inFlight || e.qp != qp {
		return
	}
	if e.deleted {
		delete(q.pods, qp.Key)
		return
	}
	qp.Attempts++
	if e.pending != nil {
		qp.Pod, e.pending = e.pending, nil
	}
	place(e)
}

// backoffLocked puts e into the back-off heap, or straight into its policy
// when its back-off has already passed.
func (q *SchedulingQueue) backoffLocked(e *entry) {
	end := e.qp.LastAttempt.Add(q.backoffFor(e.qp.Attempts))
	if !end.After(q.cfg.Now()) {
		q.activateLocked(e)
		return
	}
	e.loc, e.backoff = inBackoff, end
	heap.Push(&q.backoffQ, e)
}

// backoffFor returns the back-off after attempts failures.
func (q *SchedulingQueue) backoffFor(attempts int) time.Duration {
	d := q.cfg.InitialBackoff
	for i := 1; i < attempts && d < q.cfg.MaxBackoff; i++ {
		d *= 2
	}
	return min(d, q.cfg.MaxBackoff)
}

func (q *SchedulingQueue) activateLocked(e *entry) {
	e.loc = inActive
	q.policies[e.profile].Push(e.qp)
	q.cond.Signal()
}

// requeueLocked moves an unschedulable pod to back-off or active.
func (q *SchedulingQueue) requeueLocked(e *entry) {
	if e.loc == inUnschedulable {
		delete(q.unsched, e.qp.Key)
		q.backoffLocked(e)
	}
}

// MoveAll retries every unschedulable pod (after its back-off) because the
// cluster changed in a way that may let it fit (a node joined or changed,
// a pod went away). It returns how many pods moved.
func (q *SchedulingQueue) MoveAll() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.moveCycle = q.cycle
	n := len(q.unsched)
	for _, e := range q.unsched {
		q.requeueLocked(e)
	}
	return n
}

// Flush moves pods whose back-off ended to their policy, and retries pods
// unschedulable for longer than MaxUnschedulable. Run calls it periodically.
func (q *SchedulingQueue) Flush() {
	q.mu.Lock()
	defer q.mu.Unlock()
	now := q.cfg.Now()
	for q.backoffQ.Len() > 0 && !q.backoffQ[0].backoff.After(now) {
		q.activateLocked(heap.Pop(&q.backoffQ).(*entry))
	}
	for key, e := range q.unsched {
		if now.Sub(e.since) >= q.cfg.MaxUnschedulable {
			delete(q.unsched, key)
			q.activateLocked(e)
		}
	}
}

// Run flushes every interval until ctx is done, then closes the queue.
func (q *SchedulingQueue) Run(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			q.Close()
			return
		case <-t.C:
			q.Flush()
		}
	}
}

// Close wakes Pop callers, which return ErrClosed.
func (q *SchedulingQueue) Close() {
	q.mu.Lock()
	q.closed = true
	q.cond.Broadcast()
	q.mu.Unlock()
}

// Counts is how many pods of a profile wait where.
type Counts struct {
	Active, Backoff, Unschedulable, InFlight int
}

// Counts returns the number of pods per profile and location.
func (q *SchedulingQueue) Counts() map[string]Counts {
	q.mu.Lock()
	defer q.mu.Unlock()
	out := make(map[string]Counts, len(q.order))
	for _, name := range q.order {
		out[name] = Counts{}
	}
	for _, e := range q.pods {
		c := out[e.profile]
		switch e.loc {
		case inActive:
			c.Active++
		case inBackoff:
			c.Backoff++
		case inUnschedulable:
			c.Unschedulable++
		case inFlight:
			c.InFlight++
		}
		out[e.profile] = c
	}
	return out
}

// Has reports whether key is queued (in any location).
func (q *SchedulingQueue) Has(key string) bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	_, ok := q.pods[key]
	return ok
}

// backoffHeap orders entries by the end of their back-off.
type backoffHeap []*entry

func (h backoffHeap) Len() int { return len(h) }
func (h backoffHeap) Less(i, j int) bool {
	if !h[i].backoff.Equal(h[j].backoff) {
		return h[i].backoff.Before(h[j].backoff)
	}
	return h[i].qp.Seq < h[j].qp.Seq
}
func (h backoffHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].heapIdx, h[j].heapIdx = i, j
}
func (h *backoffHeap) Push(x any) {
	e := x.(*entry)
	e.heapIdx = len(*h)
	*h = append(*h, e)
}
func (h *backoffHeap) Pop() any {
	old := *h
	e := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	e.heapIdx = -1
	return e
}
