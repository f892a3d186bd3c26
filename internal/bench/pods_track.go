package bench

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/berth-dev/berth/internal/controller/endpoints/podaddr"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/tools/cache"
)

// podsPodName names pod i of the pods benchmark.
func podsPodName(i int) string { return fmt.Sprintf("sleep-%03d", i) }

// readyTracker follows the benchmark's pods through an informer (one LIST
// and WATCH of the namespace) and records, per pod, the local time it was
// first seen with condition Ready=True, whether it then had an IP of its
// own (not its node's), and the local time its deletion was seen.
type readyTracker struct {
	index map[string]int // pod name → index; never written after creation

	mu       sync.Mutex
	readyAt  []time.Time // by pod index; zero until seen Ready
	ownIP    []bool      // by pod index; pod IP set and not the host IP
	state    []string    // by pod index; phase and reason while not Ready
	goneAt   []time.Time // by pod index; zero until seen deleted
	ready    int
	gone     int
	allReady chan struct{} // closed once every pod was seen Ready
	allGone  chan struct{} // closed once every pod was seen deleted
}

func newReadyTracker(pods int) *readyTracker {
	t := &readyTracker{index: make(map[string]int, pods), readyAt: make([]time.Time, pods), ownIP: make([]bool, pods),
		state: make([]string, pods), goneAt: make([]time.Time, pods), allReady: make(chan struct{}), allGone: make(chan struct{})}
	for i := range pods {
		t.index[podsPodName(i)] = i
		t.state[i] = "not seen"
	}
	return t
}

// register adds the event handlers to the factory's pod informer.
func (t *readyTracker) register(f informers.SharedInformerFactory) error {
	_, err := f.Core().V1().Pods().Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(obj any) { t.record(obj, false) },
		UpdateFunc: func(_, cur any) { t.record(cur, false) },
		DeleteFunc: func(obj any) { t.record(obj, true) },
	})
	if err != nil {
		return fmt.Errorf("bench: pod handler: %w", err)
	}
	return nil
}

// record notes what an event delivered: a benchmark pod first seen Ready,
// its state while it is not, or its deletion. The time is taken first,
// before any locking.
func (t *readyTracker) record(obj any, deleted bool) {
	now := time.Now()
	if tomb, isTomb := obj.(cache.DeletedFinalStateUnknown); isTomb {
		obj = tomb.Obj
	}
	pod, isPod := obj.(*corev1.Pod)
	if !isPod {
		return
	}
	i, ours := t.index[pod.Name]
	if !ours {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	switch {
	case deleted && t.goneAt[i].IsZero():
		t.goneAt[i] = now
		if t.gone++; t.gone == len(t.goneAt) {
			close(t.allGone)
		}
	case deleted || !t.readyAt[i].IsZero():
		// Seen deleted before, or Ready before: nothing new.
	case !podaddr.IsReady(pod):
		t.state[i] = podState(pod)
	default:
		t.readyAt[i], t.state[i] = now, "Ready"
		t.ownIP[i] = pod.Status.PodIP != "" && pod.Status.PodIP != pod.Status.HostIP
		if t.ready++; t.ready == len(t.readyAt) {
			close(t.allReady)
		}
	}
}

// podState sums up a pod that is not Ready: its phase and the reason its
// first container, or the pod, gives.
func podState(pod *corev1.Pod) string {
	phase := string(pod.Status.Phase)
	if phase == "" {
		phase = "no phase"
	}
	if pod.Spec.NodeName == "" {
		return phase + " (unbound)"
	}
	reason := pod.Status.Reason
	if len(pod.Status.ContainerStatuses) == 0 && reason == "" {
		reason = "bound, no container status yet"
	}
	if len(pod.Status.ContainerStatuses) > 0 {
		switch st := pod.Status.ContainerStatuses[0].State; {
		case st.Waiting != nil:
			reason = st.Waiting.Reason
		case st.Terminated != nil:
			reason = st.Terminated.Reason
		case st.Running != nil:
			reason = "running, not ready"
		}
	}
	if reason == "" {
		return phase
	}
	return phase + " (" + reason + ")"
}

// counts returns how many pods were seen Ready and deleted.
func (t *readyTracker) counts() (ready, gone int) {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.ready, t.gone
}

// notReady describes the pods not seen Ready yet: how many are in each
// state, most common first, such as "3 Pending (ContainerCreating)".
func (t *readyTracker) notReady() string {
	t.mu.Lock()
	n := map[string]int{}
	for i, at := range t.readyAt {
		if at.IsZero() {
			n[t.state[i]]++
		}
	}
	t.mu.Unlock()
	states := slices.SortedFunc(maps.Keys(n), func(a, b string) int {
		if n[a] != n[b] {
			return n[b] - n[a]
		}
		return strings.Compare(a, b)
	})
	parts := make([]string, len(states))
	for i, s := range states {
		parts[i] = fmt.Sprintf("%d %s", n[s], s)
	}
	return strings.Join(parts, ", ")
}

// snapshot copies the Ready and deletion times and how many pods had an IP
// of their own when they were first seen Ready.
func (t *readyTracker) snapshot() (readyAt, goneAt []time.Time, ownIP int) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, own := range t.ownIP {
		if own {
			ownIP++
		}
	}
	return slices.Clone(t.readyAt), slices.Clone(t.goneAt), ownIP
}
