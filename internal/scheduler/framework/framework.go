package framework

import (
	"context"
	"fmt"
	"slices"

	corev1 "k8s.io/api/core/v1"
)

// WeightedPlugin is a plugin with its score weight (ignored for plugins
// that do not score).
type WeightedPlugin struct {
	Plugin Plugin
	Weight int64
}

type weightedScore struct {
	ScorePlugin
	weight int64
}

// Framework is one profile's plugins, sorted into extension points in the
// order given. It runs them; it holds no per-pod state.
type Framework struct {
	profile    string
	preFilter  []PreFilterPlugin
	filter     []FilterPlugin
	postFilter []PostFilterPlugin
	preScore   []PreScorePlugin
	score      []weightedScore
	reserve    []ReservePlugin
	bind       []BindPlugin
}

// New assembles a framework: each plugin joins every extension point it
// implements; a score plugin with weight 0 does not score.
func New(profile string, plugins []WeightedPlugin) (*Framework, error) {
	f := &Framework{profile: profile}
	seen := map[string]bool{}
	for _, wp := range plugins {
		p := wp.Plugin
		if seen[p.Name()] {
			return nil, fmt.Errorf("framework: profile %s: plugin %s listed twice", profile, p.Name())
		}
		seen[p.Name()] = true
		if x, ok := p.(PreFilterPlugin); ok {
			f.preFilter = append(f.preFilter, x)
		}
		if x, ok := p.(FilterPlugin); ok {
			f.filter = append(f.filter, x)
		}
		if x, ok := p.(PostFilterPlugin); ok {
			f.postFilter = append(f.postFilter, x)
		}
		if x, ok := p.(ScorePlugin); ok && wp.Weight != 0 {
			if wp.Weight < 0 {
				return nil, fmt.Errorf("framework: profile %s: plugin %s: negative weight %d", profile, p.Name(), wp.Weight)
			}
			f.score = append(f.score, weightedScore{x, wp.Weight})
			if y, ok := p.(PreScorePlugin); ok {
				f.preScore = append(f.preScore, y)
			}
		}
		if x, ok := p.(ReservePlugin); ok {
			f.reserve = append(f.reserve, x)
		}
		if x, ok := p.(BindPlugin); ok {
			f.bind = append(f.bind, x)
		}
	}
	if len(f.bind) == 0 {
		return nil, fmt.Errorf("framework: profile %s has no bind plugin", profile)
	}
	return f, nil
}

// Profile names the profile.
func (f *Framework) Profile() string { return f.profile }

// HasPostFilter reports whether a post-filter (preemption) is configured.
func (f *Framework) HasPostFilter() bool { return len(f.postFilter) > 0 }

// RunPreFilterPlugins runs the pre-filters; plugins returning Skip have
// their Filter skipped. The first rejection or error is returned.
func (f *Framework) RunPreFilterPlugins(ctx context.Context, state *CycleState, pod *corev1.Pod, nodes []*NodeInfo) *Status {
	state.skipFilter = state.skipFilter[:0]
	for _, p := range f.preFilter {
		st := p.PreFilter(ctx, state, pod, nodes)
		if st.IsSkip() {
			state.skipFilter = append(state.skipFilter, p.Name())
			continue
		}
		if !st.IsSuccess() {
			return st.WithPlugin(p.Name())
		}
	}
	if state.filters == nil {
		state.filters = make([]FilterPlugin, 0, len(f.filter))
	}
	state.filters = state.filters[:0]
	for _, p := range f.filter {
		if !slices.Contains(state.skipFilter, p.Name()) {
			state.filters = append(state.filters, p)
		}
	}
	return nil
}

// RunFilterPlugins runs the filters on node and returns the first failure.
// After RunPreFilterPlugins, the skipped filters are left out.
func (f *Framework) RunFilterPlugins(ctx context.Context, state *CycleState, pod *corev1.Pod, node *NodeInfo) *Status {
	filters := state.filters
	if filters == nil {
		filters = f.filter
	}
	for _, p := range filters {
		if st := p.Filter(ctx, state, pod, node); !st.IsSuccess() {
			return st.WithPlugin(p.Name())
		}
	}
	return nil
}

// RunPostFilterPlugins runs the post-filters until one proposes a node.
func (f *Framework) RunPostFilterPlugins(ctx context.Context, state *CycleState, pod *corev1.Pod, statuses map[string]*Status) (*PostFilterResult, *Status) {
	var last *Status = NewStatus(Unschedulable, "no post-filter plugin")
	for _, p := range f.postFilter {
		res, st := p.PostFilter(ctx, state, pod, statuses)
		if st.IsSuccess() && res != nil {
			return res, nil
		}
		if st.Code() == Error {
			return nil, st.WithPlugin(p.Name())
		}
		last = st.WithPlugin(p.Name())
	}
	return nil, last
}

// RunScorePlugins runs pre-score, score and normalize and returns each
// node's weighted total, in the order of nodes.
func (f *Framework) RunScorePlugins(ctx context.Context, state *CycleState, pod *corev1.Pod, nodes []*NodeInfo) ([]NodeScore, *Status) {
	state.skipScore = state.skipScore[:0]
	for _, p := range f.preScore {
		st := p.PreScore(ctx, state, pod, nodes)
		if st.IsSkip() {
			state.skipScore = append(state.skipScore, p.Name())
			continue
		}
		if !st.IsSuccess() {
			return nil, st.WithPlugin(p.Name())
		}
	}
	total := make([]NodeScore, len(nodes))
	for i, n := range nodes {
		total[i].Name = n.Name()
	}
	var buf []NodeScore
	for _, p := range f.score {
		if slices.Contains(state.skipScore, p.Name()) {
			continue
		}
		if cap(buf) < len(nodes) {
			buf = make([]NodeScore, len(nodes))
		}
		buf = buf[:len(nodes)]
		for i, n := range nodes {
			s, st := p.Score(ctx, state, pod, n)
			if !st.IsSuccess() {
				return nil, st.WithPlugin(p.Name())
			}
			buf[i] = NodeScore{Name: n.Name(), Score: s}
		}
		if norm, ok := p.ScorePlugin.(ScoreNormalizer); ok {
			if st := norm.NormalizeScore(ctx, state, pod, buf); !st.IsSuccess() {
				return nil, st.WithPlugin(p.Name())
			}
		}
		for i := range buf {
			if buf[i].Score < MinNodeScore || buf[i].Score > MaxNodeScore {
				return nil, NewStatus(Error, fmt.Sprintf("plugin %s scored node %s %d, outside [%d, %d]",
					p.Name(), buf[i].Name, buf[i].Score, MinNodeScore, MaxNodeScore)).WithPlugin(p.Name())
			}
			total[i].Score += buf[i].Score * p.weight
		}
	}
	return total, nil
}

// RunReservePlugins reserves nodeName for pod; on failure the plugins
// reserved so far are unreserved.
func (f *Framework) RunReservePlugins(ctx context.Context, state *CycleState, pod *corev1.Pod, nodeName string) *Status {
	for i, p := range f.reserve {
		if st := p.Reserve(ctx, state, pod, nodeName); !st.IsSuccess() {
			for j := i - 1; j >= 0; j-- {
				f.reserve[j].Unreserve(ctx, state, pod, nodeName)
			}
			return st.WithPlugin(p.Name())
		}
	}
	return nil
}

// RunUnreservePlugins undoes Reserve, in reverse order.
func (f *Framework) RunUnreservePlugins(ctx context.Context, state *CycleState, pod *corev1.Pod, nodeName string) {
	for i := len(f.reserve) - 1; i >= 0; i-- {
		f.reserve[i].Unreserve(ctx, state, pod, nodeName)
	}
}

// RunBindPlugins binds with the first bind plugin that does not Skip.
func (f *Framework) RunBindPlugins(ctx context.Context, state *CycleState, pod *corev1.Pod, nodeName string) *Status {
	for _, p := range f.bind {
		st := p.Bind(ctx, state, pod, nodeName)
		if st.IsSkip() {
			continue
		}
		return st.WithPlugin(p.Name())
	}
	return NewStatus(Error, "no bind plugin bound the pod")
}
