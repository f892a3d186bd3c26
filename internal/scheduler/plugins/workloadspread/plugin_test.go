package workloadspread

import (
	"context"
	"fmt"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/berth-dev/berth/internal/scheduler/framework"
)

var seq int

// pod returns a pod owned by owner ("" for a bare pod); controller says
// whether the reference is the controller one.
func pod(owner types.UID, controller bool) *corev1.Pod {
	seq++
	p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("p%d", seq), Namespace: "default", UID: types.UID(fmt.Sprintf("uid-%d", seq))}}
	if owner != "" {
		p.OwnerReferences = []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "ReplicaSet", Name: string(owner), UID: owner, Controller: &controller}}
	}
	return p
}

func deleting(p *corev1.Pod) *corev1.Pod {
	now := metav1.Now()
	p.DeletionTimestamp = &now
	return p
}

func node(name string, pods ...*corev1.Pod) *framework.NodeInfo {
	ni := framework.NewNodeInfo(&corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name}})
	for _, p := range pods {
		ni.AddPod(framework.NewPodInfo(p))
	}
	return ni
}

func TestControllerUID(t *testing.T) {
	f, tr := false, true
	multi := pod("", false)
	multi.OwnerReferences = []metav1.OwnerReference{{UID: "a", Controller: &f}, {UID: "b"}, {UID: "c", Controller: &tr}}
	for _, tc := range []struct {
		name string
		pod  *corev1.Pod
		want types.UID
	}{
		{"bare", pod("", false), ""},
		{"controller", pod("rs", true), "rs"},
		{"owner but not controller", pod("rs", false), ""},
		{"controller among owners", multi, "c"},
	} {
		if got := ControllerUID(tc.pod); got != tc.want {
			t.Errorf("%s: ControllerUID = %q, want %q", tc.name, got, tc.want)
		}
		if got := framework.NewPodInfo(tc.pod).Owner; got != tc.want {
			t.Errorf("%s: PodInfo.Owner = %q, want %q", tc.name, got, tc.want)
		}
	}
}

func TestScore(t *testing.T) {
	tests := []struct {
		name       string
		pod        *corev1.Pod
		nodes      []*framework.NodeInfo
		skip       bool
		raw, final []int64
	}{
		{
			name: "fewest pods of the workload wins",
			pod:  pod("rs", true),
			nodes: []*framework.NodeInfo{
				node("n0"),
				node("n1", pod("rs", true), pod("other", true), pod("", false)),
				node("n2", pod("rs", true), pod("rs", true)),
				node("n3", pod("rs", true), pod("rs", true), pod("rs", true), pod("rs", true)),
			},
			raw:   []int64{0, 1, 2, 4},
			final: []int64{100, 75, 50, 0},
		},
		{
			name: "minimum above zero still scores 100",
			pod:  pod("rs", true),
			nodes: []*framework.NodeInfo{
				node("n0", pod("rs", true), pod("rs", true)),
				node("n1", pod("rs", true), pod("rs", true), pod("rs", true)),
				node("n2", pod("rs", true), pod("rs", true), pod("rs", true), pod("rs", true), pod("rs", true)),
			},
			raw:   []int64{2, 3, 5},
			final: []int64{100, 66, 0},
		},
		{
			name:  "all equal: all 100",
			pod:   pod("rs", true),
			nodes: []*framework.NodeInfo{node("n0", pod("rs", true)), node("n1", pod("rs", true), pod("x", true))},
			raw:   []int64{1, 1},
			final: []int64{100, 100},
		},
		{
			name:  "no pods of the workload: all 100",
			pod:   pod("rs", true),
			nodes: []*framework.NodeInfo{node("n0"), node("n1", pod("x", true))},
			raw:   []int64{0, 0},
			final: []int64{100, 100},
		},
		{
			name:  "pods being deleted do not count",
			pod:   pod("rs", true),
			nodes: []*framework.NodeInfo{node("n0", deleting(pod("rs", true)), deleting(pod("rs", true))), node("n1", pod("rs", true))},
			raw:   []int64{0, 1},
			final: []int64{100, 0},
		},
		{
			name:  "non-controller owner reference does not count",
			pod:   pod("rs", true),
			nodes: []*framework.NodeInfo{node("n0", pod("rs", false)), node("n1", pod("rs", true))},
			raw:   []int64{0, 1},
			final: []int64{100, 0},
		},
		{name: "bare pod: skip", pod: pod("", false), nodes: []*framework.NodeInfo{node("n0")}, skip: true},
		{name: "owner but not controller: skip", pod: pod("rs", false), nodes: []*framework.NodeInfo{node("n0")}, skip: true},
	}
	ctx := context.Background()
	pl := New()
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			state := framework.NewCycleState()
			st := pl.PreScore(ctx, state, tc.pod, tc.nodes)
			if st.IsSkip() != tc.skip {
				t.Fatalf("PreScore = %v, want skip %v", st.Code(), tc.skip)
			}
			if tc.skip {
				return
			}
			scores := make([]framework.NodeScore, len(tc.nodes))
			for i, n := range tc.nodes {
				s, st := pl.Score(ctx, state, tc.pod, n)
				if !st.IsSuccess() {
					t.Fatal(st.AsError())
				}
				if s != tc.raw[i] {
					t.Errorf("Score(%s) = %d, want %d", n.Name(), s, tc.raw[i])
				}
				scores[i] = framework.NodeScore{Name: n.Name(), Score: s}
			}
			if st := pl.NormalizeScore(ctx, state, tc.pod, scores); !st.IsSuccess() {
				t.Fatal(st.AsError())
			}
			for i := range scores {
				if scores[i].Score != tc.final[i] {
					t.Errorf("normalized %s = %d, want %d", scores[i].Name, scores[i].Score, tc.final[i])
				}
			}
		})
	}
}

// binder satisfies framework.New.
type binder struct{}

func (binder) Name() string { return "Binder" }
func (binder) Bind(context.Context, *framework.CycleState, *corev1.Pod, string) *framework.Status {
	return nil
}

// TestSchedule places a workload's pods one by one through the framework:
// they go round the nodes.
func TestSchedule(t *testing.T) {
	fw, err := framework.New("default", []framework.WeightedPlugin{{Plugin: New(), Weight: 1}, {Plugin: binder{}}})
	if err != nil {
		t.Fatal(err)
	}
	nodes := []*framework.NodeInfo{node("n0", pod("x", true)), node("n1"), node("n2")}
	counts := map[string]int{}
	for range 9 {
		p := pod("rs", true)
		res, err := fw.Schedule(context.Background(), framework.NewCycleState(), p, nodes, framework.ScheduleOptions{})
		if err != nil {
			t.Fatal(err)
		}
		counts[res.Node]++
		for _, n := range nodes {
			if n.Name() == res.Node {
				n.AddPod(framework.NewPodInfo(p))
			}
		}
	}
	for _, n := range nodes {
		if counts[n.Name()] != 3 {
			t.Fatalf("placements %v, want 3 per node", counts)
		}
	}
}

func TestNormalizeEmpty(t *testing.T) {
	if st := New().NormalizeScore(context.Background(), nil, nil, nil); !st.IsSuccess() {
		t.Fatal(st.AsError())
	}
}

// benchUID is a UID of the usual length; owners differ in the last
// characters only, the slowest case for comparing them.
func benchUID(i int) types.UID {
	return types.UID(fmt.Sprintf("7c3e9a52-1f0b-4d6e-9a8c-0000000000%02d", i))
}

// benchNode is a node with 10 pods, 4 of them of workload benchUID(0),
// 3 of other workloads and 3 bare.
func benchNode() *framework.NodeInfo {
	n := node("n")
	for i := range 10 {
		switch {
		case i%3 == 0:
			n.AddPod(framework.NewPodInfo(pod(benchUID(0), true)))
		case i%3 == 1:
			n.AddPod(framework.NewPodInfo(pod(benchUID(i), true)))
		default:
			n.AddPod(framework.NewPodInfo(pod("", false)))
		}
	}
	return n
}

func TestScoreNoAllocs(t *testing.T) {
	ctx := context.Background()
	n := benchNode()
	p := pod(benchUID(0), true)
	state := framework.NewCycleState()
	if allocs := testing.AllocsPerRun(100, func() { _, _ = New().Score(ctx, state, p, n) }); allocs != 0 {
		t.Errorf("Score allocates %v times per call", allocs)
	}
}

// BenchmarkScore measures Score for an owned pod on a node with 10 pods.
func BenchmarkScore(b *testing.B) {
	ctx := context.Background()
	n := benchNode()
	p := pod(benchUID(0), true)
	pl := New()
	state := framework.NewCycleState()
	if st := pl.PreScore(ctx, state, p, []*framework.NodeInfo{n}); !st.IsSuccess() {
		b.Fatal(st.AsError())
	}
	b.ReportAllocs()
	for b.Loop() {
		if s, _ := pl.Score(ctx, state, p, n); s != 4 {
			b.Fatalf("Score = %d, want 4", s)
		}
	}
}
