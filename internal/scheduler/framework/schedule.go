package framework

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
)

// Sampling bounds of NumFeasibleNodesToFind (as in Kubernetes).
const (
	// MinFeasibleNodesToFind is the fewest feasible nodes looked for.
	MinFeasibleNodesToFind = 100
	// MinFeasibleNodesPercentageToFind is the lowest adaptive percentage.
	MinFeasibleNodesPercentageToFind = 5
)

// NumFeasibleNodesToFind returns how many feasible nodes to find before
// scoring, out of total. percentage 0 is adaptive: 50 % minus 1 % per 125
// nodes, at least 5 %; never fewer than 100 nodes, never more than total.
func NumFeasibleNodesToFind(total int, percentage int32) int {
	if total < MinFeasibleNodesToFind || percentage >= 100 {
		return total
	}
	p := int(percentage)
	if p <= 0 {
		p = 50 - total/125
		if p < MinFeasibleNodesPercentageToFind {
			p = MinFeasibleNodesPercentageToFind
		}
	}
	n := total * p / 100
	if n < MinFeasibleNodesToFind {
		return MinFeasibleNodesToFind
	}
	return n
}

// ScheduleOptions tune one scheduling decision.
type ScheduleOptions struct {
	// Start is the index of the first node to evaluate; rotating it spreads
	// the evaluation over the cluster when only a sample is examined.
	Start int
	// PercentageOfNodesToScore bounds the sample (0: adaptive).
	PercentageOfNodesToScore int32
	// Rand breaks ties between equally scored nodes (nil: deterministic,
	// the first best node).
	Rand *rand.Rand
	// WithNominated, if set, returns the node as the filters must see it
	// for pod: with the pods nominated to it that pod must not displace.
	WithNominated func(pod *corev1.Pod, node *NodeInfo) *NodeInfo
}

// ScheduleResult is the outcome of a successful decision.
type ScheduleResult struct {
	// Node is the chosen node.
	Node string
	// Evaluated and Feasible count the nodes filtered and those that passed.
	Evaluated, Feasible int
	// Next is the Start for the next decision.
	Next int
}

// FitError says why a pod fits no node.
type FitError struct {
	Pod      *corev1.Pod
	NumNodes int
	// Statuses holds each node's rejection by node name (empty when a
	// pre-filter rejected the pod on all nodes).
	Statuses map[string]*Status
	// PreFilter is the pre-filter rejection, if any.
	PreFilter *Status
}

// Error renders the reasons like Kubernetes:
// "0/5 nodes are available: 3 Insufficient cpu, 2 node(s) had untolerated taint {dedicated: gpu}."
func (e *FitError) Error() string {
	if e.PreFilter != nil {
		return fmt.Sprintf("0/%d nodes are available: %s.", e.NumNodes, e.PreFilter.Message())
	}
	if e.NumNodes == 0 {
		return "0/0 nodes are available: no nodes registered."
	}
	counts := map[string]int{}
	for _, st := range e.Statuses {
		for _, r := range st.Reasons() {
			counts[r]++
		}
	}
	type rc struct {
		reason string
		n      int
	}
	list := make([]rc, 0, len(counts))
	for r, n := range counts {
		list = append(list, rc{r, n})
	}
	sort.Slice(list, func(i, j int) bool {
		if list[i].n != list[j].n {
			return list[i].n > list[j].n
		}
		return list[i].reason < list[j].reason
	})
	parts := make([]string, len(list))
	for i, x := range list {
		parts[i] = fmt.Sprintf("%d %s", x.n, x.reason)
	}
	return fmt.Sprintf("0/%d nodes are available: %s.", e.NumNodes, strings.Join(parts, ", "))
}

// Resolvable reports whether preemption could help on some node: at least
// one node rejected the pod with plain Unschedulable.
func (e *FitError) Resolvable() bool {
	for _, st := range e.Statuses {
		if st.Code() == Unschedulable {
			return true
		}
	}
	return false
}

// Schedule picks a node for pod among nodes: pre-filters, filters from
// opts.Start until enough feasible nodes are found, scores them and takes
// the best. It returns a *FitError when no node fits and an error when a
// plugin fails.
func (f *Framework) Schedule(ctx context.Context, state *CycleState, pod *corev1.Pod, nodes []*NodeInfo, opts ScheduleOptions) (ScheduleResult, error) {
	res := ScheduleResult{Next: opts.Start}
	if len(nodes) == 0 {
		return res, &FitError{Pod: pod}
	}
	if st := f.RunPreFilterPlugins(ctx, state, pod, nodes); !st.IsSuccess() {
		if st.IsRejected() {
			return res, &FitError{Pod: pod, NumNodes: len(nodes), PreFilter: st}
		}
		return res, fmt.Errorf("pre-filter %s: %w", st.Plugin(), st.AsError())
	}
	want := NumFeasibleNodesToFind(len(nodes), opts.PercentageOfNodesToScore)
	feasible := make([]*NodeInfo, 0, min(want, len(nodes)))
	var statuses map[string]*Status
	start := opts.Start % len(nodes)
	i := 0
	for ; i < len(nodes) && len(feasible) < want; i++ {
		n := nodes[(start+i)%len(nodes)]
		view := n
		if opts.WithNominated != nil {
			view = opts.WithNominated(pod, n)
		}
		st := f.RunFilterPlugins(ctx, state, pod, view)
		if st.IsSuccess() {
			feasible = append(feasible, n)
			continue
		}
		if st.Code() == Error {
			return res, fmt.Errorf("filter %s on node %s: %w", st.Plugin(), n.Name(), st.AsError())
		}
		if statuses == nil {
			statuses = map[string]*Status{}
		}
		statuses[n.Name()] = st
	}
	res.Evaluated, res.Feasible, res.Next = i, len(feasible), (start+i)%len(nodes)
	if len(feasible) == 0 {
		return res, &FitError{Pod: pod, NumNodes: len(nodes), Statuses: statuses}
	}
	if len(feasible) == 1 {
		res.Node = feasible[0].Name()
		return res, nil
	}
	scores, st := f.RunScorePlugins(ctx, state, pod, feasible)
	if !st.IsSuccess() {
		return res, fmt.Errorf("score %s: %w", st.Plugin(), st.AsError())
	}
	res.Node = selectHost(scores, opts.Rand)
	return res, nil
}

// selectHost returns the best-scored node, breaking ties uniformly at
// random (reservoir sampling) when rnd is set.
func selectHost(scores []NodeScore, rnd *rand.Rand) string {
	best, ties := 0, 1
	for i := 1; i < len(scores); i++ {
		switch {
		case scores[i].Score > scores[best].Score:
			best, ties = i, 1
		case scores[i].Score == scores[best].Score && rnd != nil:
			ties++
			if rnd.IntN(ties) == 0 {
				best = i
			}
		}
	}
	return scores[best].Name
}
