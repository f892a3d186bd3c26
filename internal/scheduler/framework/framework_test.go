package framework

import (
	"context"
	"fmt"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestNumFeasibleNodesToFind(t *testing.T) {
	for _, tc := range []struct {
		total int
		pct   int32
		want  int
	}{
		{50, 0, 50}, {99, 10, 99}, {100, 0, 100}, {1000, 0, 420}, {5000, 0, 500},
		{6000, 0, 300}, {10000, 0, 500}, {1000, 100, 1000}, {1000, 5, 100}, {5000, 30, 1500},
	} {
		if got := NumFeasibleNodesToFind(tc.total, tc.pct); got != tc.want {
			t.Errorf("NumFeasibleNodesToFind(%d, %d) = %d, want %d", tc.total, tc.pct, got, tc.want)
		}
	}
}

func TestFitErrorMessage(t *testing.T) {
	e := &FitError{NumNodes: 5, Statuses: map[string]*Status{
		"a": NewStatus(Unschedulable, "Insufficient cpu"),
		"b": NewStatus(Unschedulable, "Insufficient cpu", "Insufficient memory"),
		"c": NewStatus(Unschedulable, "Insufficient cpu"),
		"d": NewStatus(UnschedulableAndUnresolvable, "node(s) had untolerated taint {dedicated: gpu}"),
		"e": NewStatus(UnschedulableAndUnresolvable, "node(s) had untolerated taint {dedicated: gpu}"),
	}}
	want := "0/5 nodes are available: 3 Insufficient cpu, 2 node(s) had untolerated taint {dedicated: gpu}, 1 Insufficient memory."
	if got := e.Error(); got != want {
		t.Fatalf("got  %q\nwant %q", got, want)
	}
	if !e.Resolvable() {
		t.Fatal("cpu shortage should be resolvable by preemption")
	}
	onlyTaints := &FitError{NumNodes: 1, Statuses: map[string]*Status{"d": NewStatus(UnschedulableAndUnresolvable, "x")}}
	if onlyTaints.Resolvable() {
		t.Fatal("unresolvable-only rejection reported resolvable")
	}
	if got := (&FitError{}).Error(); !strings.Contains(got, "0/0 nodes") {
		t.Fatalf("no nodes: %q", got)
	}
}

// slotFilter admits pods on nodes with free "pods" allocatable and counts calls.
type slotFilter struct{ calls int }

func (f *slotFilter) Name() string { return "Slots" }
func (f *slotFilter) Filter(_ context.Context, _ *CycleState, _ *corev1.Pod, n *NodeInfo) *Status {
	f.calls++
	if n.Requested.Pods >= n.Allocatable.Pods {
		return NewStatus(Unschedulable, "Too many pods")
	}
	return nil
}

// nameScore prefers nodes whose name ends in "7".
type nameScore struct{}

func (nameScore) Name() string { return "Name7" }
func (nameScore) Score(_ context.Context, _ *CycleState, _ *corev1.Pod, n *NodeInfo) (int64, *Status) {
	if strings.HasSuffix(n.Name(), "7") {
		return 100, nil
	}
	return 0, nil
}

type nopBinder struct{}

func (nopBinder) Name() string                                                   { return "Nop" }
func (nopBinder) Bind(context.Context, *CycleState, *corev1.Pod, string) *Status { return nil }

func nodes(n int, pods string) []*NodeInfo {
	out := make([]*NodeInfo, n)
	for i := range out {
		out[i] = NewNodeInfo(&corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("n%04d", i)},
			Status: corev1.NodeStatus{Allocatable: corev1.ResourceList{corev1.ResourcePods: resource.MustParse(pods)}}})
	}
	return out
}

func TestScheduleSamplesAndScores(t *testing.T) {
	filter := &slotFilter{}
	fw, err := New("p", []WeightedPlugin{{Plugin: filter}, {Plugin: nameScore{}, Weight: 2}, {Plugin: nopBinder{}}})
	if err != nil {
		t.Fatal(err)
	}
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p"}}
	all := nodes(1000, "1")
	res, err := fw.Schedule(context.Background(), NewCycleState(), pod, all, ScheduleOptions{Start: 990})
	if err != nil {
		t.Fatal(err)
	}
	// Adaptive: 42 % of 1000 = 420 nodes evaluated from 990, wrapping around.
	if res.Evaluated != 420 || res.Feasible != 420 || res.Next != (990+420)%1000 || filter.calls != 420 {
		t.Fatalf("result %+v, filter calls %d", res, filter.calls)
	}
	if !strings.HasSuffix(res.Node, "7") {
		t.Fatalf("chose %s, want a node ending in 7", res.Node)
	}
	// Fill every node: the error names the reason for all of them.
	for _, n := range all {
		n.AddPod(NewPodInfo(&corev1.Pod{ObjectMeta: metav1.ObjectMeta{UID: "x"}}))
	}
	_, err = fw.Schedule(context.Background(), NewCycleState(), pod, all, ScheduleOptions{})
	if err == nil || err.Error() != "0/1000 nodes are available: 1000 Too many pods." {
		t.Fatalf("err = %v", err)
	}
}

func TestNewRejectsBadProfiles(t *testing.T) {
	if _, err := New("p", []WeightedPlugin{{Plugin: &slotFilter{}}}); err == nil {
		t.Error("profile without binder accepted")
	}
	if _, err := New("p", []WeightedPlugin{{Plugin: nopBinder{}}, {Plugin: nopBinder{}}}); err == nil {
		t.Error("duplicate plugin accepted")
	}
	if _, err := New("p", []WeightedPlugin{{Plugin: nameScore{}, Weight: -1}, {Plugin: nopBinder{}}}); err == nil {
		t.Error("negative weight accepted")
	}
}

func TestPodRequests(t *testing.T) {
	always := corev1.ContainerRestartPolicyAlways
	rl := func(cpu, mem string) corev1.ResourceRequirements {
		return corev1.ResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse(cpu), corev1.ResourceMemory: resource.MustParse(mem)}}
	}
	for _, tc := range []struct {
		name       string
		spec       corev1.PodSpec
		cpu, nzCPU int64
		mem        int64
	}{
		{"empty", corev1.PodSpec{Containers: []corev1.Container{{}}}, 0, DefaultMilliCPURequest, 0},
		{"sum", corev1.PodSpec{Containers: []corev1.Container{{Resources: rl("100m", "1Ki")}, {Resources: rl("200m", "1Ki")}}}, 300, 300, 2048},
		{"init max", corev1.PodSpec{InitContainers: []corev1.Container{{Resources: rl("2", "1Ki")}},
			Containers: []corev1.Container{{Resources: rl("100m", "1Ki")}}}, 2000, 2000, 1024},
		{"sidecar adds", corev1.PodSpec{InitContainers: []corev1.Container{{Resources: rl("500m", "1Ki"), RestartPolicy: &always}},
			Containers: []corev1.Container{{Resources: rl("100m", "1Ki")}}}, 600, 600, 2048},
		{"overhead", corev1.PodSpec{Containers: []corev1.Container{{Resources: rl("100m", "1Ki")}},
			Overhead: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("50m")}}, 150, 150, 1024},
	} {
		req, nz := PodRequests(&corev1.Pod{Spec: tc.spec})
		if req.MilliCPU != tc.cpu || nz.MilliCPU != tc.nzCPU || req.Memory != tc.mem || req.Pods != 1 {
			t.Errorf("%s: req %+v nonzero %+v", tc.name, req, nz)
		}
	}
}
