package nodelifecycle

import (
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/klog/v2"
)

// Condition reasons and messages the controller writes, as Kubernetes'
// node lifecycle controller does.
const (
	// ReasonNodeStatusUnknown: the node's heartbeat stopped.
	ReasonNodeStatusUnknown = "NodeStatusUnknown"
	// MessageNodeStatusUnknown goes with ReasonNodeStatusUnknown.
	MessageNodeStatusUnknown = "Kubelet stopped posting node status."
	// ReasonNodeStatusNeverUpdated: the node never reported the condition.
	ReasonNodeStatusNeverUpdated = "NodeStatusNeverUpdated"
	// MessageNodeStatusNeverUpdated goes with ReasonNodeStatusNeverUpdated.
	MessageNodeStatusNeverUpdated = "Kubelet never posted node status."
)

// Pod disruption condition written before an eviction.
const (
	// ReasonDeletionByTaintManager is the reason of the DisruptionTarget
	// condition of an evicted pod.
	ReasonDeletionByTaintManager = "DeletionByTaintManager"
	// MessageDeletionByTaintManager goes with ReasonDeletionByTaintManager.
	MessageDeletionByTaintManager = "Taint manager: deleting due to NoExecute taint"
)

// The taints the controller puts on nodes whose Ready condition is Unknown
// (unreachable) or False (not ready), and removes when it is True.
var (
	// UnreachableNoExecute evicts pods from a node that stopped reporting.
	UnreachableNoExecute = corev1.Taint{Key: corev1.TaintNodeUnreachable, Effect: corev1.TaintEffectNoExecute}
	// UnreachableNoSchedule keeps new pods off a node that stopped reporting.
	UnreachableNoSchedule = corev1.Taint{Key: corev1.TaintNodeUnreachable, Effect: corev1.TaintEffectNoSchedule}
	// NotReadyNoExecute evicts pods from a node that reports not ready.
	NotReadyNoExecute = corev1.Taint{Key: corev1.TaintNodeNotReady, Effect: corev1.TaintEffectNoExecute}
	// NotReadyNoSchedule keeps new pods off a node that reports not ready.
	NotReadyNoSchedule = corev1.Taint{Key: corev1.TaintNodeNotReady, Effect: corev1.TaintEffectNoSchedule}
)

// managedTaints are the taints the controller owns.
var managedTaints = []corev1.Taint{UnreachableNoExecute, UnreachableNoSchedule, NotReadyNoExecute, NotReadyNoSchedule}

// staleConditionTypes are the node conditions set to Unknown when the
// node's heartbeat stops.
var staleConditionTypes = []corev1.NodeConditionType{
	corev1.NodeReady, corev1.NodeMemoryPressure, corev1.NodeDiskPressure, corev1.NodePIDPressure,
}

// NodePlan is what the controller writes to a node.
type NodePlan struct {
	// Conditions, when not nil, are the node's new status.conditions.
	Conditions []corev1.NodeCondition
	// Taints are the node's new spec.taints when TaintsChanged.
	Taints []corev1.Taint
	// TaintsChanged says whether Taints differ from the node's.
	TaintsChanged bool
	// Ready is the status of the node's Ready condition once the plan is
	// applied ("" when it has none).
	Ready corev1.ConditionStatus
}

// PlanNode decides the conditions and taints of node at now. stale says
// that the node's heartbeat (Lease renewal or status update) is older
// than the grace period: its Ready, MemoryPressure, DiskPressure and
// PIDPressure conditions become Unknown (reason NodeStatusUnknown, or
// NodeStatusNeverUpdated for a condition it never reported). Then the
// managed taints follow the Ready condition: Unknown → unreachable
// NoExecute and NoSchedule, False → not-ready NoExecute and NoSchedule,
// True → neither; a node without a Ready condition keeps its taints. A
// NoExecute taint added gets TimeAdded now; taints kept keep theirs.
func PlanNode(node *corev1.Node, stale bool, now time.Time) NodePlan {
	var plan NodePlan
	conds := node.Status.Conditions
	if stale {
		next := make([]corev1.NodeCondition, len(conds))
		for i := range conds {
			conds[i].DeepCopyInto(&next[i])
		}
		changed := false
		for _, t := range staleConditionTypes {
			c := findCondition(next, t)
			switch {
			case c == nil:
				next = append(next, corev1.NodeCondition{
					Type: t, Status: corev1.ConditionUnknown,
					Reason: ReasonNodeStatusNeverUpdated, Message: MessageNodeStatusNeverUpdated,
					LastHeartbeatTime: node.CreationTimestamp, LastTransitionTime: metav1.NewTime(now),
				})
				changed = true
			case c.Status != corev1.ConditionUnknown:
				c.Status, c.Reason, c.Message = corev1.ConditionUnknown, ReasonNodeStatusUnknown, MessageNodeStatusUnknown
				c.LastTransitionTime = metav1.NewTime(now)
				changed = true
			}
		}
		if changed {
			plan.Conditions, conds = next, next
		}
	}
	if c := findCondition(conds, corev1.NodeReady); c != nil {
		plan.Ready = c.Status
	}
	var want []corev1.Taint
	switch plan.Ready {
	case "":
		return plan // no Ready condition yet: leave the taints alone
	case corev1.ConditionUnknown:
		want = []corev1.Taint{UnreachableNoExecute, UnreachableNoSchedule}
	case corev1.ConditionFalse:
		want = []corev1.Taint{NotReadyNoExecute, NotReadyNoSchedule}
	}
	plan.Taints, plan.TaintsChanged = reconcileTaints(node.Spec.Taints, want, now)
	return plan
}

// reconcileTaints returns taints with the managed taints replaced by want
// (kept ones unchanged, added NoExecute ones stamped with now) and whether
// anything changed.
func reconcileTaints(taints, want []corev1.Taint, now time.Time) ([]corev1.Taint, bool) {
	var out []corev1.Taint
	changed := false
	for _, t := range taints {
		if isManaged(&t) && !containsTaint(want, &t) {
			changed = true
			continue
		}
		out = append(out, *t.DeepCopy())
	}
	for _, w := range want {
		if containsTaint(out, &w) {
			continue
		}
		if w.Effect == corev1.TaintEffectNoExecute {
			added := metav1.NewTime(now)
			w.TimeAdded = &added
		}
		out = append(out, w)
		changed = true
	}
	return out, changed
}

// isManaged reports whether t is one of the controller's taints.
func isManaged(t *corev1.Taint) bool { return containsTaint(managedTaints, t) }

// containsTaint reports whether taints has one with t's key and effect.
func containsTaint(taints []corev1.Taint, t *corev1.Taint) bool {
	for i := range taints {
		if taints[i].MatchTaint(t) {
			return true
		}
	}
	return false
}

// findCondition returns the condition of type t in conds, or nil.
func findCondition(conds []corev1.NodeCondition, t corev1.NodeConditionType) *corev1.NodeCondition {
	for i := range conds {
		if conds[i].Type == t {
			return &conds[i]
		}
	}
	return nil
}

// TimedTaint is a NoExecute taint of a node and the time from which the
// pods' tolerationSeconds count.
type TimedTaint struct {
	// Taint is the taint.
	Taint corev1.Taint
	// Since is when the taint was put on the node.
	Since time.Time
}

// discard is the logger ToleratesTaint reports unparsable Lt/Gt values to
// (the zero logger discards).
var discard klog.Logger

// EvictionDeadline returns when pod must leave a node with taints, and
// false if never. For each NoExecute taint the pod's first toleration of
// it decides, as in Kubernetes' taint eviction: none means at once (at
// Since), one without tolerationSeconds means never, otherwise Since plus
// tolerationSeconds (negative counts as 0). The earliest deadline wins.
func EvictionDeadline(pod *corev1.Pod, taints []TimedTaint) (time.Time, bool) {
	var deadline time.Time
	evict := false
	for i := range taints {
		t := &taints[i].Taint
		if t.Effect != corev1.TaintEffectNoExecute {
			continue
		}
		var tol *corev1.Toleration
		for j := range pod.Spec.Tolerations {
			if pod.Spec.Tolerations[j].ToleratesTaint(discard, t, true) {
				tol = &pod.Spec.Tolerations[j]
				break
			}
		}
		d := taints[i].Since
		switch {
		case tol == nil:
		case tol.TolerationSeconds == nil:
			continue
		case *tol.TolerationSeconds > 0:
			d = d.Add(time.Duration(*tol.TolerationSeconds) * time.Second)
		}
		if !evict || d.Before(deadline) {
			deadline, evict = d, true
		}
	}
	return deadline, evict
}

// PodNotReady returns a copy of pod with its Ready condition set to False
// (transition time now), or nil when it has no Ready condition or it is
// already False, as Kubernetes marks the pods of a node that stops being
// ready.
func PodNotReady(pod *corev1.Pod, now time.Time) *corev1.Pod {
	for i, c := range pod.Status.Conditions {
		if c.Type != corev1.PodReady {
			continue
		}
		if c.Status == corev1.ConditionFalse {
			return nil
		}
		out := pod.DeepCopy()
		out.Status.Conditions[i].Status = corev1.ConditionFalse
		out.Status.Conditions[i].LastTransitionTime = metav1.NewTime(now)
		return out
	}
	return nil
}

// WithDisruptionTarget returns a copy of pod with the DisruptionTarget
// condition of a taint eviction, or nil when it has it already.
func WithDisruptionTarget(pod *corev1.Pod, now time.Time) *corev1.Pod {
	cond := corev1.PodCondition{
		Type: corev1.DisruptionTarget, Status: corev1.ConditionTrue,
		Reason: ReasonDeletionByTaintManager, Message: MessageDeletionByTaintManager, LastTransitionTime: metav1.NewTime(now),
	}
	for i, c := range pod.Status.Conditions {
		if c.Type != corev1.DisruptionTarget {
			continue
		}
		if c.Status == corev1.ConditionTrue && c.Reason == cond.Reason {
			return nil
		}
		out := pod.DeepCopy()
		out.Status.Conditions[i] = cond
		return out
	}
	out := pod.DeepCopy()
	out.Status.Conditions = append(out.Status.Conditions, cond)
	return out
}
