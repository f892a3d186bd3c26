package bench

import (
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/tools/cache"
)

// schedulerPodPrefix starts the name of every benchmark pod: p-000000 ….
const schedulerPodPrefix = "p-"

// schedulerPodName names pod i of the scheduler benchmark.
func schedulerPodName(i int) string { return fmt.Sprintf("%s%06d", schedulerPodPrefix, i) }

// schedulerPodIndex is the inverse of schedulerPodName; ok is false for
// names it did not produce or indexes outside [0, n).
func schedulerPodIndex(name string, n int) (i int, ok bool) {
	rest, found := strings.CutPrefix(name, schedulerPodPrefix)
	if !found || len(rest) < 6 {
		return 0, false
	}
	i, err := strconv.Atoi(rest)
	if err != nil || i < 0 || i >= n || schedulerPodName(i) != name {
		return 0, false
	}
	return i, true
}

// bindTracker follows the benchmark's pods through an informer (one LIST
// and WATCH of the namespace) and records, per pod, the local time it was
// first seen with spec.nodeName set and the node it named.
type bindTracker struct {
	mu            sync.Mutex
	boundAt       []time.Time // by pod index; zero until seen bound
	node          []string    // by pod index; the node first seen
	unschedulable []bool      // by pod index; PodScheduled=False while unbound
	bound         int
	moved         int           // events naming another node than the first one seen
	done          chan struct{} // closed once every pod was seen bound
}

func newBindTracker(pods int) *bindTracker {
	return &bindTracker{boundAt: make([]time.Time, pods), node: make([]string, pods),
		unschedulable: make([]bool, pods), done: make(chan struct{})}
}

// register adds the event handlers to the factory's pod informer.
func (t *bindTracker) register(f informers.SharedInformerFactory) error {
	if _, err := f.Core().V1().Pods().Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    t.observe,
		UpdateFunc: func(_, cur any) { t.observe(cur) },
	}); err != nil {
		return fmt.Errorf("bench: pod handler: %w", err)
	}
	return nil
}

// observe records a pod's state as an event delivered it; the time is
// taken first, before any locking.
func (t *bindTracker) observe(obj any) {
	now := time.Now()
	pod, ok := obj.(*corev1.Pod)
	if !ok {
		return
	}
	i, ok := schedulerPodIndex(pod.Name, len(t.boundAt))
	if !ok {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	switch {
	case pod.Spec.NodeName == "":
		t.unschedulable[i] = podUnschedulable(pod)
	case t.boundAt[i].IsZero():
		t.boundAt[i], t.node[i], t.unschedulable[i] = now, pod.Spec.NodeName, false
		t.bound++
		if t.bound == len(t.boundAt) {
			close(t.done)
		}
	case t.node[i] != pod.Spec.NodeName:
		t.moved++
	}
}

// podUnschedulable reports whether the scheduler marked the pod
// PodScheduled=False (it fits on no node, for now).
func podUnschedulable(pod *corev1.Pod) bool {
	for _, c := range pod.Status.Conditions {
		if c.Type == corev1.PodScheduled {
			return c.Status == corev1.ConditionFalse
		}
	}
	return false
}

// counts returns how many pods were seen bound and how many unbound ones
// the scheduler marked unschedulable.
func (t *bindTracker) counts() (bound, unschedulable int) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, u := range t.unschedulable {
		if u {
			unschedulable++
		}
	}
	return t.bound, unschedulable
}

// snapshot copies the bind times and nodes.
func (t *bindTracker) snapshot() (boundAt []time.Time, nodes []string, moved int) {
	t.mu.Lock()
	defer t.mu.Unlock()
	return append([]time.Time(nil), t.boundAt...), append([]string(nil), t.node...), t.moved
}
