package noderesources

import (
	"context"
	"math"

	corev1 "k8s.io/api/core/v1"

	"github.com/berth-dev/berth/internal/scheduler/framework"
)

// Names of the score plugins.
const (
	LeastAllocatedName     = "NodeResourcesLeastAllocated"
	MostAllocatedName      = "NodeResourcesMostAllocated"
	BalancedAllocationName = "NodeResourcesBalancedAllocation"
)

// CycleState keys of the score plugins, one each.
const (
	leastStateKey    framework.StateKey = "PreScore" + LeastAllocatedName
	mostStateKey     framework.StateKey = "PreScore" + MostAllocatedName
	balancedStateKey framework.StateKey = "PreScore" + BalancedAllocationName
)

// allocationState is the pod's non-zero cpu and memory requests (with the
// defaults for containers that request none), computed once per attempt
// by PreScore and never modified afterwards.
type allocationState struct {
	milliCPU, memory int64
}

// Clone returns s: the state is immutable.
func (s *allocationState) Clone() framework.StateData { return s }

// preScore stores the pod's non-zero cpu and memory requests under key.
func preScore(state *framework.CycleState, key framework.StateKey, pod *corev1.Pod) *framework.Status {
	_, nz := framework.PodRequests(pod)
	state.Write(key, &allocationState{milliCPU: nz.MilliCPU, memory: nz.Memory})
	return nil
}

// allocation is a node's cpu and memory: what would be requested with the
// pod placed (non-zero requests) and what is allocatable.
type allocation struct {
	cpu, memory, allocCPU, allocMemory int64
}

// readAllocation returns node's allocation with the pod stored under key
// placed on it; without the state it returns an Error status.
func readAllocation(state *framework.CycleState, key framework.StateKey, plugin string, node *framework.NodeInfo) (allocation, *framework.Status) {
	d, ok := state.Read(key)
	if !ok {
		return allocation{}, framework.NewStatus(framework.Error, plugin+": no pre-score state (PreScore was not run)")
	}
	s, ok := d.(*allocationState)
	if !ok {
		return allocation{}, framework.NewStatus(framework.Error, plugin+": pre-score state has the wrong type")
	}
	return allocation{
		cpu:         max(node.NonZeroRequested.MilliCPU+s.milliCPU, 0),
		memory:      max(node.NonZeroRequested.Memory+s.memory, 0),
		allocCPU:    node.Allocatable.MilliCPU,
		allocMemory: node.Allocatable.Memory,
	}, nil
}

// leastRequestedScore is the share of capacity left free, 0..100; 0 when
// capacity is 0 or exceeded.
func leastRequestedScore(requested, capacity int64) int64 {
	if capacity <= 0 || requested > capacity {
		return 0
	}
	return (capacity - requested) * framework.MaxNodeScore / capacity
}

// mostRequestedScore is the share of capacity requested, 0..100 (requested
// capped at capacity); 0 when capacity is 0.
func mostRequestedScore(requested, capacity int64) int64 {
	if capacity <= 0 {
		return 0
	}
	return min(requested, capacity) * framework.MaxNodeScore / capacity
}

// balancedScore is (1 - standard deviation of the requested fractions of
// cpu and memory) * 100, fractions capped at 1. As in Kubernetes, a
// resource with allocatable 0 is left out; with fewer than two resources
// left the deviation is 0.
func balancedScore(a allocation) int64 {
	var f [2]float64
	n := 0
	if a.allocCPU > 0 {
		f[n] = min(float64(a.cpu)/float64(a.allocCPU), 1)
		n++
	}
	if a.allocMemory > 0 {
		f[n] = min(float64(a.memory)/float64(a.allocMemory), 1)
		n++
	}
	std := 0.0
	if n == 2 {
		// The standard deviation of two values is half their distance.
		std = math.Abs(f[0]-f[1]) / 2
	}
	return int64((1 - std) * float64(framework.MaxNodeScore))
}

// LeastAllocated scores a node by the share of its cpu and memory that
// would stay unrequested with the pod on it (the mean over cpu and memory
// of (allocatable - requested) * 100 / allocatable), favouring empty nodes:
// pods spread. A resource with allocatable 0 scores 0.
type LeastAllocated struct{}

var (
	_ framework.PreScorePlugin = (*LeastAllocated)(nil)
	_ framework.ScorePlugin    = (*LeastAllocated)(nil)
)

// NewLeastAllocated returns the LeastAllocated plugin.
func NewLeastAllocated() *LeastAllocated { return &LeastAllocated{} }

// Name returns LeastAllocatedName.
func (*LeastAllocated) Name() string { return LeastAllocatedName }

// PreScore stores the pod's non-zero cpu and memory requests in state.
func (*LeastAllocated) PreScore(_ context.Context, state *framework.CycleState, pod *corev1.Pod, _ []*framework.NodeInfo) *framework.Status {
	return preScore(state, leastStateKey, pod)
}

// Score returns node's score in [0, 100].
func (*LeastAllocated) Score(_ context.Context, state *framework.CycleState, _ *corev1.Pod, node *framework.NodeInfo) (int64, *framework.Status) {
	a, st := readAllocation(state, leastStateKey, LeastAllocatedName, node)
	if st != nil {
		return 0, st
	}
	return (leastRequestedScore(a.cpu, a.allocCPU) + leastRequestedScore(a.memory, a.allocMemory)) / 2, nil
}

// MostAllocated scores a node by the share of its cpu and memory that
// would be requested with the pod on it (the mean over cpu and memory of
// requested * 100 / allocatable, requested capped at allocatable),
// favouring full nodes: pods pack. A resource with allocatable 0 scores 0.
type MostAllocated struct{}

var (
	_ framework.PreScorePlugin = (*MostAllocated)(nil)
	_ framework.ScorePlugin    = (*MostAllocated)(nil)
)

// NewMostAllocated returns the MostAllocated plugin.
func NewMostAllocated() *MostAllocated { return &MostAllocated{} }

// Name returns MostAllocatedName.
func (*MostAllocated) Name() string { return MostAllocatedName }

// PreScore stores the pod's non-zero cpu and memory requests in state.
func (*MostAllocated) PreScore(_ context.Context, state *framework.CycleState, pod *corev1.Pod, _ []*framework.NodeInfo) *framework.Status {
	return preScore(state, mostStateKey, pod)
}

// Score returns node's score in [0, 100].
func (*MostAllocated) Score(_ context.Context, state *framework.CycleState, _ *corev1.Pod, node *framework.NodeInfo) (int64, *framework.Status) {
	a, st := readAllocation(state, mostStateKey, MostAllocatedName, node)
	if st != nil {
		return 0, st
	}
	return (mostRequestedScore(a.cpu, a.allocCPU) + mostRequestedScore(a.memory, a.allocMemory)) / 2, nil
}

// BalancedAllocation scores a node by how evenly its cpu and memory would
// be requested with the pod on it: (1 - standard deviation of the two
// requested fractions) * 100, fractions capped at 1. A node where both are
// equally used scores 100. As in Kubernetes, a resource with allocatable 0
// is left out of the deviation.
type BalancedAllocation struct{}

var (
	_ framework.PreScorePlugin = (*BalancedAllocation)(nil)
	_ framework.ScorePlugin    = (*BalancedAllocation)(nil)
)

// NewBalancedAllocation returns the BalancedAllocation plugin.
func NewBalancedAllocation() *BalancedAllocation { return &BalancedAllocation{} }

// Name returns BalancedAllocationName.
func (*BalancedAllocation) Name() string { return BalancedAllocationName }

// PreScore stores the pod's non-zero cpu and memory requests in state.
func (*BalancedAllocation) PreScore(_ context.Context, state *framework.CycleState, pod *corev1.Pod, _ []*framework.NodeInfo) *framework.Status {
	return preScore(state, balancedStateKey, pod)
}

// Score returns node's score in [0, 100].
func (*BalancedAllocation) Score(_ context.Context, state *framework.CycleState, _ *corev1.Pod, node *framework.NodeInfo) (int64, *framework.Status) {
	a, st := readAllocation(state, balancedStateKey, BalancedAllocationName, node)
	if st != nil {
		return 0, st
	}
	return balancedScore(a), nil
}
