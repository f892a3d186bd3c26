package noderesources

import (
	"context"
	"slices"
	"testing"

	corev1 "k8s.io/api/core/v1"

	"github.com/berth-dev/berth/internal/scheduler/framework"
)

func TestFitFilter(t *testing.T) {
	// 4 cpu, 8Gi, 20Gi ephemeral storage, 10 pods, 2 GPUs.
	alloc := rl("cpu", "4", "memory", "8Gi", "ephemeral-storage", "20Gi", "pods", "10", "nvidia.com/gpu", "2")
	tests := []struct {
		name    string
		node    *framework.NodeInfo
		pod     *corev1.Pod
		code    framework.Code
		reasons []string
	}{
		{
			name: "fits on empty node",
			node: node(alloc),
			pod:  pod(rl("cpu", "1", "memory", "2Gi")),
		},
		{
			name: "fits exactly",
			node: node(alloc, pod(rl("cpu", "3", "memory", "6Gi"))),
			pod:  pod(rl("cpu", "1", "memory", "2Gi", "ephemeral-storage", "20Gi", "nvidia.com/gpu", "2")),
		},
		{
			name:    "insufficient cpu",
			node:    node(alloc, pod(rl("cpu", "3500m"))),
			pod:     pod(rl("cpu", "1", "memory", "1Gi")),
			code:    framework.Unschedulable,
			reasons: []string{"Insufficient cpu"},
		},
		{
			name:    "insufficient memory",
			node:    node(alloc, pod(rl("memory", "7Gi"))),
			pod:     pod(rl("cpu", "1", "memory", "2Gi")),
			code:    framework.Unschedulable,
			reasons: []string{"Insufficient memory"},
		},
		{
			name:    "insufficient ephemeral-storage",
			node:    node(alloc, pod(rl("ephemeral-storage", "15Gi"))),
			pod:     pod(rl("ephemeral-storage", "10Gi")),
			code:    framework.Unschedulable,
			reasons: []string{"Insufficient ephemeral-storage"},
		},
		{
			name: "too many pods",
			node: node(rl("cpu", "4", "memory", "8Gi", "pods", "2"), pod(), pod()),
			pod:  pod(rl("cpu", "1")),
			code: framework.Unschedulable, reasons: []string{"Too many pods"},
		},
		{
			name: "one pod slot left",
			node: node(rl("cpu", "4", "memory", "8Gi", "pods", "2"), pod()),
			pod:  pod(rl("cpu", "1")),
		},
		{
			name: "node without pod capacity",
			node: node(rl("cpu", "4", "memory", "8Gi")),
			pod:  pod(),
			code: framework.Unschedulable, reasons: []string{"Too many pods"},
		},
		{
			name:    "insufficient extended resource",
			node:    node(alloc, pod(rl("nvidia.com/gpu", "1"))),
			pod:     pod(rl("cpu", "1", "nvidia.com/gpu", "2")),
			code:    framework.Unschedulable,
			reasons: []string{"Insufficient nvidia.com/gpu"},
		},
		{
			name:    "extended resource the node does not have",
			node:    node(alloc),
			pod:     pod(rl("example.com/fpga", "1")),
			code:    framework.Unschedulable,
			reasons: []string{"Insufficient example.com/fpga"},
		},
		{
			name: "hugepages",
			node: node(rl("cpu", "4", "memory", "8Gi", "pods", "10", "hugepages-2Mi", "64Mi")),
			pod:  pod(rl("hugepages-2Mi", "128Mi")),
			code: framework.Unschedulable, reasons: []string{"Insufficient hugepages-2Mi"},
		},
		{
			name: "zero extended request on a node without it",
			node: node(alloc),
			pod:  pod(rl("cpu", "1", "example.com/fpga", "0")),
		},
		{
			name: "several reasons in a fixed order",
			node: node(rl("cpu", "1", "memory", "1Gi", "pods", "1"), pod()),
			pod:  pod(rl("cpu", "2", "memory", "2Gi", "ephemeral-storage", "1Gi", "nvidia.com/gpu", "1", "example.com/fpga", "1")),
			code: framework.Unschedulable,
			reasons: []string{"Too many pods", "Insufficient cpu", "Insufficient memory",
				"Insufficient ephemeral-storage", "Insufficient example.com/fpga", "Insufficient nvidia.com/gpu"},
		},
		{
			name: "zero requests fit an overcommitted node",
			node: node(alloc, pod(rl("cpu", "6", "memory", "12Gi", "ephemeral-storage", "30Gi", "nvidia.com/gpu", "3"))),
			pod:  pod(rl("cpu", "0")),
		},
		{
			name:    "overcommitted node rejects a small request",
			node:    node(alloc, pod(rl("cpu", "6"))),
			pod:     pod(rl("cpu", "1m")),
			code:    framework.Unschedulable,
			reasons: []string{"Insufficient cpu"},
		},
		{
			name:    "init container larger than the containers",
			node:    node(alloc),
			pod:     withInit(pod(rl("cpu", "1")), rl("cpu", "5")),
			code:    framework.Unschedulable,
			reasons: []string{"Insufficient cpu"},
		},
	}
	ctx := context.Background()
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := NewFit()
			state := framework.NewCycleState()
			if st := p.PreFilter(ctx, state, tc.pod, []*framework.NodeInfo{tc.node}); !st.IsSuccess() {
				t.Fatalf("PreFilter: %v", st.AsError())
			}
			st := p.Filter(ctx, state, tc.pod, tc.node)
			if st.Code() != tc.code {
				t.Errorf("code = %v, want %v (%q)", st.Code(), tc.code, st.Message())
			}
			if !slices.Equal(st.Reasons(), tc.reasons) {
				t.Errorf("reasons = %q, want %q", st.Reasons(), tc.reasons)
			}
		})
	}
}

func TestFitFilterWithoutPreFilter(t *testing.T) {
	st := NewFit().Filter(context.Background(), framework.NewCycleState(), pod(), node(rl("pods", "1")))
	if st.Code() != framework.Error {
		t.Fatalf("code = %v, want Error", st.Code())
	}
}

func TestFitStateClone(t *testing.T) {
	state := framework.NewCycleState()
	p := pod(rl("cpu", "1"))
	NewFit().PreFilter(context.Background(), state, p, nil)
	c := state.Clone()
	if st := NewFit().Filter(context.Background(), c, p, node(rl("cpu", "1", "pods", "1"))); !st.IsSuccess() {
		t.Fatalf("Filter on cloned state: %v", st.AsError())
	}
}

func TestFitFilterDoesNotAllocate(t *testing.T) {
	ctx := context.Background()
	alloc := rl("cpu", "4", "memory", "8Gi", "pods", "10", "nvidia.com/gpu", "2")
	for _, p := range []*corev1.Pod{
		pod(rl("cpu", "1", "memory", "2Gi")),
		pod(),
		pod(rl("cpu", "1", "nvidia.com/gpu", "1")),
	} {
		n := node(alloc, pod(rl("cpu", "1")))
		f := NewFit()
		state := framework.NewCycleState()
		f.PreFilter(ctx, state, p, nil)
		allocs := testing.AllocsPerRun(100, func() {
			if st := f.Filter(ctx, state, p, n); st != nil {
				t.Fatalf("Filter: %v", st.AsError())
			}
		})
		if allocs != 0 {
			t.Errorf("Filter allocates %v times per call, want 0", allocs)
		}
	}
}

func BenchmarkFitFilter(b *testing.B) {
	ctx := context.Background()
	var pods []*corev1.Pod
	for range 10 {
		pods = append(pods, pod(rl("cpu", "250m", "memory", "512Mi")))
	}
	n := node(rl("cpu", "16", "memory", "64Gi", "ephemeral-storage", "100Gi", "pods", "110"), pods...)
	p := pod(rl("cpu", "500m", "memory", "1Gi"), rl("cpu", "100m", "memory", "128Mi"))
	f := NewFit()
	state := framework.NewCycleState()
	f.PreFilter(ctx, state, p, nil)
	b.ReportAllocs()
	for b.Loop() {
		if st := f.Filter(ctx, state, p, n); st != nil {
			b.Fatal(st.AsError())
		}
	}
}

func BenchmarkFitFilterRejected(b *testing.B) {
	ctx := context.Background()
	n := node(rl("cpu", "1", "memory", "64Gi", "pods", "110"), pod(rl("cpu", "1")))
	p := pod(rl("cpu", "500m", "memory", "1Gi"))
	f := NewFit()
	state := framework.NewCycleState()
	f.PreFilter(ctx, state, p, nil)
	b.ReportAllocs()
	for b.Loop() {
		if st := f.Filter(ctx, state, p, n); st.Code() != framework.Unschedulable {
			b.Fatal(st.Code())
		}
	}
}
