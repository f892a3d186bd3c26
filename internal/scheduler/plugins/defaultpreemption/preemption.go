package defaultpreemption

import (
	"context"
	"fmt"
	"sort"

	"github.com/berth-dev/berth/internal/scheduler/framework"
	corev1 "k8s.io/api/core/v1"
)

// Name is the plugin's name.
const Name = "DefaultPreemption"

// Candidate limits: at most max(MinCandidates, CandidatePercent % of the
// nodes) nodes are examined per preemption.
const (
	MinCandidates    = 100
	CandidatePercent = 10
)

// Plugin is the preemption post-filter.
type Plugin struct {
	nodes   framework.NodeLister
	filters framework.FilterRunner
}

// New returns the plugin; nodes lists the cluster's nodes and filters runs
// the profile's filters.
func New(nodes framework.NodeLister, filters framework.FilterRunner) *Plugin {
	return &Plugin{nodes: nodes, filters: filters}
}

// Name returns Name.
func (p *Plugin) Name() string { return Name }

type candidate struct {
	node    string
	victims []*framework.PodInfo
	maxPrio int32
	sumPrio int64
}

// PostFilter proposes a node and the pods to evict from it.
func (p *Plugin) PostFilter(ctx context.Context, state *framework.CycleState, pod *corev1.Pod, statuses map[string]*framework.Status) (*framework.PostFilterResult, *framework.Status) {
	if pod.Spec.PreemptionPolicy != nil && *pod.Spec.PreemptionPolicy == corev1.PreemptNever {
		return nil, framework.NewStatus(framework.Unschedulable, "preemption: not eligible due to preemptionPolicy=Never")
	}
	prio := framework.PodPriority(pod)
	if n := pod.Status.NominatedNodeName; n != "" {
		if ni := p.nodes.NodeInfo(n); ni != nil && hasTerminatingLower(ni, prio) {
			return nil, framework.NewStatus(framework.Unschedulable, fmt.Sprintf("preemption: waiting for lower-priority pods on node %s to terminate", n))
		}
	}
	all := p.nodes.NodeInfos()
	limit := max(MinCandidates, len(all)*CandidatePercent/100)
	var best *candidate
	examined := 0
	names := make([]string, 0, len(statuses))
	for name, st := range statuses {
		if st.Code() == framework.Unschedulable {
			names = append(names, name)
		}
	}
	sort.Strings(names) // deterministic choice among equals
	for _, name := range names {
		if examined >= limit {
			break
		}
		ni := p.nodes.NodeInfo(name)
		if ni == nil {
			continue
		}
		examined++
		c, ok := p.victimsOn(ctx, state, pod, prio, ni, all)
		if ok && (best == nil || better(c, best)) {
			best = c
		}
	}
	if best == nil {
		return nil, framework.NewStatus(framework.Unschedulable, "preemption: no node where evicting lower-priority pods would make room")
	}
	res := &framework.PostFilterResult{NominatedNode: best.node}
	for _, v := range best.victims {
		res.Victims = append(res.Victims, v.Pod)
	}
	return res, nil
}

// hasTerminatingLower reports whether a pod of lower priority than prio is
// already being deleted on the node (an earlier preemption's victim).
func hasTerminatingLower(ni *framework.NodeInfo, prio int32) bool {
	for _, pi := range ni.Pods {
		if pi.Pod.DeletionTimestamp != nil && pi.Priority < prio {
			return true
		}
	}
	return false
}

// better orders candidates: lower highest victim priority, lower sum, fewer victims.
func better(a, b *candidate) bool {
	if a.maxPrio != b.maxPrio {
		return a.maxPrio < b.maxPrio
	}
	if a.sumPrio != b.sumPrio {
		return a.sumPrio < b.sumPrio
	}
	return len(a.victims) < len(b.victims)
}

// victimsOn finds the fewest, least important pods to remove from ni so
// that pod fits, or reports that removing all lower-priority pods does not
// help.
func (p *Plugin) victimsOn(ctx context.Context, state *framework.CycleState, pod *corev1.Pod, prio int32, ni *framework.NodeInfo, all []*framework.NodeInfo) (*candidate, bool) {
	trial := ni.Clone()
	var lower []*framework.PodInfo
	for _, pi := range ni.Pods {
		if pi.Priority < prio && pi.Pod.DeletionTimestamp == nil {
			lower = append(lower, pi)
			trial.RemovePod(pi.Pod.UID)
		}
	}
	if len(lower) == 0 {
		return nil, false
	}
	nodes := make([]*framework.NodeInfo, len(all))
	for i, n := range all {
		if n.Name() == ni.Name() {
			n = trial
		}
		nodes[i] = n
	}
	fits := func() bool {
		st := state.Clone()
		if s := p.filters.RunPreFilterPlugins(ctx, st, pod, nodes); !s.IsSuccess() {
			return false
		}
		return p.filters.RunFilterPlugins(ctx, st, pod, trial).IsSuccess()
	}
	if !fits() {
		return nil, false
	}
	// Give back the most important pods first; keep those that still fit.
	sort.SliceStable(lower, func(i, j int) bool {
		if lower[i].Priority != lower[j].Priority {
			return lower[i].Priority > lower[j].Priority
		}
		return lower[i].Pod.CreationTimestamp.Before(&lower[j].Pod.CreationTimestamp) // older pods are kept first
	})
	c := &candidate{node: ni.Name()}
	first := true
	for _, pi := range lower {
		trial.AddPod(pi)
		if fits() {
			continue
		}
		trial.RemovePod(pi.Pod.UID)
		c.victims = append(c.victims, pi)
		if first || pi.Priority > c.maxPrio {
			c.maxPrio = pi.Priority
		}
		first = false
		c.sumPrio += int64(pi.Priority)
	}
	return c, true
}
