package tainttoleration

import (
	"context"
	"fmt"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/berth-dev/berth/internal/scheduler/framework"
)

func taint(key, value string, effect corev1.TaintEffect) corev1.Taint {
	return corev1.Taint{Key: key, Value: value, Effect: effect}
}

func tol(key string, op corev1.TolerationOperator, value string, effect corev1.TaintEffect) corev1.Toleration {
	return corev1.Toleration{Key: key, Operator: op, Value: value, Effect: effect}
}

// nodeWith returns a node with taints and the given number of bare pods.
func nodeWith(name string, pods int, taints ...corev1.Taint) *framework.NodeInfo {
	ni := framework.NewNodeInfo(&corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: corev1.NodeSpec{Taints: taints}})
	for i := range pods {
		ni.AddPod(framework.NewPodInfo(&corev1.Pod{ObjectMeta: metav1.ObjectMeta{
			Name: fmt.Sprintf("%s-%d", name, i), Namespace: "default", UID: types.UID(fmt.Sprintf("%s-%d", name, i)),
		}}))
	}
	return ni
}

func podTolerating(tols ...corev1.Toleration) *corev1.Pod {
	return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: "default"}, Spec: corev1.PodSpec{Tolerations: tols}}
}

func TestFilter(t *testing.T) {
	gpu := taint("dedicated", "gpu", corev1.TaintEffectNoSchedule)
	tests := []struct {
		name   string
		taints []corev1.Taint
		tols   []corev1.Toleration
		reason string // "" when the node fits
	}{
		{name: "no taints"},
		{name: "no taints, tolerations", tols: []corev1.Toleration{tol("", corev1.TolerationOpExists, "", "")}},
		{name: "NoSchedule untolerated", taints: []corev1.Taint{gpu}, reason: "node(s) had untolerated taint {dedicated: gpu}"},
		{name: "NoExecute untolerated", taints: []corev1.Taint{taint("maintenance", "true", corev1.TaintEffectNoExecute)}, reason: "node(s) had untolerated taint {maintenance: true}"},
		{name: "empty value", taints: []corev1.Taint{taint("dedicated", "", corev1.TaintEffectNoSchedule)}, reason: "node(s) had untolerated taint {dedicated: }"},
		{name: "PreferNoSchedule does not filter", taints: []corev1.Taint{taint("spot", "true", corev1.TaintEffectPreferNoSchedule)}},
		{name: "Equal tolerates", taints: []corev1.Taint{gpu}, tols: []corev1.Toleration{tol("dedicated", corev1.TolerationOpEqual, "gpu", corev1.TaintEffectNoSchedule)}},
		{name: "empty operator means Equal", taints: []corev1.Taint{gpu}, tols: []corev1.Toleration{tol("dedicated", "", "gpu", corev1.TaintEffectNoSchedule)}},
		{name: "Equal other value", taints: []corev1.Taint{gpu}, tols: []corev1.Toleration{tol("dedicated", corev1.TolerationOpEqual, "cpu", corev1.TaintEffectNoSchedule)}, reason: "node(s) had untolerated taint {dedicated: gpu}"},
		{name: "Exists tolerates any value", taints: []corev1.Taint{gpu}, tols: []corev1.Toleration{tol("dedicated", corev1.TolerationOpExists, "", corev1.TaintEffectNoSchedule)}},
		{name: "Exists other key", taints: []corev1.Taint{gpu}, tols: []corev1.Toleration{tol("other", corev1.TolerationOpExists, "", "")}, reason: "node(s) had untolerated taint {dedicated: gpu}"},
		{name: "empty key Exists tolerates everything", taints: []corev1.Taint{gpu, taint("x", "y", corev1.TaintEffectNoExecute)}, tols: []corev1.Toleration{tol("", corev1.TolerationOpExists, "", "")}},
		{name: "empty effect tolerates every effect", taints: []corev1.Taint{taint("dedicated", "gpu", corev1.TaintEffectNoExecute)}, tols: []corev1.Toleration{tol("dedicated", corev1.TolerationOpEqual, "gpu", "")}},
		{name: "effect must match", taints: []corev1.Taint{taint("dedicated", "gpu", corev1.TaintEffectNoExecute)}, tols: []corev1.Toleration{tol("dedicated", corev1.TolerationOpEqual, "gpu", corev1.TaintEffectNoSchedule)}, reason: "node(s) had untolerated taint {dedicated: gpu}"},
		{name: "PreferNoSchedule toleration does not tolerate NoSchedule", taints: []corev1.Taint{gpu}, tols: []corev1.Toleration{tol("dedicated", corev1.TolerationOpExists, "", corev1.TaintEffectPreferNoSchedule)}, reason: "node(s) had untolerated taint {dedicated: gpu}"},
		{
			name:   "first untolerated taint is reported",
			taints: []corev1.Taint{taint("a", "1", corev1.TaintEffectNoSchedule), taint("spot", "", corev1.TaintEffectPreferNoSchedule), taint("b", "2", corev1.TaintEffectNoExecute), taint("c", "3", corev1.TaintEffectNoSchedule)},
			tols:   []corev1.Toleration{tol("a", corev1.TolerationOpExists, "", "")},
			reason: "node(s) had untolerated taint {b: 2}",
		},
		{name: "Gt tolerates a larger taint value", taints: []corev1.Taint{taint("slo", "900", corev1.TaintEffectNoSchedule)}, tols: []corev1.Toleration{tol("slo", corev1.TolerationOpGt, "500", corev1.TaintEffectNoSchedule)}},
		{name: "Gt smaller taint value", taints: []corev1.Taint{taint("slo", "100", corev1.TaintEffectNoSchedule)}, tols: []corev1.Toleration{tol("slo", corev1.TolerationOpGt, "500", corev1.TaintEffectNoSchedule)}, reason: "node(s) had untolerated taint {slo: 100}"},
		{name: "Lt tolerates a smaller taint value", taints: []corev1.Taint{taint("slo", "100", corev1.TaintEffectNoSchedule)}, tols: []corev1.Toleration{tol("slo", corev1.TolerationOpLt, "500", "")}},
		{name: "Lt taint value not a number", taints: []corev1.Taint{taint("slo", "high", corev1.TaintEffectNoSchedule)}, tols: []corev1.Toleration{tol("slo", corev1.TolerationOpLt, "500", "")}, reason: "node(s) had untolerated taint {slo: high}"},
	}
	ctx := context.Background()
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			st := New().Filter(ctx, framework.NewCycleState(), podTolerating(tc.tols...), nodeWith("n", 2, tc.taints...))
			if tc.reason == "" {
				if !st.IsSuccess() {
					t.Fatalf("Filter = %v %q, want success", st.Code(), st.Message())
				}
				return
			}
			if st.Code() != framework.UnschedulableAndUnresolvable || st.Message() != tc.reason || len(st.Reasons()) != 1 {
				t.Fatalf("Filter = %v %q, want UnschedulableAndUnresolvable %q", st.Code(), st.Reasons(), tc.reason)
			}
		})
	}
}

func TestFilterNoAllocs(t *testing.T) {
	ctx := context.Background()
	state := framework.NewCycleState()
	for _, tc := range []struct {
		name string
		pod  *corev1.Pod
		node *framework.NodeInfo
	}{
		{"no taints", podTolerating(), nodeWith("n", 10)},
		{"tolerated taints", podTolerating(tol("dedicated", corev1.TolerationOpExists, "", "")), nodeWith("n", 10, taint("dedicated", "gpu", corev1.TaintEffectNoSchedule), taint("spot", "", corev1.TaintEffectPreferNoSchedule))},
	} {
		if allocs := testing.AllocsPerRun(100, func() { _ = New().Filter(ctx, state, tc.pod, tc.node) }); allocs != 0 {
			t.Errorf("%s: Filter allocates %v times per call", tc.name, allocs)
		}
	}
}

func TestScore(t *testing.T) {
	prefer := func(key string) corev1.Taint { return taint(key, "true", corev1.TaintEffectPreferNoSchedule) }
	nodes := []*framework.NodeInfo{
		nodeWith("clean", 0),
		nodeWith("one", 0, prefer("a")),
		nodeWith("two", 0, prefer("a"), prefer("b")),
		nodeWith("three", 0, prefer("a"), prefer("b"), prefer("c"), taint("d", "true", corev1.TaintEffectNoSchedule)),
	}
	tests := []struct {
		name       string
		nodes      []*framework.NodeInfo
		tols       []corev1.Toleration
		skip       bool
		raw, final []int64
	}{
		{name: "fewest untolerated taints wins", nodes: nodes, raw: []int64{0, 1, 2, 3}, final: []int64{100, 67, 34, 0}},
		{
			name: "tolerated taints do not count", nodes: nodes,
			tols: []corev1.Toleration{tol("a", corev1.TolerationOpExists, "", corev1.TaintEffectPreferNoSchedule), tol("b", corev1.TolerationOpEqual, "true", "")},
			raw:  []int64{0, 0, 0, 1}, final: []int64{100, 100, 100, 0},
		},
		{
			name: "NoSchedule toleration does not tolerate PreferNoSchedule", nodes: nodes,
			tols: []corev1.Toleration{tol("a", corev1.TolerationOpExists, "", corev1.TaintEffectNoSchedule)},
			raw:  []int64{0, 1, 2, 3}, final: []int64{100, 67, 34, 0},
		},
		{
			name: "everything tolerated: all 100", nodes: nodes,
			tols: []corev1.Toleration{tol("", corev1.TolerationOpExists, "", "")},
			raw:  []int64{0, 0, 0, 0}, final: []int64{100, 100, 100, 100},
		},
		{name: "no PreferNoSchedule taint on any node: skip", nodes: []*framework.NodeInfo{nodeWith("a", 0), nodeWith("b", 0, taint("d", "", corev1.TaintEffectNoSchedule))}, skip: true},
	}
	ctx := context.Background()
	pl := New()
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			pod := podTolerating(tc.tols...)
			state := framework.NewCycleState()
			st := pl.PreScore(ctx, state, pod, tc.nodes)
			if st.IsSkip() != tc.skip {
				t.Fatalf("PreScore = %v, want skip %v", st.Code(), tc.skip)
			}
			if tc.skip {
				return
			}
			scores := make([]framework.NodeScore, len(tc.nodes))
			for i, n := range tc.nodes {
				s, st := pl.Score(ctx, state, pod, n)
				if !st.IsSuccess() {
					t.Fatal(st.AsError())
				}
				if s != tc.raw[i] {
					t.Errorf("Score(%s) = %d, want %d", n.Name(), s, tc.raw[i])
				}
				scores[i] = framework.NodeScore{Name: n.Name(), Score: s}
			}
			if st := pl.NormalizeScore(ctx, state, pod, scores); !st.IsSuccess() {
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

func TestScoreNoAllocs(t *testing.T) {
	ctx := context.Background()
	pod := podTolerating(tol("a", corev1.TolerationOpExists, "", ""))
	n := nodeWith("n", 10, taint("a", "1", corev1.TaintEffectPreferNoSchedule), taint("b", "", corev1.TaintEffectPreferNoSchedule))
	state := framework.NewCycleState()
	if allocs := testing.AllocsPerRun(100, func() { _, _ = New().Score(ctx, state, pod, n) }); allocs != 0 {
		t.Errorf("Score allocates %v times per call", allocs)
	}
}

func TestNilNode(t *testing.T) {
	if st := New().Filter(context.Background(), framework.NewCycleState(), podTolerating(), &framework.NodeInfo{}); st.Code() != framework.Error {
		t.Fatalf("Filter on a NodeInfo without node = %v, want Error", st.Code())
	}
}

// BenchmarkFilter measures Filter for an ordinary pod on a node with 10
// pods: without taints, and with two taints the pod tolerates.
func BenchmarkFilter(b *testing.B) {
	ctx := context.Background()
	for _, bc := range []struct {
		name string
		pod  *corev1.Pod
		node *framework.NodeInfo
	}{
		{"no-taints", podTolerating(), nodeWith("n", 10)},
		{"no-taints-default-tolerations", podTolerating(
			corev1.Toleration{Key: corev1.TaintNodeNotReady, Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoExecute},
			corev1.Toleration{Key: corev1.TaintNodeUnreachable, Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoExecute},
		), nodeWith("n", 10)},
		{"tolerated-taints", podTolerating(tol("dedicated", corev1.TolerationOpExists, "", "")),
			nodeWith("n", 10, taint("dedicated", "gpu", corev1.TaintEffectNoSchedule), taint("dedicated", "gpu", corev1.TaintEffectNoExecute))},
	} {
		b.Run(bc.name, func(b *testing.B) {
			pl := New()
			state := framework.NewCycleState()
			b.ReportAllocs()
			for b.Loop() {
				if st := pl.Filter(ctx, state, bc.pod, bc.node); !st.IsSuccess() {
					b.Fatal(st.AsError())
				}
			}
		})
	}
}
