package noderesources

import (
	"context"
	"math/rand/v2"
	"testing"

	corev1 "k8s.io/api/core/v1"

	"github.com/berth-dev/berth/internal/scheduler/framework"
)

// scorer is a score plugin with its pre-score.
type scorer interface {
	framework.PreScorePlugin
	framework.ScorePlugin
}

// score runs p's PreScore and Score for pod on n.
func score(t testing.TB, p scorer, pd *corev1.Pod, n *framework.NodeInfo) int64 {
	t.Helper()
	ctx := context.Background()
	state := framework.NewCycleState()
	if st := p.PreScore(ctx, state, pd, []*framework.NodeInfo{n}); !st.IsSuccess() {
		t.Fatalf("%s PreScore: %v", p.Name(), st.AsError())
	}
	s, st := p.Score(ctx, state, pd, n)
	if !st.IsSuccess() {
		t.Fatalf("%s Score: %v", p.Name(), st.AsError())
	}
	return s
}

func TestAllocationScores(t *testing.T) {
	alloc := rl("cpu", "4", "memory", "8Gi", "pods", "110")
	tests := []struct {
		name                  string
		node                  *framework.NodeInfo
		pod                   *corev1.Pod
		least, most, balanced int64
	}{
		{
			// cpu 1/4, memory 2/8: both a quarter used.
			name: "empty node", node: node(alloc), pod: pod(rl("cpu", "1", "memory", "2Gi")),
			least: 75, most: 25, balanced: 100,
		},
		{
			// cpu 2/4, memory 4/8.
			name: "node with a pod", node: node(alloc, pod(rl("cpu", "1", "memory", "2Gi"))), pod: pod(rl("cpu", "1", "memory", "2Gi")),
			least: 50, most: 50, balanced: 100,
		},
		{
			// cpu 2/4 = .5, memory 1/8 = .125: least (50+87)/2, most (50+12)/2,
			// balanced (1 - .1875) * 100 = 81.25.
			name: "uneven pod", node: node(alloc), pod: pod(rl("cpu", "2", "memory", "1Gi")),
			least: 68, most: 31, balanced: 81,
		},
		{
			// Defaults 100m and 200Mi: cpu .025, memory 200/8192 = .0244...
			name: "best-effort pod uses the default requests", node: node(alloc), pod: pod(nil),
			least: 97, most: 2, balanced: 99,
		},
		{
			// Init container (3 cpu) outweighs the container (1 cpu): cpu 3/4,
			// memory 200Mi default / 8Gi.
			name: "init container", node: node(alloc), pod: withInit(pod(rl("cpu", "1")), rl("cpu", "3")),
			least: (25 + 97) / 2, most: (75 + 2) / 2, balanced: 63,
		},
		{
			// Existing pod: 3 cpu and the 200Mi default memory. cpu 4/4 = 1,
			// memory 2248Mi/8192Mi = .2744: std .3628.
			name: "unbalanced node", node: node(alloc, pod(rl("cpu", "3"))), pod: pod(rl("cpu", "1", "memory", "2Gi")),
			least: (0 + 72) / 2, most: (100 + 27) / 2, balanced: 63,
		},
		{
			// Requested above allocatable is capped.
			name: "overcommitted node", node: node(alloc, pod(rl("cpu", "6", "memory", "12Gi"))), pod: pod(rl("cpu", "1", "memory", "1Gi")),
			least: 0, most: 100, balanced: 100,
		},
		{
			// Memory allocatable 0 scores 0 for memory (least, most) and is
			// left out of the deviation (balanced), as in Kubernetes.
			name: "no allocatable memory", node: node(rl("cpu", "4", "pods", "110")), pod: pod(rl("cpu", "1", "memory", "2Gi")),
			least: 37, most: 12, balanced: 100,
		},
		{
			name: "nothing allocatable", node: node(rl("pods", "110")), pod: pod(rl("cpu", "1", "memory", "2Gi")),
			least: 0, most: 0, balanced: 100,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := score(t, NewLeastAllocated(), tc.pod, tc.node); got != tc.least {
				t.Errorf("least = %d, want %d", got, tc.least)
			}
			if got := score(t, NewMostAllocated(), tc.pod, tc.node); got != tc.most {
				t.Errorf("most = %d, want %d", got, tc.most)
			}
			if got := score(t, NewBalancedAllocation(), tc.pod, tc.node); got != tc.balanced {
				t.Errorf("balanced = %d, want %d", got, tc.balanced)
			}
		})
	}
}

func TestAllocationScoresInRange(t *testing.T) {
	rnd := rand.New(rand.NewPCG(1, 2))
	plugins := []scorer{NewLeastAllocated(), NewMostAllocated(), NewBalancedAllocation()}
	for range 2000 {
		n := framework.NewNodeInfo(&corev1.Node{})
		n.Allocatable = framework.Resource{MilliCPU: rnd.Int64N(64000), Memory: rnd.Int64N(1 << 40)}
		n.NonZeroRequested = framework.Resource{MilliCPU: rnd.Int64N(128000), Memory: rnd.Int64N(1 << 41)}
		p := pod(nil)
		for _, pl := range plugins {
			if s := score(t, pl, p, n); s < framework.MinNodeScore || s > framework.MaxNodeScore {
				t.Fatalf("%s scored %d for allocatable %+v requested %+v", pl.Name(), s, n.Allocatable, n.NonZeroRequested)
			}
		}
	}
}

func TestAllocationScoreWithoutPreScore(t *testing.T) {
	for _, p := range []scorer{NewLeastAllocated(), NewMostAllocated(), NewBalancedAllocation()} {
		_, st := p.Score(context.Background(), framework.NewCycleState(), pod(), node(rl("cpu", "1")))
		if st.Code() != framework.Error {
			t.Errorf("%s: code = %v, want Error", p.Name(), st.Code())
		}
	}
}

func TestAllocationNames(t *testing.T) {
	for p, want := range map[framework.Plugin]string{
		NewFit():                "NodeResourcesFit",
		NewLeastAllocated():     "NodeResourcesLeastAllocated",
		NewMostAllocated():      "NodeResourcesMostAllocated",
		NewBalancedAllocation(): "NodeResourcesBalancedAllocation",
	} {
		if p.Name() != want {
			t.Errorf("Name() = %q, want %q", p.Name(), want)
		}
	}
}

func TestAllocationScoreDoesNotAllocate(t *testing.T) {
	ctx := context.Background()
	n := node(rl("cpu", "4", "memory", "8Gi", "pods", "110"), pod(rl("cpu", "1")))
	p := pod(rl("cpu", "1", "memory", "1Gi"))
	for _, pl := range []scorer{NewLeastAllocated(), NewMostAllocated(), NewBalancedAllocation()} {
		state := framework.NewCycleState()
		pl.PreScore(ctx, state, p, nil)
		allocs := testing.AllocsPerRun(100, func() {
			if _, st := pl.Score(ctx, state, p, n); st != nil {
				t.Fatalf("Score: %v", st.AsError())
			}
		})
		if allocs != 0 {
			t.Errorf("%s Score allocates %v times per call, want 0", pl.Name(), allocs)
		}
	}
}

func BenchmarkLeastAllocatedScore(b *testing.B) {
	ctx := context.Background()
	var pods []*corev1.Pod
	for range 10 {
		pods = append(pods, pod(rl("cpu", "250m", "memory", "512Mi")))
	}
	n := node(rl("cpu", "16", "memory", "64Gi", "pods", "110"), pods...)
	p := pod(rl("cpu", "500m", "memory", "1Gi"))
	pl := NewLeastAllocated()
	state := framework.NewCycleState()
	pl.PreScore(ctx, state, p, nil)
	b.ReportAllocs()
	for b.Loop() {
		if _, st := pl.Score(ctx, state, p, n); st != nil {
			b.Fatal(st.AsError())
		}
	}
}
