package queue

import "testing"

func TestFCFS(t *testing.T) {
	a := ptQP("ns", "a", 0, 3)
	b := ptQP("ns", "b", 5, 1)
	c := ptQP("ns", "c", 10, 2)
	cases := []ptCase{
		{name: "empty", steps: []ptStep{ptPop("", 0), ptDelete("ns/x", false, 0)}},
		{
			name: "creation order, not push or seq order",
			pods: []*QueuedPod{c, a, b},
			want: []string{"ns/a", "ns/b", "ns/c"},
		},
		{
			name: "same second: seq decides, sub-second part ignored",
			pods: []*QueuedPod{
				ptQP("ns", "late-ns", 0, 2, ptNanos(100_000_000)),
				ptQP("ns", "early-ns", 0, 1, ptNanos(900_000_000)),
				ptQP("ns", "s3", 0, 3),
				ptQP("ns", "prev-second", -1, 9, ptNanos(999_999_999)),
			},
			want: []string{"ns/prev-second", "ns/early-ns", "ns/late-ns", "ns/s3"},
		},
		{
			name: "other namespaces interleave by time",
			pods: []*QueuedPod{ptQP("y", "p", 2, 1), ptQP("x", "p", 1, 2), ptQP("z", "p", 3, 0)},
			want: []string{"x/p", "y/p", "z/p"},
		},
		{
			name: "missing creationTimestamp uses Added",
			pods: []*QueuedPod{a, b, ptQP("ns", "nots", 99, 0, ptNoCreation(3)), c},
			want: []string{"ns/a", "ns/nots", "ns/b", "ns/c"},
		},
		{
			name: "interleaved push and pop",
			pods: []*QueuedPod{b},
			steps: []ptStep{
				ptPush(c, 2), ptPop("ns/b", 1), ptPush(a, 2), ptPop("ns/a", 1),
				ptPop("ns/c", 0), ptPop("", 0),
			},
		},
		{
			name: "delete",
			pods: []*QueuedPod{a, b, c},
			steps: []ptStep{
				ptDelete("ns/b", true, 2), ptDelete("ns/b", false, 2),
				ptDelete("other/b", false, 2), ptDelete("ns/a", true, 1),
			},
			want: []string{"ns/c"},
		},
		{
			name: "update replaces the object and repositions",
			pods: []*QueuedPod{a, b, c},
			steps: []ptStep{
				// A recreated object (new creation time) moves to the front.
				ptUpdate(ptClone(c, func(q *QueuedPod) { q.Pod.CreationTimestamp.Time = a.Pod.CreationTimestamp.Add(-1e9) }), true, 3),
				ptUpdate(ptQP("ns", "absent", 0, 7), false, 3),
			},
			want: []string{"ns/c", "ns/a", "ns/b"},
		},
		{
			name:  "pushing a present key replaces it",
			pods:  []*QueuedPod{a, b},
			steps: []ptStep{ptPush(ptClone(b, func(q *QueuedPod) { q.Pod.CreationTimestamp.Time = a.Pod.CreationTimestamp.Add(-1e9) }), 2)},
			want:  []string{"ns/b", "ns/a"},
		},
	}
	ptRun(t, NewFCFS, cases)
}

func TestFCFSUpdateReturnsLatestObject(t *testing.T) {
	p := NewFCFS()
	a := ptQP("ns", "a", 0, 1)
	p.Push(a)
	a2 := ptClone(a, ptLabel("v", "2"))
	if !p.Update(a2) {
		t.Fatal("Update = false")
	}
	if got := p.Pop(); got != a2 {
		t.Fatalf("Pop returned %p, want the updated %p", got, a2)
	}
}
