package nodename

import (
	"context"
	"slices"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/berth-dev/berth/internal/scheduler/framework"
)

func TestNodeName(t *testing.T) {
	tests := []struct {
		name     string
		nodeName string // the pod's spec.nodeName
		skip     bool   // PreFilter returns Skip
		rejected bool
	}{
		{name: "no node name", nodeName: "", skip: true},
		{name: "this node", nodeName: "n1"},
		{name: "other node", nodeName: "n2", rejected: true},
	}
	ctx := context.Background()
	n := framework.NewNodeInfo(&corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "n1"}})
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := &corev1.Pod{Spec: corev1.PodSpec{NodeName: tc.nodeName}}
			pl := New()
			if st := pl.PreFilter(ctx, framework.NewCycleState(), p, nil); st.IsSkip() != tc.skip || !tc.skip && !st.IsSuccess() {
				t.Errorf("PreFilter code = %v, want skip=%v", st.Code(), tc.skip)
			}
			st := pl.Filter(ctx, framework.NewCycleState(), p, n)
			if !tc.rejected {
				if !st.IsSuccess() {
					t.Fatalf("Filter: %v %q, want success", st.Code(), st.Message())
				}
				return
			}
			if st.Code() != framework.UnschedulableAndUnresolvable {
				t.Errorf("code = %v, want UnschedulableAndUnresolvable", st.Code())
			}
			if want := []string{"node(s) didn't match the requested node name"}; !slices.Equal(st.Reasons(), want) {
				t.Errorf("reasons = %q, want %q", st.Reasons(), want)
			}
		})
	}
}

func TestFilterWithoutNode(t *testing.T) {
	st := New().Filter(context.Background(), framework.NewCycleState(), &corev1.Pod{}, &framework.NodeInfo{})
	if st.Code() != framework.Error {
		t.Fatalf("code = %v, want Error", st.Code())
	}
}

func TestFilterDoesNotAllocate(t *testing.T) {
	ctx := context.Background()
	n := framework.NewNodeInfo(&corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "n1"}})
	p := &corev1.Pod{Spec: corev1.PodSpec{NodeName: "n1"}}
	state := framework.NewCycleState()
	if allocs := testing.AllocsPerRun(100, func() { New().Filter(ctx, state, p, n) }); allocs != 0 {
		t.Errorf("Filter allocates %v times per call, want 0", allocs)
	}
}
