package scheduler

import (
	"context"
	"fmt"
	"slices"

	"github.com/berth-dev/berth/internal/scheduler/cache"
	"github.com/berth-dev/berth/internal/scheduler/framework"
	"github.com/berth-dev/berth/internal/scheduler/plugins/defaultbinder"
	"github.com/berth-dev/berth/internal/scheduler/plugins/defaultpreemption"
	"github.com/berth-dev/berth/internal/scheduler/plugins/interpodantiaffinity"
	"github.com/berth-dev/berth/internal/scheduler/plugins/nodeaffinity"
	"github.com/berth-dev/berth/internal/scheduler/plugins/nodename"
	"github.com/berth-dev/berth/internal/scheduler/plugins/nodeports"
	"github.com/berth-dev/berth/internal/scheduler/plugins/noderesources"
	"github.com/berth-dev/berth/internal/scheduler/plugins/nodeunschedulable"
	"github.com/berth-dev/berth/internal/scheduler/plugins/tainttoleration"
	"github.com/berth-dev/berth/internal/scheduler/plugins/workloadspread"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/kubernetes"
)

// placementWeights are the score weights of each placement preset. Plugins
// that also filter (NodeAffinity, TaintToleration) always run as filters;
// their weight only concerns their preferences.
var placementWeights = map[string]map[string]int64{
	PlacementSpread: {
		noderesources.LeastAllocatedName:     1,
		noderesources.BalancedAllocationName: 1,
		workloadspread.Name:                  2,
		nodeaffinity.Name:                    2,
		tainttoleration.Name:                 3,
	},
	PlacementBinPack: {
		noderesources.MostAllocatedName: 1,
		nodeaffinity.Name:               2,
		tainttoleration.Name:            3,
	},
}

// scorePluginNames lists the plugins that score (the keys of scoreWeights).
func scorePluginNames() []string {
	return []string{
		noderesources.LeastAllocatedName, noderesources.MostAllocatedName, noderesources.BalancedAllocationName,
		workloadspread.Name, nodeaffinity.Name, tainttoleration.Name,
	}
}

func isScorePlugin(name string) bool { return slices.Contains(scorePluginNames(), name) }

// newFramework assembles a profile's plugins, in the one place that lists
// them: filters cheapest first, then scores with the profile's weights,
// preemption if enabled, and the binder.
func newFramework(p ProfileConfig, client kubernetes.Interface, c *cache.Cache) (*framework.Framework, error) {
	weights := map[string]int64{}
	for k, v := range placementWeights[p.Placement] {
		weights[k] = v
	}
	for k, v := range p.ScoreWeights {
		weights[k] = v
	}
	w := func(pl framework.Plugin) framework.WeightedPlugin {
		return framework.WeightedPlugin{Plugin: pl, Weight: weights[pl.Name()]}
	}
	plugins := []framework.WeightedPlugin{
		w(nodeunschedulable.NewUnschedulable()),
		w(nodeunschedulable.NewReady()),
		w(nodename.New()),
		w(tainttoleration.New()),
		w(nodeaffinity.New()),
		w(nodeports.New()),
		w(noderesources.NewFit()),
		w(interpodantiaffinity.New()),
		w(noderesources.NewLeastAllocated()),
		w(noderesources.NewMostAllocated()),
		w(noderesources.NewBalancedAllocation()),
		w(workloadspread.New()),
	}
	var fw *framework.Framework
	if *p.Preemption {
		// Preemption re-runs this profile's filters; fw is set below.
		plugins = append(plugins, w(defaultpreemption.New(c, filterRunner{&fw})))
	}
	plugins = append(plugins, w(defaultbinder.New(client)))
	var err error
	fw, err = framework.New(p.SchedulerName, plugins)
	if err != nil {
		return nil, fmt.Errorf("scheduler: %w", err)
	}
	return fw, nil
}

// filterRunner defers to a framework built after the plugin that uses it.
type filterRunner struct{ fw **framework.Framework }

func (r filterRunner) RunFilterPlugins(ctx context.Context, state *framework.CycleState, pod *corev1.Pod, node *framework.NodeInfo) *framework.Status {
	return (*r.fw).RunFilterPlugins(ctx, state, pod, node)
}

func (r filterRunner) RunPreFilterPlugins(ctx context.Context, state *framework.CycleState, pod *corev1.Pod, nodes []*framework.NodeInfo) *framework.Status {
	return (*r.fw).RunPreFilterPlugins(ctx, state, pod, nodes)
}
