package nodeunschedulable

import (
	"context"
	"slices"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/berth-dev/berth/internal/scheduler/framework"
)

// Tolerations used by the tests.
var (
	tolUnschedulable          = corev1.Toleration{Key: corev1.TaintNodeUnschedulable, Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoSchedule}
	tolUnschedulableNoExecute = corev1.Toleration{Key: corev1.TaintNodeUnschedulable, Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoExecute}
	tolNotReady               = corev1.Toleration{Key: corev1.TaintNodeNotReady, Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoSchedule}
	tolNotReadyAnyEffect      = corev1.Toleration{Key: corev1.TaintNodeNotReady, Operator: corev1.TolerationOpExists}
	tolUnreachable            = corev1.Toleration{Key: corev1.TaintNodeUnreachable, Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoSchedule}
	tolEverything             = corev1.Toleration{Operator: corev1.TolerationOpExists}
	tolOther                  = corev1.Toleration{Key: "dedicated", Operator: corev1.TolerationOpEqual, Value: "gpu", Effect: corev1.TaintEffectNoSchedule}
	tolWrongValue             = corev1.Toleration{Key: corev1.TaintNodeUnschedulable, Operator: corev1.TolerationOpEqual, Value: "x", Effect: corev1.TaintEffectNoSchedule}
	tolEqualNoValue           = corev1.Toleration{Key: corev1.TaintNodeUnschedulable, Operator: corev1.TolerationOpEqual, Effect: corev1.TaintEffectNoSchedule}
	tolGt                     = corev1.Toleration{Key: corev1.TaintNodeNotReady, Operator: corev1.TolerationOpGt, Value: "1", Effect: corev1.TaintEffectNoSchedule}
	// The tolerations the API server adds to every pod.
	tolDefaults = []corev1.Toleration{
		{Key: corev1.TaintNodeNotReady, Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoExecute, TolerationSeconds: ptr(int64(300))},
		{Key: corev1.TaintNodeUnreachable, Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoExecute, TolerationSeconds: ptr(int64(300))},
	}
)

func ptr[T any](v T) *T { return &v }

// podWith returns a pod with tolerations.
func podWith(tols ...corev1.Toleration) *corev1.Pod {
	return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p"}, Spec: corev1.PodSpec{Tolerations: tols}}
}

// nodeWith returns the info of a node, cordoned or not, whose Ready
// condition has status ready ("" for no Ready condition).
func nodeWith(unschedulable bool, ready corev1.ConditionStatus) *framework.NodeInfo {
	n := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "n1"}, Spec: corev1.NodeSpec{Unschedulable: unschedulable}}
	n.Status.Conditions = []corev1.NodeCondition{
		{Type: corev1.NodeMemoryPressure, Status: corev1.ConditionFalse},
		{Type: corev1.NodeDiskPressure, Status: corev1.ConditionFalse},
	}
	if ready != "" {
		n.Status.Conditions = append(n.Status.Conditions, corev1.NodeCondition{Type: corev1.NodeReady, Status: ready})
	}
	return framework.NewNodeInfo(n)
}

// check asserts that st is success (reason "") or a rejection with
// UnschedulableAndUnresolvable and reason.
func check(t *testing.T, st *framework.Status, reason string) {
	t.Helper()
	if reason == "" {
		if !st.IsSuccess() {
			t.Fatalf("Filter: %v %q, want success", st.Code(), st.Message())
		}
		return
	}
	if st.Code() != framework.UnschedulableAndUnresolvable {
		t.Errorf("code = %v, want UnschedulableAndUnresolvable", st.Code())
	}
	if want := []string{reason}; !slices.Equal(st.Reasons(), want) {
		t.Errorf("reasons = %q, want %q", st.Reasons(), want)
	}
}

func TestUnschedulable(t *testing.T) {
	const rejected = "node(s) were unschedulable"
	tests := []struct {
		name          string
		unschedulable bool
		tols          []corev1.Toleration
		reason        string // "" for success
	}{
		{name: "schedulable node"},
		{name: "cordoned node", unschedulable: true, reason: rejected},
		{name: "cordoned node, default tolerations", unschedulable: true, tols: tolDefaults, reason: rejected},
		{name: "tolerates the taint", unschedulable: true, tols: []corev1.Toleration{tolOther, tolUnschedulable}},
		{name: "tolerates every taint", unschedulable: true, tols: []corev1.Toleration{tolEverything}},
		{name: "Equal with the empty value", unschedulable: true, tols: []corev1.Toleration{tolEqualNoValue}},
		{name: "Equal with another value", unschedulable: true, tols: []corev1.Toleration{tolWrongValue}, reason: rejected},
		{name: "NoExecute effect only", unschedulable: true, tols: []corev1.Toleration{tolUnschedulableNoExecute}, reason: rejected},
		{name: "other key", unschedulable: true, tols: []corev1.Toleration{tolOther}, reason: rejected},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			st := NewUnschedulable().Filter(context.Background(), framework.NewCycleState(), podWith(tc.tols...), nodeWith(tc.unschedulable, corev1.ConditionTrue))
			check(t, st, tc.reason)
		})
	}
}

func TestReady(t *testing.T) {
	const rejected = "node(s) were not ready"
	tests := []struct {
		name     string
		cordoned bool
		ready    corev1.ConditionStatus // "" for no Ready condition
		tols     []corev1.Toleration
		reason   string // "" for success
	}{
		{name: "ready", ready: corev1.ConditionTrue},
		{name: "ready, cordoned is not this plugin's business", cordoned: true, ready: corev1.ConditionTrue},
		{name: "not ready", ready: corev1.ConditionFalse, reason: rejected},
		{name: "unknown", ready: corev1.ConditionUnknown, reason: rejected},
		{name: "no Ready condition", ready: "", reason: rejected},
		{name: "not ready, tolerated", ready: corev1.ConditionFalse, tols: []corev1.Toleration{tolNotReady}},
		{name: "not ready, tolerated with any effect", ready: corev1.ConditionFalse, tols: []corev1.Toleration{tolNotReadyAnyEffect}},
		{name: "not ready, tolerates everything", ready: corev1.ConditionFalse, tols: []corev1.Toleration{tolEverything}},
		{name: "no Ready condition, tolerated", ready: "", tols: []corev1.Toleration{tolNotReady}},
		{name: "not ready, unreachable tolerated", ready: corev1.ConditionFalse, tols: []corev1.Toleration{tolUnreachable}, reason: rejected},
		{name: "unknown, unreachable tolerated", ready: corev1.ConditionUnknown, tols: []corev1.Toleration{tolOther, tolUnreachable}},
		{name: "unknown, tolerates everything", ready: corev1.ConditionUnknown, tols: []corev1.Toleration{tolEverything}},
		{name: "unknown, not-ready tolerated", ready: corev1.ConditionUnknown, tols: []corev1.Toleration{tolNotReady}, reason: rejected},
		{name: "not ready, default NoExecute tolerations", ready: corev1.ConditionFalse, tols: tolDefaults, reason: rejected},
		{name: "unknown, default NoExecute tolerations", ready: corev1.ConditionUnknown, tols: tolDefaults, reason: rejected},
		{name: "not ready, Gt operator", ready: corev1.ConditionFalse, tols: []corev1.Toleration{tolGt}, reason: rejected},
		{name: "not ready, other key", ready: corev1.ConditionFalse, tols: []corev1.Toleration{tolOther}, reason: rejected},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			st := NewReady().Filter(context.Background(), framework.NewCycleState(), podWith(tc.tols...), nodeWith(tc.cordoned, tc.ready))
			check(t, st, tc.reason)
		})
	}
}

func TestFilterWithoutNode(t *testing.T) {
	for _, p := range []framework.FilterPlugin{NewUnschedulable(), NewReady()} {
		if st := p.Filter(context.Background(), framework.NewCycleState(), podWith(), &framework.NodeInfo{}); st.Code() != framework.Error {
			t.Errorf("%s: code = %v, want Error", p.Name(), st.Code())
		}
	}
}

func TestNames(t *testing.T) {
	if got := NewUnschedulable().Name(); got != "NodeUnschedulable" {
		t.Errorf("Unschedulable name = %q", got)
	}
	if got := NewReady().Name(); got != "NodeReady" {
		t.Errorf("Ready name = %q", got)
	}
}

func TestFilterDoesNotAllocate(t *testing.T) {
	ctx := context.Background()
	state := framework.NewCycleState()
	p := podWith(tolDefaults...)
	cases := []struct {
		plugin framework.FilterPlugin
		pod    *corev1.Pod
		node   *framework.NodeInfo
	}{
		{NewUnschedulable(), p, nodeWith(false, corev1.ConditionTrue)},
		{NewUnschedulable(), podWith(tolUnschedulable), nodeWith(true, corev1.ConditionTrue)},
		{NewReady(), p, nodeWith(false, corev1.ConditionTrue)},
		{NewReady(), podWith(tolOther, tolNotReady), nodeWith(false, corev1.ConditionFalse)},
	}
	for _, c := range cases {
		allocs := testing.AllocsPerRun(100, func() {
			if st := c.plugin.Filter(ctx, state, c.pod, c.node); st != nil {
				t.Fatalf("%s: %v", c.plugin.Name(), st.AsError())
			}
		})
		if allocs != 0 {
			t.Errorf("%s Filter allocates %v times per call, want 0", c.plugin.Name(), allocs)
		}
	}
}
