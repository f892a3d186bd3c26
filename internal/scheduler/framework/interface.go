package framework

import (
	"context"

	corev1 "k8s.io/api/core/v1"
)

// MaxNodeScore is the highest score a score plugin returns after
// normalization; MinNodeScore the lowest.
const (
	MaxNodeScore int64 = 100
	MinNodeScore int64 = 0
)

// Plugin is anything registered with the framework.
type Plugin interface {
	// Name identifies the plugin in configuration, logs and events.
	Name() string
}

// PreFilterPlugin runs once per scheduling attempt before the filters,
// typically to compute state the filters read. nodes are all nodes of the
// snapshot. Returning Skip skips the plugin's Filter for this pod; a
// rejection makes the pod unschedulable on every node.
type PreFilterPlugin interface {
	Plugin
	PreFilter(ctx context.Context, state *CycleState, pod *corev1.Pod, nodes []*NodeInfo) *Status
}

// FilterPlugin decides whether pod may run on one node.
type FilterPlugin interface {
	Plugin
	Filter(ctx context.Context, state *CycleState, pod *corev1.Pod, node *NodeInfo) *Status
}

// PostFilterResult is what a post-filter (preemption) proposes: run the pod
// on NominatedNode once Victims are gone.
type PostFilterResult struct {
	NominatedNode string
	Victims       []*corev1.Pod
}

// PostFilterPlugin runs when no node passed the filters; statuses holds
// each node's rejection by node name.
type PostFilterPlugin interface {
	Plugin
	PostFilter(ctx context.Context, state *CycleState, pod *corev1.Pod, statuses map[string]*Status) (*PostFilterResult, *Status)
}

// PreScorePlugin runs once per attempt before scoring, with the nodes that
// passed the filters. Returning Skip skips the plugin's Score.
type PreScorePlugin interface {
	Plugin
	PreScore(ctx context.Context, state *CycleState, pod *corev1.Pod, nodes []*NodeInfo) *Status
}

// NodeScore is one node's score.
type NodeScore struct {
	Name  string
	Score int64
}

// ScorePlugin ranks a node that passed the filters. Scores of a plugin
// without ScoreNormalizer must lie in [MinNodeScore, MaxNodeScore].
type ScorePlugin interface {
	Plugin
	Score(ctx context.Context, state *CycleState, pod *corev1.Pod, node *NodeInfo) (int64, *Status)
}

// ScoreNormalizer is implemented by score plugins whose raw scores need
// rescaling to [MinNodeScore, MaxNodeScore] over all candidate nodes.
type ScoreNormalizer interface {
	NormalizeScore(ctx context.Context, state *CycleState, pod *corev1.Pod, scores []NodeScore) *Status
}

// ReservePlugin is told when a node is chosen for pod (Reserve) and when
// that choice is abandoned because a later step failed (Unreserve).
type ReservePlugin interface {
	Plugin
	Reserve(ctx context.Context, state *CycleState, pod *corev1.Pod, nodeName string) *Status
	Unreserve(ctx context.Context, state *CycleState, pod *corev1.Pod, nodeName string)
}

// BindPlugin binds pod to nodeName. Returning Skip passes to the next one.
type BindPlugin interface {
	Plugin
	Bind(ctx context.Context, state *CycleState, pod *corev1.Pod, nodeName string) *Status
}

// FilterRunner runs a profile's filter plugins; post-filter plugins
// (preemption) use it to try nodes with pods removed.
type FilterRunner interface {
	// RunFilterPlugins runs the filters on one node.
	RunFilterPlugins(ctx context.Context, state *CycleState, pod *corev1.Pod, node *NodeInfo) *Status
	// RunPreFilterPlugins runs the pre-filters on nodes (after a change
	// in the pods the filters see).
	RunPreFilterPlugins(ctx context.Context, state *CycleState, pod *corev1.Pod, nodes []*NodeInfo) *Status
}

// NodeLister gives post-filter plugins the current nodes.
type NodeLister interface {
	// NodeInfos returns every node's info; callers must not modify them.
	NodeInfos() []*NodeInfo
	// NodeInfo returns one node's info (nil if unknown).
	NodeInfo(name string) *NodeInfo
}
