package nodeaffinity

import (
	"context"

	corev1 "k8s.io/api/core/v1"

	"github.com/berth-dev/berth/internal/scheduler/framework"
)

// Name is the plugin's name.
const Name = "NodeAffinity"

// ErrReasonPod is the reason Filter gives for a node that does not match
// the pod's nodeSelector or required node affinity.
const ErrReasonPod = "node(s) didn't match Pod's node affinity/selector"

// CycleState keys.
const (
	preFilterStateKey framework.StateKey = "PreFilter" + Name
	preScoreStateKey  framework.StateKey = "PreScore" + Name
)

// Plugin is the NodeAffinity filter and score. It is stateless and safe
// for concurrent use.
type Plugin struct{}

var (
	_ framework.PreFilterPlugin = (*Plugin)(nil)
	_ framework.FilterPlugin    = (*Plugin)(nil)
	_ framework.PreScorePlugin  = (*Plugin)(nil)
	_ framework.ScorePlugin     = (*Plugin)(nil)
	_ framework.ScoreNormalizer = (*Plugin)(nil)
)

// New returns the plugin.
func New() *Plugin { return &Plugin{} }

// Name returns Name.
func (*Plugin) Name() string { return Name }

// PreFilter parses the pod's nodeSelector and required node affinity into
// the CycleState; it returns Skip when the pod has neither.
func (*Plugin) PreFilter(_ context.Context, state *framework.CycleState, pod *corev1.Pod, _ []*framework.NodeInfo) *framework.Status {
	m := newRequiredMatcher(pod)
	if m == nil {
		return framework.NewStatus(framework.Skip)
	}
	state.Write(preFilterStateKey, m)
	return nil
}

// Filter rejects (UnschedulableAndUnresolvable, ErrReasonPod) a node that
// lacks one of the pod's nodeSelector labels or matches none of its
// required node affinity terms. Without PreFilter's state it parses the
// pod itself.
func (*Plugin) Filter(_ context.Context, state *framework.CycleState, pod *corev1.Pod, node *framework.NodeInfo) *framework.Status {
	if node.Node == nil {
		return framework.NewStatus(framework.Error, Name+": node not found")
	}
	m, ok := read[*requiredMatcher](state, preFilterStateKey)
	if !ok {
		m = newRequiredMatcher(pod)
	}
	if m == nil || m.matches(node.Node) {
		return nil
	}
	return framework.NewStatus(framework.UnschedulableAndUnresolvable, ErrReasonPod)
}

// PreScore parses the pod's preferred node affinity terms into the
// CycleState; it returns Skip when there is none with a positive weight.
func (*Plugin) PreScore(_ context.Context, state *framework.CycleState, pod *corev1.Pod, _ []*framework.NodeInfo) *framework.Status {
	m := newPreferredMatcher(pod)
	if m == nil {
		return framework.NewStatus(framework.Skip)
	}
	state.Write(preScoreStateKey, m)
	return nil
}

// Score is the sum of the weights of the pod's preferred node affinity
// terms that node matches (NormalizeScore rescales it). Without PreScore's
// state it parses the pod itself.
func (*Plugin) Score(_ context.Context, state *framework.CycleState, pod *corev1.Pod, node *framework.NodeInfo) (int64, *framework.Status) {
	if node.Node == nil {
		return 0, framework.NewStatus(framework.Error, Name+": node not found")
	}
	m, ok := read[*preferredMatcher](state, preScoreStateKey)
	if !ok {
		m = newPreferredMatcher(pod)
	}
	if m == nil {
		return 0, nil
	}
	return m.score(node.Node), nil
}

// NormalizeScore scales the scores to 0..MaxNodeScore, the highest score
// becoming MaxNodeScore; all-zero scores stay 0.
func (*Plugin) NormalizeScore(_ context.Context, _ *framework.CycleState, _ *corev1.Pod, scores []framework.NodeScore) *framework.Status {
	var hi int64
	for i := range scores {
		hi = max(hi, scores[i].Score)
	}
	if hi == 0 {
		return nil
	}
	for i := range scores {
		scores[i].Score = scores[i].Score * framework.MaxNodeScore / hi
	}
	return nil
}

// read returns the state under key if it is a T.
func read[T framework.StateData](state *framework.CycleState, key framework.StateKey) (T, bool) {
	if d, ok := state.Read(key); ok {
		t, ok := d.(T)
		return t, ok
	}
	var zero T
	return zero, false
}
