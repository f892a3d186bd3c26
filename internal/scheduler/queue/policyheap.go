package queue

import (
	"container/heap"
	"time"
)

// policyEntry is a pod in a policyHeap together with its precomputed sort
// key and its position in the heap.
type policyEntry[K any] struct {
	pod   *QueuedPod
	key   K
	index int
}

// policyHeap is a binary min-heap of pods ordered by a sort key computed
// once per Push or Update, with an index by pod key so that Update and
// Delete are O(log n). It implements heap.Interface for container/heap only;
// callers use its lower-case methods.
type policyHeap[K any] struct {
	less    func(a, b *K) bool
	entries []*policyEntry[K]
	byKey   map[string]*policyEntry[K]
}

func newPolicyHeap[K any](less func(a, b *K) bool) *policyHeap[K] {
	return &policyHeap[K]{less: less, byKey: map[string]*policyEntry[K]{}}
}

// Len implements heap.Interface.
func (h *policyHeap[K]) Len() int { return len(h.entries) }

// Less implements heap.Interface.
func (h *policyHeap[K]) Less(i, j int) bool {
	return h.less(&h.entries[i].key, &h.entries[j].key)
}

// Swap implements heap.Interface.
func (h *policyHeap[K]) Swap(i, j int) {
	h.entries[i], h.entries[j] = h.entries[j], h.entries[i]
	h.entries[i].index = i
	h.entries[j].index = j
}

// Push implements heap.Interface; use push.
func (h *policyHeap[K]) Push(x any) {
	e := x.(*policyEntry[K])
	e.index = len(h.entries)
	h.entries = append(h.entries, e)
}

// Pop implements heap.Interface; use pop.
func (h *policyHeap[K]) Pop() any {
	n := len(h.entries) - 1
	e := h.entries[n]
	h.entries[n] = nil
	h.entries = h.entries[:n]
	e.index = -1
	return e
}

// push adds p with sort key k. A pod whose Key is already present is
// replaced (as by update) so that the index stays consistent even if a
// caller breaks the Policy.Push contract.
func (h *policyHeap[K]) push(p *QueuedPod, k K) {
	if h.update(p, k) {
		return
	}
	e := &policyEntry[K]{pod: p, key: k}
	h.byKey[p.Key] = e
	heap.Push(h, e)
}

// pop removes and returns the first pod, nil when empty.
func (h *policyHeap[K]) pop() *QueuedPod {
	if len(h.entries) == 0 {
		return nil
	}
	e := heap.Pop(h).(*policyEntry[K])
	delete(h.byKey, e.pod.Key)
	return e.pod
}

// update replaces the pod with p.Key by p with sort key k and restores the
// heap order; it reports whether the pod was present.
func (h *policyHeap[K]) update(p *QueuedPod, k K) bool {
	e, ok := h.byKey[p.Key]
	if !ok {
		return false
	}
	e.pod, e.key = p, k
	heap.Fix(h, e.index)
	return true
}

// remove deletes the pod with key; it reports whether it was present.
func (h *policyHeap[K]) remove(key string) bool {
	e, ok := h.byKey[key]
	if !ok {
		return false
	}
	heap.Remove(h, e.index)
	delete(h.byKey, key)
	return true
}

// heapPolicy is a Policy that keeps all pods in one policyHeap; keyOf
// computes a pod's sort key.
type heapPolicy[K any] struct {
	name  string
	keyOf func(*QueuedPod) K
	h     *policyHeap[K]
}

func newHeapPolicy[K any](name string, keyOf func(*QueuedPod) K, less func(a, b *K) bool) *heapPolicy[K] {
	return &heapPolicy[K]{name: name, keyOf: keyOf, h: newPolicyHeap(less)}
}

func (q *heapPolicy[K]) Name() string             { return q.name }
func (q *heapPolicy[K]) Push(p *QueuedPod)        { q.h.push(p, q.keyOf(p)) }
func (q *heapPolicy[K]) Pop() *QueuedPod          { return q.h.pop() }
func (q *heapPolicy[K]) Update(p *QueuedPod) bool { return q.h.update(p, q.keyOf(p)) }
func (q *heapPolicy[K]) Delete(key string) bool   { return q.h.remove(key) }
func (q *heapPolicy[K]) Len() int                 { return q.h.Len() }

// creationSeconds is the pod's creationTimestamp in Unix seconds (the API
// stores it with 1-second precision, so finer parts are dropped). A pod
// without one (not created through the API server) counts as created when
// it entered the queue (Added); with neither it counts as created at the
// Unix epoch.
func creationSeconds(p *QueuedPod) int64 {
	var t time.Time
	if p.Pod != nil {
		t = p.Pod.CreationTimestamp.Time
	}
	if t.IsZero() {
		t = p.Added
	}
	if t.IsZero() {
		return 0
	}
	return t.Unix() // rounds down
}
