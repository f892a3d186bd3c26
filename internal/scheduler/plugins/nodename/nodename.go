package nodename

import (
	"context"

	corev1 "k8s.io/api/core/v1"

	"github.com/berth-dev/berth/internal/scheduler/framework"
)

// Name is the name of the plugin.
const Name = "NodeName"

// ReasonNodeNameMismatch is the reason for a node other than the one the
// pod names.
const ReasonNodeNameMismatch = "node(s) didn't match the requested node name"

// reasonsMismatch is shared by the rejections so that one costs a single
// allocation.
var reasonsMismatch = []string{ReasonNodeNameMismatch}

// Plugin is the NodeName filter: a pod with spec.nodeName set fits only
// the node of that name.
type Plugin struct{}

var (
	_ framework.PreFilterPlugin = (*Plugin)(nil)
	_ framework.FilterPlugin    = (*Plugin)(nil)
)

// New returns the plugin.
func New() *Plugin { return &Plugin{} }

// Name returns Name.
func (*Plugin) Name() string { return Name }

// PreFilter returns Skip (no Filter) when the pod names no node.
func (*Plugin) PreFilter(_ context.Context, _ *framework.CycleState, pod *corev1.Pod, _ []*framework.NodeInfo) *framework.Status {
	if pod.Spec.NodeName == "" {
		return framework.NewStatus(framework.Skip)
	}
	return nil
}

// Filter rejects node with UnschedulableAndUnresolvable when the pod names
// another node. It needs no pre-filter state.
func (*Plugin) Filter(_ context.Context, _ *framework.CycleState, pod *corev1.Pod, node *framework.NodeInfo) *framework.Status {
	if node.Node == nil {
		return framework.NewStatus(framework.Error, "NodeName: node not found")
	}
	if pod.Spec.NodeName != "" && pod.Spec.NodeName != node.Node.Name {
		return framework.NewStatus(framework.UnschedulableAndUnresolvable, reasonsMismatch...)
	}
	return nil
}
