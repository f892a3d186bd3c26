package queue

import "testing"

func TestPriority(t *testing.T) {
	cases := []ptCase{
		{name: "empty", steps: []ptStep{ptPop("", 0)}},
		{
			name: "higher first, nil is 0, negative below",
			pods: []*QueuedPod{
				ptQP("ns", "zero", 0, 1, ptPrio(0)),
				ptQP("ns", "nil", 1, 2),
				ptQP("ns", "neg", 0, 3, ptPrio(-5)),
				ptQP("ns", "high", 9, 4, ptPrio(1000)),
				ptQP("ns", "max", 20, 5, ptPrio(2_000_001_000)),
				ptQP("ns", "min", -9, 6, ptPrio(-2_147_483_648)),
			},
			want: []string{"ns/max", "ns/high", "ns/zero", "ns/nil", "ns/neg", "ns/min"},
		},
		{
			name: "equal priority: creation, then seq",
			pods: []*QueuedPod{
				ptQP("ns", "c", 2, 1, ptPrio(10)),
				ptQP("ns", "b2", 1, 9, ptPrio(10)),
				ptQP("ns", "b1", 1, 8, ptPrio(10), ptNanos(999_000_000)),
				ptQP("ns", "a", 0, 99, ptPrio(10)),
				ptQP("ns", "low", -100, 0, ptPrio(9)),
			},
			want: []string{"ns/a", "ns/b1", "ns/b2", "ns/c", "ns/low"},
		},
		{
			name: "update raises and lowers priority",
			pods: []*QueuedPod{
				ptQP("ns", "a", 0, 1),
				ptQP("ns", "b", 1, 2),
				ptQP("ns", "c", 2, 3, ptPrio(5)),
			},
			steps: []ptStep{
				ptUpdate(ptQP("ns", "b", 1, 2, ptPrio(100)), true, 3),
				ptUpdate(ptQP("ns", "c", 2, 3, ptNoPrio()), true, 3),
				ptUpdate(ptQP("ns", "d", 2, 4, ptPrio(100)), false, 3),
			},
			want: []string{"ns/b", "ns/a", "ns/c"},
		},
		{
			name: "delete and interleaved pops",
			pods: []*QueuedPod{
				ptQP("ns", "a", 0, 1, ptPrio(1)),
				ptQP("ns", "b", 0, 2, ptPrio(2)),
				ptQP("ns", "c", 0, 3, ptPrio(3)),
			},
			steps: []ptStep{
				ptDelete("ns/c", true, 2), ptPop("ns/b", 1),
				ptPush(ptQP("ns", "d", 50, 4, ptPrio(1)), 2),
				ptDelete("ns/c", false, 2),
			},
			want: []string{"ns/a", "ns/d"},
		},
	}
	ptRun(t, NewPriority, cases)
}
