package nodeports

import (
	"context"

	corev1 "k8s.io/api/core/v1"

	"github.com/berth-dev/berth/internal/nodeapi"
	"github.com/berth-dev/berth/internal/scheduler/framework"
)

// Name is the name of the plugin.
const Name = "NodePorts"

// ReasonPortsTaken is the reason for a node where a requested host port is
// in use.
const ReasonPortsTaken = "node(s) didn't have free ports for the requested pod ports"

// stateKey is where the plugin keeps the pod's host ports in the CycleState.
const stateKey framework.StateKey = "PreFilter" + Name

// reasonsPortsTaken is shared by the rejections so that one costs a single
// allocation.
var reasonsPortsTaken = []string{ReasonPortsTaken}

// Plugin is the NodePorts filter: a pod does not fit a node where one of
// its host ports is used by a pod with the same protocol and port and an
// overlapping address ("" and 0.0.0.0 overlap every address, other
// addresses only themselves). On a node whose pods share the host network
// (label nodeapi.LabelPodNetwork=host: an agent without root or CNI),
// every container port is a host port.
type Plugin struct{}

var (
	_ framework.PreFilterPlugin = (*Plugin)(nil)
	_ framework.FilterPlugin    = (*Plugin)(nil)
)

// New returns the plugin.
func New() *Plugin { return &Plugin{} }

// Name returns Name.
func (*Plugin) Name() string { return Name }

// preFilterState is the pod's host ports and container ports; never
// modified after PreFilter.
type preFilterState struct {
	ports, containerPorts []framework.HostPort
}

// Clone returns s: the state is immutable.
func (s *preFilterState) Clone() framework.StateData { return s }

// PreFilter collects the pod's host and container ports into state; it
// returns Skip (no Filter) when the pod has none.
func (*Plugin) PreFilter(_ context.Context, state *framework.CycleState, pod *corev1.Pod, _ []*framework.NodeInfo) *framework.Status {
	ports, cports := framework.PodHostPorts(pod), framework.PodContainerPorts(pod)
	if len(ports) == 0 && len(cports) == 0 {
		return framework.NewStatus(framework.Skip)
	}
	state.Write(stateKey, &preFilterState{ports: ports, containerPorts: cports})
	return nil
}

// Filter rejects node with Unschedulable when a host port of the pod is in
// use there. It needs the state PreFilter wrote; without it, it returns an
// Error status.
func (*Plugin) Filter(_ context.Context, state *framework.CycleState, _ *corev1.Pod, node *framework.NodeInfo) *framework.Status {
	d, ok := state.Read(stateKey)
	if !ok {
		return framework.NewStatus(framework.Error, "NodePorts: no pre-filter state (PreFilter was not run)")
	}
	s, ok := d.(*preFilterState)
	if !ok {
		return framework.NewStatus(framework.Error, "NodePorts: pre-filter state has the wrong type")
	}
	if n := node.Node; n != nil && n.Labels[nodeapi.LabelPodNetwork] == nodeapi.PodNetworkHost {
		for _, pi := range node.Pods {
			used := framework.PodContainerPorts(pi.Pod)
			if anyConflict(s.containerPorts, used) {
				return framework.NewStatus(framework.Unschedulable, reasonsPortsTaken...)
			}
		}
		return nil
	}
	if anyConflict(s.ports, node.UsedPorts) {
		return framework.NewStatus(framework.Unschedulable, reasonsPortsTaken...)
	}
	return nil
}

// anyConflict reports whether a port of want conflicts with one of used.
func anyConflict(want, used []framework.HostPort) bool {
	for i := range want {
		for j := range used {
			if conflicts(&want[i], &used[j]) {
				return true
			}
		}
	}
	return false
}

// conflicts reports whether host ports a and b cannot both be bound.
func conflicts(a, b *framework.HostPort) bool {
	return a.Port == b.Port && a.Protocol == b.Protocol &&
		(a.IP == b.IP || anyIP(a.IP) || anyIP(b.IP))
}

// anyIP reports whether ip means every address of the node.
func anyIP(ip string) bool { return ip == "" || ip == "0.0.0.0" }
