package noderesources

import (
	"context"
	"slices"

	corev1 "k8s.io/api/core/v1"

	"github.com/berth-dev/berth/internal/scheduler/framework"
)

// Name is the name of the Fit plugin.
const Name = "NodeResourcesFit"

// fitStateKey is where Fit keeps the pod's requests in the CycleState.
const fitStateKey framework.StateKey = "PreFilter" + Name

// Reasons Fit gives for a node without room for the pod. An extended
// resource gives "Insufficient " followed by its name.
const (
	ReasonInsufficientCPU              = "Insufficient cpu"
	ReasonInsufficientMemory           = "Insufficient memory"
	ReasonInsufficientEphemeralStorage = "Insufficient ephemeral-storage"
	ReasonTooManyPods                  = "Too many pods"
)

// Single-reason lists, shared by the statuses of the common rejections so
// that a rejection costs one allocation (the Status).
var (
	reasonsPods      = []string{ReasonTooManyPods}
	reasonsCPU       = []string{ReasonInsufficientCPU}
	reasonsMemory    = []string{ReasonInsufficientMemory}
	reasonsEphemeral = []string{ReasonInsufficientEphemeralStorage}
)

// Fit is the filter that lets a pod onto a node only if the node's
// allocatable resources minus what its pods request leave room for the
// pod's requests: cpu, memory, ephemeral storage, one more pod, and every
// extended resource the pod requests. A resource the pod requests none of
// never rejects a node, even an overcommitted one.
type Fit struct{}

var (
	_ framework.PreFilterPlugin = (*Fit)(nil)
	_ framework.FilterPlugin    = (*Fit)(nil)
)

// NewFit returns the Fit plugin.
func NewFit() *Fit { return &Fit{} }

// Name returns Name.
func (*Fit) Name() string { return Name }

// fitState is the pod's requests, computed once per scheduling attempt. It
// is never modified after PreFilter.
type fitState struct {
	req framework.Resource
}

// Clone returns s: the state is immutable.
func (s *fitState) Clone() framework.StateData { return s }

// PreFilter computes the pod's requests and keeps them in state.
func (*Fit) PreFilter(_ context.Context, state *framework.CycleState, pod *corev1.Pod, _ []*framework.NodeInfo) *framework.Status {
	req, _ := framework.PodRequests(pod)
	state.Write(fitStateKey, &fitState{req: req})
	return nil
}

// Filter rejects node with Unschedulable and one reason per resource the
// node lacks. It needs the state PreFilter wrote; without it, it returns an
// Error status.
func (*Fit) Filter(_ context.Context, state *framework.CycleState, _ *corev1.Pod, node *framework.NodeInfo) *framework.Status {
	d, ok := state.Read(fitStateKey)
	if !ok {
		return framework.NewStatus(framework.Error, "NodeResourcesFit: no pre-filter state (PreFilter was not run)")
	}
	s, ok := d.(*fitState)
	if !ok {
		return framework.NewStatus(framework.Error, "NodeResourcesFit: pre-filter state has the wrong type")
	}
	req, alloc, used := &s.req, &node.Allocatable, &node.Requested

	// Bits of the fixed resources that do not fit, in reason order.
	var lacking uint8
	const (
		lackPods = 1 << iota
		lackCPU
		lackMemory
		lackEphemeral
	)
	if used.Pods+1 > alloc.Pods {
		lacking |= lackPods
	}
	if req.MilliCPU > 0 && req.MilliCPU > alloc.MilliCPU-used.MilliCPU {
		lacking |= lackCPU
	}
	if req.Memory > 0 && req.Memory > alloc.Memory-used.Memory {
		lacking |= lackMemory
	}
	if req.EphemeralStorage > 0 && req.EphemeralStorage > alloc.EphemeralStorage-used.EphemeralStorage {
		lacking |= lackEphemeral
	}
	scalarLacking := false
	for name, q := range req.Scalar {
		if scalarFits(name, q, alloc, used) {
			continue
		}
		scalarLacking = true
		break
	}
	if lacking == 0 && !scalarLacking {
		return nil
	}

	if !scalarLacking {
		switch lacking {
		case lackPods:
			return framework.NewStatus(framework.Unschedulable, reasonsPods...)
		case lackCPU:
			return framework.NewStatus(framework.Unschedulable, reasonsCPU...)
		case lackMemory:
			return framework.NewStatus(framework.Unschedulable, reasonsMemory...)
		case lackEphemeral:
			return framework.NewStatus(framework.Unschedulable, reasonsEphemeral...)
		}
	}
	reasons := make([]string, 0, 4+len(req.Scalar))
	if lacking&lackPods != 0 {
		reasons = append(reasons, ReasonTooManyPods)
	}
	if lacking&lackCPU != 0 {
		reasons = append(reasons, ReasonInsufficientCPU)
	}
	if lacking&lackMemory != 0 {
		reasons = append(reasons, ReasonInsufficientMemory)
	}
	if lacking&lackEphemeral != 0 {
		reasons = append(reasons, ReasonInsufficientEphemeralStorage)
	}
	fixed := len(reasons)
	for name, q := range req.Scalar {
		if !scalarFits(name, q, alloc, used) {
			reasons = append(reasons, "Insufficient "+string(name))
		}
	}
	// Map order is random; sort the extended resources for stable messages.
	slices.Sort(reasons[fixed:])
	return framework.NewStatus(framework.Unschedulable, reasons...)
}

// scalarFits reports whether q of the extended resource name fits on the
// node (a request of 0 always fits).
func scalarFits(name corev1.ResourceName, q int64, alloc, used *framework.Resource) bool {
	return q <= 0 || q <= alloc.Scalar[name]-used.Scalar[name]
}
