package queue

import (
	"fmt"
	"slices"
	"testing"
)

func TestRoundRobin(t *testing.T) {
	byNS := RoundRobinConfig{}
	byTeam := RoundRobinConfig{QueueLabel: "team"}
	cases := []struct {
		cfg RoundRobinConfig
		ptCase
	}{
		{byNS, ptCase{name: "empty", steps: []ptStep{ptPop("", 0), ptDelete("a/x", false, 0)}}},
		{byNS, ptCase{
			name: "alternates between namespaces, FCFS within each",
			pods: []*QueuedPod{
				ptQP("a", "3", 3, 1), ptQP("a", "1", 1, 2), ptQP("a", "2", 2, 3),
				ptQP("a", "4", 4, 4), ptQP("b", "2", 2, 5), ptQP("b", "1", 1, 6),
			},
			want: []string{"a/1", "b/1", "a/2", "b/2", "a/3", "a/4"},
		}},
		{byNS, ptCase{
			name: "queues take turns in order of first arrival",
			pods: []*QueuedPod{
				ptQP("c", "1", 0, 1), ptQP("a", "1", 0, 2), ptQP("b", "1", 0, 3),
				ptQP("a", "2", 0, 4), ptQP("c", "2", 0, 5),
			},
			want: []string{"c/1", "a/1", "b/1", "c/2", "a/2"},
		}},
		{byTeam, ptCase{
			name: "label names the queue; without it (or empty) the namespace does",
			pods: []*QueuedPod{
				ptQP("ns1", "x1", 0, 1, ptLabel("team", "x")),
				ptQP("ns2", "x2", 1, 2, ptLabel("team", "x")),
				ptQP("ns1", "plain1", 2, 3),
				ptQP("ns1", "plain2", 3, 4, ptLabel("team", "")),
				ptQP("ns2", "y1", 4, 5, ptLabel("team", "y"), ptLabel("other", "z")),
				ptQP("x", "nsx", 5, 6), // namespace x shares queue x
			},
			// ring: x, ns1, y
			want: []string{"ns1/x1", "ns1/plain1", "ns2/y1", "ns2/x2", "ns1/plain2", "x/nsx"},
		}},
		{byNS, ptCase{
			name: "label ignored without QueueLabel",
			pods: []*QueuedPod{
				ptQP("a", "1", 0, 1, ptLabel("team", "x")),
				ptQP("a", "2", 0, 2, ptLabel("team", "y")),
				ptQP("b", "1", 0, 3, ptLabel("team", "x")),
			},
			want: []string{"a/1", "b/1", "a/2"},
		}},
		{byNS, ptCase{
			name: "a queue that empties leaves the ring and rejoins at the end",
			pods: []*QueuedPod{ptQP("a", "1", 0, 1), ptQP("b", "1", 0, 2), ptQP("c", "1", 0, 3), ptQP("a", "2", 0, 4), ptQP("c", "2", 0, 5)},
			steps: []ptStep{
				ptPop("a/1", 4), ptPop("b/1", 3), // b empty; ring c, a
				ptPush(ptQP("b", "2", 0, 6), 4), // ring c, a, b
			},
			want: []string{"c/1", "a/2", "b/2", "c/2"},
		}},
		{byNS, ptCase{
			name: "a queue emptied by delete is skipped and rejoins at the end",
			pods: []*QueuedPod{ptQP("a", "1", 0, 1), ptQP("b", "1", 0, 2), ptQP("c", "1", 0, 3), ptQP("a", "2", 0, 4)},
			steps: []ptStep{
				ptDelete("a/1", true, 3), ptDelete("a/2", true, 2), // ring b, c
				ptPush(ptQP("a", "3", 0, 5), 3), // ring b, c, a
				ptPush(ptQP("b", "2", 0, 6), 4),
			},
			want: []string{"b/1", "c/1", "a/3", "b/2"},
		}},
		{byNS, ptCase{
			name:  "delete keeps a non-empty queue's turn",
			pods:  []*QueuedPod{ptQP("a", "1", 0, 1), ptQP("a", "2", 1, 2), ptQP("b", "1", 0, 3)},
			steps: []ptStep{ptDelete("a/1", true, 2), ptDelete("a/1", false, 2), ptDelete("b/9", false, 2)},
			want:  []string{"a/2", "b/1"},
		}},
		{byTeam, ptCase{
			name: "update moves a pod to another queue",
			pods: []*QueuedPod{
				ptQP("ns", "x1", 0, 1, ptLabel("team", "x")),
				ptQP("ns", "x2", 1, 2, ptLabel("team", "x")),
				ptQP("ns", "y1", 2, 3, ptLabel("team", "y")),
			},
			steps: []ptStep{
				// x2 joins y: ring x, y; y holds y1 (t2) and x2 (t1).
				ptUpdate(ptQP("ns", "x2", 1, 2, ptLabel("team", "y")), true, 3),
				ptPop("ns/x1", 2), // x empty, leaves
				// y1 moves to a new queue z, which joins after y.
				ptUpdate(ptQP("ns", "y1", 2, 3, ptLabel("team", "z")), true, 2),
				// Label removed: queue ns (new, joins at the end).
				ptPush(ptQP("ns", "w", 0, 4, ptLabel("team", "y")), 3),
				ptUpdate(ptQP("ns", "w", 0, 4), true, 3),
			},
			want: []string{"ns/x2", "ns/y1", "ns/w"},
		}},
		{byTeam, ptCase{
			name: "update moving the last pod of a queue, then its queue comes back",
			pods: []*QueuedPod{
				ptQP("ns", "a", 0, 1, ptLabel("team", "x")),
				ptQP("ns", "b", 0, 2, ptLabel("team", "y")),
			},
			steps: []ptStep{
				ptUpdate(ptQP("ns", "a", 0, 1, ptLabel("team", "z")), true, 2), // ring y, z
				ptPush(ptQP("ns", "c", 0, 3, ptLabel("team", "x")), 3),         // ring y, z, x
				ptUpdate(ptQP("ns", "gone", 0, 9, ptLabel("team", "x")), false, 3),
			},
			want: []string{"ns/b", "ns/a", "ns/c"},
		}},
		{byNS, ptCase{
			name: "update within a queue repositions FCFS",
			pods: []*QueuedPod{ptQP("a", "1", 0, 1), ptQP("a", "2", 5, 2), ptQP("b", "1", 0, 3)},
			steps: []ptStep{
				ptUpdate(ptQP("a", "2", -5, 2), true, 3),
			},
			want: []string{"a/2", "b/1", "a/1"},
		}},
		{byNS, ptCase{
			name:  "pushing a present key replaces it",
			pods:  []*QueuedPod{ptQP("a", "1", 0, 1), ptQP("b", "1", 0, 2)},
			steps: []ptStep{ptPush(ptQP("a", "1", 0, 1), 2)},
			want:  []string{"a/1", "b/1"},
		}},
	}
	for _, tc := range cases {
		ptRun(t, func() Policy { return NewRoundRobin(tc.cfg) }, []ptCase{tc.ptCase})
	}
}

// TestRoundRobinFairShare is the example of the documentation: 100 pods in
// queue A and 5 in B alternate until B is empty.
func TestRoundRobinFairShare(t *testing.T) {
	p := NewRoundRobin(RoundRobinConfig{})
	var seq uint64
	for i := range 100 {
		seq++
		p.Push(ptQP("a", fmt.Sprintf("%03d", i), int64(i), seq))
	}
	for i := range 5 {
		seq++
		p.Push(ptQP("b", fmt.Sprintf("%03d", i), int64(1000+i), seq))
	}
	var want []string
	for i := range 5 {
		want = append(want, fmt.Sprintf("a/%03d", i), fmt.Sprintf("b/%03d", i))
	}
	for i := 5; i < 100; i++ {
		want = append(want, fmt.Sprintf("a/%03d", i))
	}
	if got := ptDrain(p); !slices.Equal(got, want) {
		t.Errorf("order = %v\nwant %v", got, want)
	}
}

// TestRoundRobinRingBounded checks that queues emptied by Delete, with no
// Pop to skip their ring entries, do not make the ring grow without bound.
func TestRoundRobinRingBounded(t *testing.T) {
	p := NewRoundRobin(RoundRobinConfig{}).(*roundRobin)
	p.Push(ptQP("keep", "1", 0, 0))
	for i := range 10_000 {
		qp := ptQP(fmt.Sprintf("ns%d", i%7), "p", 0, uint64(i+1))
		p.Push(qp)
		if !p.Delete(qp.Key) {
			t.Fatalf("Delete(%s) = false", qp.Key)
		}
	}
	if n := len(p.ring) - p.head; n > 64 {
		t.Errorf("ring holds %d entries for 1 queue", n)
	}
	if got := ptDrain(p); !slices.Equal(got, []string{"keep/1"}) {
		t.Errorf("drained %v", got)
	}
	// Rotations without deletes keep the slice small too.
	for i := range 50 {
		p.Push(ptQP(fmt.Sprintf("ns%d", i), "p", 0, uint64(i)))
	}
	for range 10_000 {
		qp := p.Pop()
		p.Push(qp)
	}
	if cap(p.ring) > 1024 {
		t.Errorf("ring capacity %d for 50 queues", cap(p.ring))
	}
}
