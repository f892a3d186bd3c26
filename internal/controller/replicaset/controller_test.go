package replicaset

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/berth-dev/berth/internal/controller"
	"github.com/berth-dev/berth/internal/controller/expectations"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	apitypes "k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"
)

// harness is a controller on a fake clientset whose informer caches the
// test fills by hand (the informers are never started).
type harness struct {
	t        *testing.T
	c        *Controller
	client   *fake.Clientset
	rsStore  cache.Indexer
	podStore cache.Indexer
	events   *record.FakeRecorder
	creates  atomic.Int32
}

func newHarness(t *testing.T, objs ...runtime.Object) *harness {
	t.Helper()
	h := &harness{t: t, client: fake.NewClientset(objs...), events: record.NewFakeRecorder(1000)}
	var n atomic.Int32
	h.client.PrependReactor("create", "pods", func(a k8stesting.Action) (bool, runtime.Object, error) {
		p := a.(k8stesting.CreateAction).GetObject().(*corev1.Pod)
		if p.Name == "" {
			p.Name = fmt.Sprintf("%s%05d", p.GenerateName, n.Add(1))
		}
		p.UID = apitypes.UID("uid-" + p.Name)
		h.creates.Add(1)
		return false, nil, nil
	})
	f := informers.NewSharedInformerFactory(h.client, 0)
	c, err := New(&controller.Context{Client: h.client, Informers: f, Recorder: h.events,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	h.c = c.(*Controller)
	h.rsStore = f.Apps().V1().ReplicaSets().Informer().GetIndexer()
	h.podStore = f.Core().V1().Pods().Informer().GetIndexer()
	for _, o := range objs {
		switch o := o.(type) {
		case *appsv1.ReplicaSet:
			must(t, h.rsStore.Add(o))
		case *corev1.Pod:
			must(t, h.podStore.Add(o))
		}
	}
	return h
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func (h *harness) reconcile() error { return h.c.reconcile(context.Background(), "ns/web") }

// syncPods copies the pods of the fake API into the cache, firing the add
// handler for new ones, as the informer would.
func (h *harness) syncPods() {
	list, err := h.client.CoreV1().Pods("ns").List(context.Background(), metav1.ListOptions{})
	must(h.t, err)
	for i := range list.Items {
		p := &list.Items[i]
		if _, ok, _ := h.podStore.Get(p); !ok {
			must(h.t, h.podStore.Add(p))
			h.c.addPod(p)
		}
	}
}

func (h *harness) status() appsv1.ReplicaSetStatus {
	rs, err := h.client.AppsV1().ReplicaSets("ns").Get(context.Background(), "web", metav1.GetOptions{})
	must(h.t, err)
	return rs.Status
}

func TestReconcileExpectationsPreventDoubleCreate(t *testing.T) {
	h := newHarness(t, testRS(3))
	must(t, h.reconcile())
	if n := h.creates.Load(); n != 3 {
		t.Fatalf("created %d pods, want 3", n)
	}
	// The cache has not seen the pods yet: a second reconcile must wait.
	must(t, h.reconcile())
	if n := h.creates.Load(); n != 3 {
		t.Fatalf("created %d pods after a second reconcile, want still 3", n)
	}
	h.syncPods()
	if !satisfied(h.c.exp, "ns/web") {
		t.Fatal("expectations not satisfied after the pods were observed")
	}
	must(t, h.reconcile())
	if n := h.creates.Load(); n != 3 {
		t.Fatalf("created %d pods, want 3", n)
	}
	if st := h.status(); st.Replicas != 3 || st.ObservedGeneration != 3 || st.FullyLabeledReplicas != 3 {
		t.Errorf("status = %+v", st)
	}
	pods, _ := h.client.CoreV1().Pods("ns").List(context.Background(), metav1.ListOptions{})
	for _, p := range pods.Items {
		if ref := metav1.GetControllerOf(&p); ref == nil || ref.UID != "rs-uid" || !strings.HasPrefix(p.Name, "web-") {
			t.Errorf("pod %s: controller %+v", p.Name, ref)
		}
	}
}

func TestReconcileScaleDownDeletesRankedPods(t *testing.T) {
	pods := []runtime.Object{
		testRS(1),
		pod("old-ready", owned, readyFor(3600e9)),
		pod("unbound", owned),
		pod("foreign", ownedBy("other")),
		pod("gone", owned, deleting),
	}
	h := newHarness(t, pods...)
	must(t, h.reconcile())
	if _, err := h.client.CoreV1().Pods("ns").Get(context.Background(), "unbound", metav1.GetOptions{}); err == nil {
		t.Error("unbound pod not deleted")
	}
	for _, n := range []string{"old-ready", "foreign", "gone"} {
		if _, err := h.client.CoreV1().Pods("ns").Get(context.Background(), n, metav1.GetOptions{}); err != nil {
			t.Errorf("pod %s: %v", n, err)
		}
	}
	if satisfied(h.c.exp, "ns/web") {
		t.Fatal("deletion not expected")
	}
	// Graceful deletion: the update with deletionTimestamp, then the delete.
	p, _, _ := h.podStore.GetByKey("ns/unbound")
	h.c.deletePod(cache.DeletedFinalStateUnknown{Key: "ns/unbound", Obj: p})
	if !satisfied(h.c.exp, "ns/web") {
		t.Fatal("tombstone did not count as the deletion")
	}
	if st := h.status(); st.Replicas != 2 || st.TerminatingReplicas == nil || *st.TerminatingReplicas != 1 {
		t.Errorf("status = %+v", st)
	}
	if !strings.Contains(drain(h.events), "SuccessfulDelete Deleted pod: unbound") {
		t.Error("no SuccessfulDelete event")
	}
}

func TestReconcileCreateFailure(t *testing.T) {
	h := newHarness(t, testRS(5))
	h.client.PrependReactor("create", "pods", func(k8stesting.Action) (bool, runtime.Object, error) {
		h.creates.Add(1)
		return true, nil, errors.New("quota exceeded")
	})
	if err := h.reconcile(); err == nil {
		t.Fatal("reconcile succeeded although creates fail")
	}
	if n := h.creates.Load(); n != 1 {
		t.Errorf("%d creates attempted, want 1 (slow start stops after the first batch)", n)
	}
	if !satisfied(h.c.exp, "ns/web") {
		t.Error("failed and skipped creations still expected")
	}
	st := h.status()
	if len(st.Conditions) != 1 || st.Conditions[0].Type != appsv1.ReplicaSetReplicaFailure || st.Conditions[0].Reason != "FailedCreate" {
		t.Errorf("conditions = %+v", st.Conditions)
	}
	if ev := drain(h.events); !strings.Contains(ev, "FailedCreate Error creating:") {
		t.Errorf("events = %q", ev)
	}
}

func TestReconcileAdoptsAndReleases(t *testing.T) {
	h := newHarness(t, testRS(2), pod("orphan"), pod("moved", owned, lbl(map[string]string{"app": "other"})))
	must(t, h.reconcile())
	got, err := h.client.CoreV1().Pods("ns").Get(context.Background(), "orphan", metav1.GetOptions{})
	must(t, err)
	if ref := metav1.GetControllerOf(got); ref == nil || ref.UID != "rs-uid" {
		t.Errorf("orphan not adopted: %+v", got.OwnerReferences)
	}
	got, err = h.client.CoreV1().Pods("ns").Get(context.Background(), "moved", metav1.GetOptions{})
	must(t, err)
	if len(got.OwnerReferences) != 0 {
		t.Errorf("non-matching pod not released: %+v", got.OwnerReferences)
	}
	if n := h.creates.Load(); n != 1 {
		t.Errorf("created %d pods, want 1 (the adopted orphan counts)", n)
	}
}

func TestReconcileDeletingReplicaSetDoesNothing(t *testing.T) {
	rs := testRS(3)
	now := metav1.Now()
	rs.DeletionTimestamp = &now
	h := newHarness(t, rs, pod("orphan"))
	must(t, h.reconcile())
	if n := h.creates.Load(); n != 0 {
		t.Errorf("created %d pods for a deleting ReplicaSet", n)
	}
	for _, a := range h.client.Actions() {
		if a.GetVerb() != "list" && a.GetVerb() != "watch" {
			t.Errorf("unexpected API call %s %s", a.GetVerb(), a.GetResource().Resource)
		}
	}
}

func TestPodHandlersEnqueue(t *testing.T) {
	h := newHarness(t, testRS(1))
	drainQueue := func() int {
		// Keys are deduplicated, so the length is the number of distinct
		// ReplicaSets enqueued; a fresh queue empties it.
		n := h.c.queue.Len()
		h.c.queue = controller.NewQueue(Name, h.c.log, h.c.reconcile)
		return n
	}
	orphan := pod("o")
	h.c.addPod(orphan)
	if n := drainQueue(); n != 1 {
		t.Errorf("orphan add enqueued %d keys, want 1", n)
	}
	h.c.addPod(pod("x", lbl(map[string]string{"app": "nope"})))
	if n := drainQueue(); n != 0 {
		t.Errorf("unrelated orphan enqueued %d keys", n)
	}
	h.c.exp.ExpectCreations("ns/web", 1)
	h.c.addPod(pod("mine", owned))
	if n := drainQueue(); n != 1 || !satisfied(h.c.exp, "ns/web") {
		t.Errorf("owned add: %d keys, satisfied %v", n, satisfied(h.c.exp, "ns/web"))
	}
	h.c.addPod(pod("foreign", ownedBy("other")))
	if n := drainQueue(); n != 0 {
		t.Errorf("foreign add enqueued %d keys", n)
	}
	old := pod("mine", owned)
	old.ResourceVersion = "1"
	cur := old.DeepCopy()
	cur.ResourceVersion = "2"
	cur.DeletionTimestamp = &metav1.Time{}
	h.c.exp.ExpectDeletions("ns/web", []string{"ns/mine"})
	h.c.updatePod(old, cur)
	if n := drainQueue(); n != 1 || !satisfied(h.c.exp, "ns/web") {
		t.Errorf("terminating update: %d keys, satisfied %v", n, satisfied(h.c.exp, "ns/web"))
	}
	h.c.updatePod(old, old)
	if n := drainQueue(); n != 0 {
		t.Errorf("resync enqueued %d keys", n)
	}
	h.c.deletePod(cache.DeletedFinalStateUnknown{Key: "ns/mine", Obj: old})
	if n := drainQueue(); n != 1 {
		t.Errorf("tombstone enqueued %d keys", n)
	}
}

func drain(r *record.FakeRecorder) string {
	var b strings.Builder
	for {
		select {
		case e := <-r.Events:
			b.WriteString(e + "\n")
		default:
			return b.String()
		}
	}
}

// satisfied reports whether e lets key act on its cache.
func satisfied(e *expectations.Expectations, key string) bool {
	ok, _ := e.Satisfied(key)
	return ok
}
