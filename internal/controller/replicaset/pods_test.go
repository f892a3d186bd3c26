package replicaset

import (
	"encoding/json"
	"errors"
	"reflect"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/strategicpatch"
)

func TestSlowStart(t *testing.T) {
	fail := errors.New("boom")
	cases := []struct {
		name      string
		count     int
		failAt    int // index of the call that fails; -1 for none
		attempted int
		batches   []int
	}{
		{name: "zero", count: 0, failAt: -1, attempted: 0},
		{name: "one", count: 1, failAt: -1, attempted: 1, batches: []int{1}},
		{name: "ten", count: 10, failAt: -1, attempted: 10, batches: []int{1, 2, 4, 3}},
		{name: "500", count: 500, failAt: -1, attempted: 500, batches: []int{1, 2, 4, 8, 16, 32, 64, 128, 245}},
		{name: "first fails", count: 10, failAt: 0, attempted: 1, batches: []int{1}},
		{name: "fails in third batch", count: 10, failAt: 4, attempted: 7, batches: []int{1, 2, 4}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			// batchStart[i] is the first index of the batch call i belongs to:
			// when call i starts, every call of earlier batches must be done.
			var batchStart []int
			for _, b := range tc.batches {
				start := len(batchStart)
				for range b {
					batchStart = append(batchStart, start)
				}
			}
			var calls, finished atomic.Int32
			var mu sync.Mutex
			var violations []int
			attempted, err := slowStart(tc.count, 1, 8, func(i int) error {
				calls.Add(1)
				defer finished.Add(1)
				if i >= len(batchStart) || int(finished.Load()) < batchStart[i] {
					mu.Lock()
					violations = append(violations, i)
					mu.Unlock()
				}
				if i == tc.failAt {
					return fail
				}
				return nil
			})
			if attempted != tc.attempted {
				t.Errorf("attempted = %d, want %d", attempted, tc.attempted)
			}
			if (err != nil) != (tc.failAt >= 0) {
				t.Errorf("err = %v", err)
			}
			if int(calls.Load()) != tc.attempted {
				t.Errorf("%d calls, want %d", calls.Load(), tc.attempted)
			}
			if len(violations) > 0 {
				t.Errorf("calls %v started before the previous batch finished (batches %v)", violations, tc.batches)
			}
		})
	}
}

func TestParallelBoundsInFlight(t *testing.T) {
	var cur, peak, total atomic.Int32
	err := parallel(100, 7, func(int) error {
		n := cur.Add(1)
		for {
			p := peak.Load()
			if n <= p || peak.CompareAndSwap(p, n) {
				break
			}
		}
		time.Sleep(time.Millisecond)
		cur.Add(-1)
		total.Add(1)
		return nil
	})
	if err != nil || total.Load() != 100 {
		t.Fatalf("err = %v, calls = %d", err, total.Load())
	}
	if peak.Load() > 7 || peak.Load() < 2 {
		t.Errorf("peak in flight = %d, want 2..7", peak.Load())
	}
}

func TestNewPod(t *testing.T) {
	rs := testRS(1)
	rs.Spec.Template.Annotations = map[string]string{"a": "b"}
	p := newPod(rs)
	if p.GenerateName != "web-" || p.Name != "" || p.Namespace != "ns" {
		t.Errorf("name = %q/%q/%q", p.Namespace, p.Name, p.GenerateName)
	}
	if !reflect.DeepEqual(p.Labels, rs.Spec.Template.Labels) || !reflect.DeepEqual(p.Annotations, rs.Spec.Template.Annotations) {
		t.Errorf("labels/annotations = %v %v", p.Labels, p.Annotations)
	}
	ref := metav1.GetControllerOf(p)
	if ref == nil || ref.UID != rs.UID || ref.Kind != "ReplicaSet" || ref.APIVersion != "apps/v1" || ref.Name != "web" ||
		ref.BlockOwnerDeletion == nil || !*ref.BlockOwnerDeletion {
		t.Errorf("controller ref = %+v", ref)
	}
	p.Labels["x"] = "y"
	p.Spec.Containers[0].Image = "changed"
	if rs.Spec.Template.Labels["x"] != "" || rs.Spec.Template.Spec.Containers[0].Image != "img" {
		t.Error("the pod shares memory with the template")
	}
	rs.Name = "a-very-long-replicaset-name-that-goes-on-and-on-and-on-and-on-forever"
	if got := newPod(rs).GenerateName; len(got) != maxGenerateNamePrefix {
		t.Errorf("generateName %q has length %d, want %d", got, len(got), maxGenerateNamePrefix)
	}
}

func TestOwnerPatches(t *testing.T) {
	rs := testRS(1)
	other := metav1.OwnerReference{APIVersion: "v1", Kind: "ConfigMap", Name: "cm", UID: "cm-uid"}
	p := pod("a")
	p.OwnerReferences = []metav1.OwnerReference{other}
	apply := func(p *corev1.Pod, patch []byte) *corev1.Pod {
		t.Helper()
		doc, err := json.Marshal(p)
		if err != nil {
			t.Fatal(err)
		}
		out, err := strategicpatch.StrategicMergePatch(doc, patch, &corev1.Pod{})
		if err != nil {
			t.Fatalf("patch %s: %v", patch, err)
		}
		var got corev1.Pod
		if err := json.Unmarshal(out, &got); err != nil {
			t.Fatal(err)
		}
		return &got
	}
	adopted := apply(p, adoptPatch(rs, p.UID))
	if ref := metav1.GetControllerOf(adopted); ref == nil || ref.UID != rs.UID || len(adopted.OwnerReferences) != 2 {
		t.Fatalf("after adoption: %+v", adopted.OwnerReferences)
	}
	if adopted.UID != p.UID {
		t.Errorf("uid changed to %q", adopted.UID)
	}
	released := apply(adopted, releasePatch(rs.UID, p.UID))
	if !reflect.DeepEqual(released.OwnerReferences, []metav1.OwnerReference{other}) {
		t.Errorf("after release: %+v", released.OwnerReferences)
	}
}
