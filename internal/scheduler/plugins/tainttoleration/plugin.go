package tainttoleration

import (
	"context"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/klog/v2"

	"github.com/berth-dev/berth/internal/scheduler/framework"
)

// Name is the plugin's name.
const Name = "TaintToleration"

// Reason is Filter's rejection reason for an untolerated taint, as in
// Kubernetes: "node(s) had untolerated taint {dedicated: gpu}", or
// "{dedicated: }" when the taint has no value.
func Reason(t *corev1.Taint) string {
	return "node(s) had untolerated taint {" + t.Key + ": " + t.Value + "}"
}

// enableComparisonOperators turns on the numeric Lt and Gt toleration
// operators, which the API server accepts.
const enableComparisonOperators = true

// discard is the logger ToleratesTaint reports unparsable Lt/Gt values to:
// the zero logr.Logger discards everything, and a bad value on a taint
// would otherwise be logged once per node and attempt.
var discard klog.Logger

// Plugin is the TaintToleration filter and score. It is stateless and safe
// for concurrent use.
type Plugin struct{}

var (
	_ framework.FilterPlugin    = (*Plugin)(nil)
	_ framework.PreScorePlugin  = (*Plugin)(nil)
	_ framework.ScorePlugin     = (*Plugin)(nil)
	_ framework.ScoreNormalizer = (*Plugin)(nil)
)

// New returns the plugin.
func New() *Plugin { return &Plugin{} }

// Name returns Name.
func (*Plugin) Name() string { return Name }

// Filter rejects (UnschedulableAndUnresolvable, Reason) a node with a
// NoSchedule or NoExecute taint the pod does not tolerate; the reason
// names the first such taint.
func (*Plugin) Filter(_ context.Context, _ *framework.CycleState, pod *corev1.Pod, node *framework.NodeInfo) *framework.Status {
	if node.Node == nil {
		return framework.NewStatus(framework.Error, Name+": node not found")
	}
	taints := node.Taints
	for i := range taints {
		t := &taints[i]
		if t.Effect != corev1.TaintEffectNoSchedule && t.Effect != corev1.TaintEffectNoExecute {
			continue
		}
		if !Tolerates(pod.Spec.Tolerations, t) {
			return framework.NewStatus(framework.UnschedulableAndUnresolvable, Reason(t))
		}
	}
	return nil
}

// Tolerates reports whether one of tolerations tolerates taint.
func Tolerates(tolerations []corev1.Toleration, taint *corev1.Taint) bool {
	for i := range tolerations {
		if tolerations[i].ToleratesTaint(discard, taint, enableComparisonOperators) {
			return true
		}
	}
	return false
}

// PreScore returns Skip when none of nodes has a PreferNoSchedule taint:
// every node would then score 0 and, normalized, MaxNodeScore, which adds
// the same amount to every node and cannot change the choice. Kubernetes
// scores in that case too; skipping spares a call per node.
func (*Plugin) PreScore(_ context.Context, _ *framework.CycleState, _ *corev1.Pod, nodes []*framework.NodeInfo) *framework.Status {
	for _, n := range nodes {
		if n.Node == nil {
			continue
		}
		for i := range n.Taints {
			if n.Taints[i].Effect == corev1.TaintEffectPreferNoSchedule {
				return nil
			}
		}
	}
	return framework.NewStatus(framework.Skip)
}

// Score is the number of PreferNoSchedule taints of node the pod does not
// tolerate (NormalizeScore reverses it: fewer is better). It needs no
// state: a toleration whose effect is neither empty nor PreferNoSchedule
// cannot tolerate such a taint, so using all tolerations gives the count
// Kubernetes computes from the PreferNoSchedule ones.
func (*Plugin) Score(_ context.Context, _ *framework.CycleState, pod *corev1.Pod, node *framework.NodeInfo) (int64, *framework.Status) {
	if node.Node == nil {
		return 0, framework.NewStatus(framework.Error, Name+": node not found")
	}
	var n int64
	taints := node.Taints
	for i := range taints {
		if taints[i].Effect == corev1.TaintEffectPreferNoSchedule && !Tolerates(pod.Spec.Tolerations, &taints[i]) {
			n++
		}
	}
	return n, nil
}

// NormalizeScore maps the counts to MaxNodeScore - count*MaxNodeScore/max
// (Kubernetes' DefaultNormalizeScore, reversed): a node without
// untolerated PreferNoSchedule taints scores MaxNodeScore, the node with
// the most scores 0; all nodes score MaxNodeScore when none has any.
func (*Plugin) NormalizeScore(_ context.Context, _ *framework.CycleState, _ *corev1.Pod, scores []framework.NodeScore) *framework.Status {
	var hi int64
	for i := range scores {
		hi = max(hi, scores[i].Score)
	}
	for i := range scores {
		if hi == 0 {
			scores[i].Score = framework.MaxNodeScore
			continue
		}
		scores[i].Score = framework.MaxNodeScore - scores[i].Score*framework.MaxNodeScore/hi
	}
	return nil
}
