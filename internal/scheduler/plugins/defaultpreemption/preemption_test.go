package defaultpreemption

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/berth-dev/berth/internal/scheduler/framework"
	"github.com/berth-dev/berth/internal/scheduler/plugins/noderesources"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

type lister []*framework.NodeInfo

func (l lister) NodeInfos() []*framework.NodeInfo { return l }
func (l lister) NodeInfo(name string) *framework.NodeInfo {
	for _, n := range l {
		if n.Name() == name {
			return n
		}
	}
	return nil
}

type nopBinder struct{}

func (nopBinder) Name() string { return "Nop" }
func (nopBinder) Bind(context.Context, *framework.CycleState, *corev1.Pod, string) *framework.Status {
	return nil
}

var epoch = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// pod requests cpu (cores) with priority prio, created age minutes after epoch.
func pod(name string, cpu string, prio int32, minute int) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: name, UID: types.UID(name), CreationTimestamp: metav1.NewTime(epoch.Add(time.Duration(minute) * time.Minute))},
		Spec: corev1.PodSpec{Priority: &prio, Containers: []corev1.Container{{Name: "c",
			Resources: corev1.ResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse(cpu)}}}}},
	}
}

// node has cpu cores and runs pods.
func node(name, cpu string, pods ...*corev1.Pod) *framework.NodeInfo {
	alloc := corev1.ResourceList{corev1.ResourceCPU: resource.MustParse(cpu), corev1.ResourcePods: resource.MustParse("110")}
	ni := framework.NewNodeInfo(&corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name}, Status: corev1.NodeStatus{Allocatable: alloc}})
	for _, p := range pods {
		p.Spec.NodeName = name
		ni.AddPod(framework.NewPodInfo(p))
	}
	return ni
}

func TestPostFilter(t *testing.T) {
	never := corev1.PreemptNever
	terminating := func(p *corev1.Pod) *corev1.Pod { now := metav1.Now(); p.DeletionTimestamp = &now; return p }
	for _, tc := range []struct {
		name        string
		nodes       lister
		preemptor   *corev1.Pod
		unresolved  []string // nodes rejected as UnschedulableAndUnresolvable
		wantNode    string
		wantVictims []string
		wantMsg     string
	}{
		{name: "one victim of two, the newer of equals",
			nodes:     lister{node("a", "2", pod("old", "1", 1, 0), pod("new", "1", 1, 5))},
			preemptor: pod("p", "1", 100, 10), wantNode: "a", wantVictims: []string{"new"}},
		{name: "lowest priority victim",
			nodes:     lister{node("a", "2", pod("mid", "1", 50, 0), pod("low", "1", 1, 0))},
			preemptor: pod("p", "1", 100, 10), wantNode: "a", wantVictims: []string{"low"}},
		{name: "enough victims, no more",
			nodes:     lister{node("a", "4", pod("x", "1", 1, 0), pod("y", "1", 2, 0), pod("z", "2", 3, 0))},
			preemptor: pod("p", "2", 100, 10), wantNode: "a", wantVictims: []string{"x", "y"}},
		{name: "node whose victims matter least",
			nodes:     lister{node("a", "1", pod("a1", "1", 5, 0)), node("b", "1", pod("b1", "1", 1, 0))},
			preemptor: pod("p", "1", 100, 10), wantNode: "b", wantVictims: []string{"b1"}},
		{name: "fewer victims at equal priority",
			nodes:     lister{node("a", "2", pod("a1", "1", 1, 0), pod("a2", "1", 1, 0)), node("b", "2", pod("b1", "2", 1, 0))},
			preemptor: pod("p", "2", 100, 10), wantNode: "b", wantVictims: []string{"b1"}},
		{name: "equal or higher priority pods are not victims",
			nodes:     lister{node("a", "1", pod("same", "1", 100, 0))},
			preemptor: pod("p", "1", 100, 10), wantMsg: "no node where evicting"},
		{name: "evicting everything is not enough",
			nodes:     lister{node("a", "1", pod("low", "1", 1, 0))},
			preemptor: pod("p", "2", 100, 10), wantMsg: "no node where evicting"},
		{name: "unresolvable nodes are skipped",
			nodes:      lister{node("a", "1", pod("low", "1", 1, 0))},
			unresolved: []string{"a"},
			preemptor:  pod("p", "1", 100, 10), wantMsg: "no node where evicting"},
		{name: "preemptionPolicy Never",
			nodes:     lister{node("a", "1", pod("low", "1", 1, 0))},
			preemptor: func() *corev1.Pod { p := pod("p", "1", 100, 10); p.Spec.PreemptionPolicy = &never; return p }(),
			wantMsg:   "preemptionPolicy=Never"},
		{name: "waits for earlier victims to leave its nominated node",
			nodes: lister{node("a", "2", terminating(pod("going", "1", 1, 0)), pod("low", "1", 1, 0))},
			preemptor: func() *corev1.Pod {
				p := pod("p", "2", 100, 10)
				p.Status.NominatedNodeName = "a"
				return p
			}(),
			wantMsg: "waiting for lower-priority pods on node a to terminate"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var fw *framework.Framework
			pl := New(tc.nodes, runner{&fw})
			var err error
			fw, err = framework.New("p", []framework.WeightedPlugin{{Plugin: noderesources.NewFit()}, {Plugin: pl}, {Plugin: nopBinder{}}})
			if err != nil {
				t.Fatal(err)
			}
			state := framework.NewCycleState()
			statuses := map[string]*framework.Status{}
			if st := fw.RunPreFilterPlugins(context.Background(), state, tc.preemptor, tc.nodes); !st.IsSuccess() {
				t.Fatal(st.Message())
			}
			for _, n := range tc.nodes {
				st := fw.RunFilterPlugins(context.Background(), state, tc.preemptor, n)
				if slices.Contains(tc.unresolved, n.Name()) {
					st = framework.NewStatus(framework.UnschedulableAndUnresolvable, "node(s) didn't match Pod's node affinity/selector")
				}
				if st.IsSuccess() {
					t.Fatalf("preemptor fits node %s without preemption", n.Name())
				}
				statuses[n.Name()] = st
			}
			before := fmt.Sprint(tc.nodes[0].Requested)
			res, st := fw.RunPostFilterPlugins(context.Background(), state, tc.preemptor, statuses)
			if after := fmt.Sprint(tc.nodes[0].Requested); after != before {
				t.Fatalf("PostFilter changed the node: %s -> %s", before, after)
			}
			if tc.wantMsg != "" {
				if res != nil || !strings.Contains(st.Message(), tc.wantMsg) {
					t.Fatalf("result %+v status %q, want no result and %q", res, st.Message(), tc.wantMsg)
				}
				return
			}
			if res == nil {
				t.Fatalf("no result: %s", st.Message())
			}
			var victims []string
			for _, v := range res.Victims {
				victims = append(victims, v.Name)
			}
			slices.Sort(victims)
			if res.NominatedNode != tc.wantNode || !slices.Equal(victims, tc.wantVictims) {
				t.Fatalf("node %s victims %v, want %s %v", res.NominatedNode, victims, tc.wantNode, tc.wantVictims)
			}
		})
	}
}

type runner struct{ fw **framework.Framework }

func (r runner) RunFilterPlugins(ctx context.Context, s *framework.CycleState, p *corev1.Pod, n *framework.NodeInfo) *framework.Status {
	return (*r.fw).RunFilterPlugins(ctx, s, p, n)
}
func (r runner) RunPreFilterPlugins(ctx context.Context, s *framework.CycleState, p *corev1.Pod, n []*framework.NodeInfo) *framework.Status {
	return (*r.fw).RunPreFilterPlugins(ctx, s, p, n)
}
