package queue

import (
	"context"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

// sqClock is a manual clock for the scheduling queue tests.
type sqClock struct{ t time.Time }

func (c *sqClock) now() time.Time { return c.t }

func sqPod(name, profile string) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: name, UID: types.UID(name)},
		Spec:       corev1.PodSpec{SchedulerName: profile},
	}
}

func newSQ(clk *sqClock, profiles ...string) *SchedulingQueue {
	pols := map[string]Policy{}
	for _, p := range profiles {
		pols[p] = NewFCFS()
	}
	return NewSchedulingQueue(Config{InitialBackoff: time.Second, MaxBackoff: 4 * time.Second, MaxUnschedulable: time.Minute, Now: clk.now}, pols)
}

func mustPop(t *testing.T, q *SchedulingQueue) (*QueuedPod, string, int64) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	qp, prof, cycle, err := q.Pop(ctx)
	if err != nil {
		t.Fatalf("pop: %v", err)
	}
	return qp, prof, cycle
}

func expectEmpty(t *testing.T, q *SchedulingQueue) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if qp, _, _, err := q.Pop(ctx); err == nil {
		t.Fatalf("popped %s, want nothing ready", qp.Key)
	}
}

func TestProfilesServedInTurn(t *testing.T) {
	clk := &sqClock{t: time.Unix(1000, 0)}
	q := newSQ(clk, "a", "b")
	for _, p := range []*corev1.Pod{sqPod("a1", "a"), sqPod("a2", "a"), sqPod("a3", "a"), sqPod("b1", "b")} {
		if err := q.Add(p); err != nil {
			t.Fatal(err)
		}
	}
	if err := q.Add(sqPod("x", "unknown")); err == nil {
		t.Fatal("pod of an unknown profile was queued")
	}
	var got []string
	for range 4 {
		qp, prof, _ := mustPop(t, q)
		got = append(got, prof+":"+qp.Pod.Name)
	}
	want := []string{"a:a1", "b:b1", "a:a2", "a:a3"}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("pop order %v, want %v", got, want)
		}
	}
}

func TestUnschedulableWaitsForMove(t *testing.T) {
	clk := &sqClock{t: time.Unix(1000, 0)}
	q := newSQ(clk, "p")
	_ = q.Add(sqPod("a", "p"))
	qp, _, cycle := mustPop(t, q)
	q.AddUnschedulable(qp, cycle)
	q.Flush()
	expectEmpty(t, q)
	if c := q.Counts()["p"]; c.Unschedulable != 1 {
		t.Fatalf("counts %+v, want 1 unschedulable", c)
	}
	// A status-only update does not retry it; a spec change does.
	up := qp.Pod.DeepCopy()
	up.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodScheduled, Status: corev1.ConditionFalse}}
	q.Update(up)
	if c := q.Counts()["p"]; c.Unschedulable != 1 {
		t.Fatalf("status update moved the pod: %+v", c)
	}
	// The move comes within the back-off (1 s after 1 failure): back-off first.
	clk.t = clk.t.Add(500 * time.Millisecond)
	if n := q.MoveAll(); n != 1 {
		t.Fatalf("MoveAll moved %d, want 1", n)
	}
	q.Flush()
	expectEmpty(t, q)
	clk.t = clk.t.Add(600 * time.Millisecond)
	q.Flush()
	qp2, _, cycle2 := mustPop(t, q)
	if qp2.Attempts != 1 || qp2.Pod != up {
		t.Fatalf("attempts %d, pod updated %v", qp2.Attempts, qp2.Pod == up)
	}
	// Second failure: back-off 2 s; a move long after goes straight to active.
	q.AddUnschedulable(qp2, cycle2)
	clk.t = clk.t.Add(3 * time.Second)
	q.MoveAll()
	mustPop(t, q)
}

func TestMoveDuringAttemptRetries(t *testing.T) {
	clk := &sqClock{t: time.Unix(1000, 0)}
	q := newSQ(clk, "p")
	_ = q.Add(sqPod("a", "p"))
	qp, _, cycle := mustPop(t, q)
	q.MoveAll() // a node joined while the pod was being tried
	q.AddUnschedulable(qp, cycle)
	if c := q.Counts()["p"]; c.Unschedulable != 0 || c.Backoff != 1 {
		t.Fatalf("counts %+v, want the pod backing off, not parked", c)
	}
}

func TestMaxUnschedulableRetries(t *testing.T) {
	clk := &sqClock{t: time.Unix(1000, 0)}
	q := newSQ(clk, "p")
	_ = q.Add(sqPod("a", "p"))
	qp, _, cycle := mustPop(t, q)
	q.AddUnschedulable(qp, cycle)
	clk.t = clk.t.Add(59 * time.Second)
	q.Flush()
	expectEmpty(t, q)
	clk.t = clk.t.Add(2 * time.Second)
	q.Flush()
	mustPop(t, q)
}

func TestBackoffDoublesToMax(t *testing.T) {
	q := newSQ(&sqClock{}, "p")
	for attempts, want := range map[int]time.Duration{1: time.Second, 2: 2 * time.Second, 3: 4 * time.Second, 4: 4 * time.Second, 10: 4 * time.Second} {
		if got := q.backoffFor(attempts); got != want {
			t.Errorf("backoff after %d failures = %v, want %v", attempts, got, want)
		}
	}
}

func TestDeleteAndUpdateInFlight(t *testing.T) {
	clk := &sqClock{t: time.Unix(1000, 0)}
	q := newSQ(clk, "p")
	_ = q.Add(sqPod("a", "p"))
	_ = q.Add(sqPod("b", "p"))
	qa, _, ca := mustPop(t, q)
	q.Delete(qa.Pod) // deleted while being scheduled
	q.AddUnschedulable(qa, ca)
	if q.Has("ns/a") {
		t.Fatal("deleted pod came back")
	}
	qb, _, _ := mustPop(t, q)
	newer := qb.Pod.DeepCopy()
	newer.Labels = map[string]string{"x": "y"}
	q.Update(newer)
	if qb.Pod == newer {
		t.Fatal("in-flight pod object replaced under the scheduler")
	}
	q.AddBackoff(qb)
	if qb.Pod != newer {
		t.Fatal("update during the attempt was lost")
	}
	q.Done("ns/b") // Done of a pod no longer in flight is a no-op
	if !q.Has("ns/b") {
		t.Fatal("Done removed a backing-off pod")
	}
	q.Delete(newer)
	if q.Has("ns/b") || q.backoffQ.Len() != 0 {
		t.Fatal("delete left the pod in back-off")
	}
}

func TestPopUnblocksOnCancelAndClose(t *testing.T) {
	q := newSQ(&sqClock{t: time.Unix(0, 0)}, "p")
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { _, _, _, err := q.Pop(ctx); errc <- err }()
	time.Sleep(10 * time.Millisecond)
	cancel()
	if err := <-errc; err == nil {
		t.Fatal("Pop returned without error after cancel")
	}
	go func() { _, _, _, err := q.Pop(context.Background()); errc <- err }()
	time.Sleep(10 * time.Millisecond)
	q.Close()
	if err := <-errc; err != ErrClosed {
		t.Fatalf("Pop after Close: %v, want ErrClosed", err)
	}
}
