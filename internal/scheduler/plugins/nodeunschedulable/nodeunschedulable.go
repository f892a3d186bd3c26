package nodeunschedulable

import (
	"context"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/klog/v2"

	"github.com/berth-dev/berth/internal/scheduler/framework"
)

// Plugin names.
const (
	// Name is the name of the Unschedulable plugin.
	Name = "NodeUnschedulable"
	// ReadyName is the name of the Ready plugin.
	ReadyName = "NodeReady"
)

// Rejection reasons.
const (
	// ReasonUnschedulable is the reason for a cordoned node.
	ReasonUnschedulable = "node(s) were unschedulable"
	// ReasonNotReady is the reason for a node that is not ready.
	ReasonNotReady = "node(s) were not ready"
)

// Single-reason lists shared by the rejections so that one costs a single
// allocation.
var (
	reasonsUnschedulable = []string{ReasonUnschedulable}
	reasonsNotReady      = []string{ReasonNotReady}
)

// The taints a pod must tolerate to pass; read-only.
var (
	taintUnschedulable = corev1.Taint{Key: corev1.TaintNodeUnschedulable, Effect: corev1.TaintEffectNoSchedule}
	taintNotReady      = corev1.Taint{Key: corev1.TaintNodeNotReady, Effect: corev1.TaintEffectNoSchedule}
	taintUnreachable   = corev1.Taint{Key: corev1.TaintNodeUnreachable, Effect: corev1.TaintEffectNoSchedule}
)

// tolerates reports whether pod tolerates taint. The Lt and Gt toleration
// operators are off: the taints here have no value to compare, so they
// could never match anyway.
func tolerates(pod *corev1.Pod, taint *corev1.Taint) bool {
	tols := pod.Spec.Tolerations
	for i := range tols {
		// The zero logger discards; ToleratesTaint logs only for Lt/Gt.
		if tols[i].ToleratesTaint(klog.Logger{}, taint, false) {
			return true
		}
	}
	return false
}

// Unschedulable is the filter that keeps pods off nodes with
// spec.unschedulable set (cordoned) unless they tolerate the
// node.kubernetes.io/unschedulable:NoSchedule taint.
type Unschedulable struct{}

var _ framework.FilterPlugin = (*Unschedulable)(nil)

// NewUnschedulable returns the Unschedulable plugin.
func NewUnschedulable() *Unschedulable { return &Unschedulable{} }

// Name returns Name.
func (*Unschedulable) Name() string { return Name }

// Filter rejects a cordoned node with UnschedulableAndUnresolvable unless
// the pod tolerates the unschedulable taint.
func (*Unschedulable) Filter(_ context.Context, _ *framework.CycleState, pod *corev1.Pod, node *framework.NodeInfo) *framework.Status {
	if node.Node == nil {
		return framework.NewStatus(framework.Error, "NodeUnschedulable: node not found")
	}
	if !node.Unschedulable || tolerates(pod, &taintUnschedulable) {
		return nil
	}
	return framework.NewStatus(framework.UnschedulableAndUnresolvable, reasonsUnschedulable...)
}

// Ready is the filter that keeps pods off nodes whose Ready condition is
// not True (False, Unknown or missing), unless they tolerate the NoSchedule
// taint Kubernetes puts on such nodes: node.kubernetes.io/unreachable when
// Ready is Unknown, node.kubernetes.io/not-ready otherwise.
//
// Only the NoSchedule taint counts: a toleration with effect NoExecute
// alone does not let a pod onto the node. Every pod gets NoExecute
// tolerations for both keys by default (300 s, to delay eviction), so
// honouring them would let every pod onto nodes that are not ready; in
// Kubernetes too such pods are kept off by the NoSchedule taint. An
// empty-effect toleration of the key, or operator Exists with an empty
// key, tolerates the taint.
type Ready struct{}

var _ framework.FilterPlugin = (*Ready)(nil)

// NewReady returns the Ready plugin.
func NewReady() *Ready { return &Ready{} }

// Name returns ReadyName.
func (*Ready) Name() string { return ReadyName }

// Filter rejects a node that is not ready with UnschedulableAndUnresolvable
// unless the pod tolerates the corresponding taint.
func (*Ready) Filter(_ context.Context, _ *framework.CycleState, pod *corev1.Pod, node *framework.NodeInfo) *framework.Status {
	if node.Node == nil {
		return framework.NewStatus(framework.Error, "NodeReady: node not found")
	}
	taint := &taintNotReady
	switch node.Ready {
	case corev1.ConditionTrue:
		return nil
	case corev1.ConditionUnknown:
		taint = &taintUnreachable
	}
	if tolerates(pod, taint) {
		return nil
	}
	return framework.NewStatus(framework.UnschedulableAndUnresolvable, reasonsNotReady...)
}
