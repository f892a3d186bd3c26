package workloadspread

import (
	"context"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/berth-dev/berth/internal/scheduler/framework"
)

// Name is the plugin's name.
const Name = "WorkloadSpread"

// Plugin is the WorkloadSpread score. It is stateless and safe for
// concurrent use.
type Plugin struct{}

var (
	_ framework.PreScorePlugin  = (*Plugin)(nil)
	_ framework.ScorePlugin     = (*Plugin)(nil)
	_ framework.ScoreNormalizer = (*Plugin)(nil)
)

// New returns the plugin.
func New() *Plugin { return &Plugin{} }

// Name returns Name.
func (*Plugin) Name() string { return Name }

// ControllerUID returns the UID of pod's controller owner (the owner
// reference with controller=true), empty for a pod without one. It is
// framework.PodInfo.Owner without building a PodInfo.
func ControllerUID(pod *corev1.Pod) types.UID {
	for i := range pod.OwnerReferences {
		if r := &pod.OwnerReferences[i]; r.Controller != nil && *r.Controller {
			return r.UID
		}
	}
	return ""
}

// PreScore returns Skip for a pod without a controller owner.
func (*Plugin) PreScore(_ context.Context, _ *framework.CycleState, pod *corev1.Pod, _ []*framework.NodeInfo) *framework.Status {
	if ControllerUID(pod) == "" {
		return framework.NewStatus(framework.Skip)
	}
	return nil
}

// Score is the number of pods on node with the pod's controller owner,
// not counting pods being deleted (a rolling update's leftovers). The
// owner is read from the pod's owner references: a loop over one or two
// entries is cheaper than a CycleState lookup, so PreScore stores nothing.
func (*Plugin) Score(_ context.Context, _ *framework.CycleState, pod *corev1.Pod, node *framework.NodeInfo) (int64, *framework.Status) {
	owner := ControllerUID(pod)
	if owner == "" {
		return 0, nil
	}
	var n int64
	for _, pi := range node.Pods {
		if pi.Owner == owner && pi.Pod.DeletionTimestamp == nil {
			n++
		}
	}
	return n, nil
}

// NormalizeScore maps the counts, reversed, onto 0..MaxNodeScore: the
// nodes with the fewest of the workload's pods score MaxNodeScore, those
// with the most 0, the others in proportion; when all counts are equal
// every node scores MaxNodeScore.
func (*Plugin) NormalizeScore(_ context.Context, _ *framework.CycleState, _ *corev1.Pod, scores []framework.NodeScore) *framework.Status {
	if len(scores) == 0 {
		return nil
	}
	lo, hi := scores[0].Score, scores[0].Score
	for i := range scores {
		lo, hi = min(lo, scores[i].Score), max(hi, scores[i].Score)
	}
	for i := range scores {
		if hi == lo {
			scores[i].Score = framework.MaxNodeScore
			continue
		}
		scores[i].Score = (hi - scores[i].Score) * framework.MaxNodeScore / (hi - lo)
	}
	return nil
}
