package nodelifecycle

import (
	"slices"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

var t0 = time.Date(2030, 1, 1, 12, 0, 0, 0, time.UTC)

func cond(t corev1.NodeConditionType, s corev1.ConditionStatus) corev1.NodeCondition {
	return corev1.NodeCondition{Type: t, Status: s, Reason: "AgentSays", LastHeartbeatTime: metav1.NewTime(t0.Add(-time.Minute)),
		LastTransitionTime: metav1.NewTime(t0.Add(-time.Hour))}
}

func node(taints []corev1.Taint, conds ...corev1.NodeCondition) *corev1.Node {
	return &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: "n", CreationTimestamp: metav1.NewTime(t0.Add(-24 * time.Hour))},
		Spec:       corev1.NodeSpec{Taints: taints},
		Status:     corev1.NodeStatus{Conditions: conds},
	}
}

// taintSet renders taints as "key:effect" (with "@" when TimeAdded is set).
func taintSet(taints []corev1.Taint) []string {
	var out []string
	for _, t := range taints {
		s := t.Key + ":" + string(t.Effect)
		if t.TimeAdded != nil {
			s += "@"
		}
		out = append(out, s)
	}
	slices.Sort(out)
	return out
}

func TestPlanNode(t *testing.T) {
	healthy := []corev1.NodeCondition{cond(corev1.NodeReady, corev1.ConditionTrue), cond(corev1.NodeMemoryPressure, corev1.ConditionFalse),
		cond(corev1.NodeDiskPressure, corev1.ConditionFalse), cond(corev1.NodePIDPressure, corev1.ConditionFalse)}
	earlier := metav1.NewTime(t0.Add(-time.Hour))
	dedicated := corev1.Taint{Key: "dedicated", Value: "gpu", Effect: corev1.TaintEffectNoSchedule}
	unreachableOld := UnreachableNoExecute
	unreachableOld.TimeAdded = &earlier
	tests := []struct {
		name       string
		node       *corev1.Node
		stale      bool
		wantConds  bool // conditions written
		wantReady  corev1.ConditionStatus
		wantTaints []string // nil: taints unchanged
	}{
		{"healthy node", node(nil, healthy...), false, false, corev1.ConditionTrue, nil},
		{"heartbeat expired", node([]corev1.Taint{dedicated}, healthy...), true, true, corev1.ConditionUnknown,
			[]string{"dedicated:NoSchedule", "node.kubernetes.io/unreachable:NoExecute@", "node.kubernetes.io/unreachable:NoSchedule"}},
		{"already unknown and tainted", node([]corev1.Taint{unreachableOld, UnreachableNoSchedule}, cond(corev1.NodeReady, corev1.ConditionUnknown),
			cond(corev1.NodeMemoryPressure, corev1.ConditionUnknown), cond(corev1.NodeDiskPressure, corev1.ConditionUnknown),
			cond(corev1.NodePIDPressure, corev1.ConditionUnknown)), true, false, corev1.ConditionUnknown, nil},
		{"unknown but fresh again: taints stay until the agent reports", node([]corev1.Taint{unreachableOld, UnreachableNoSchedule},
			cond(corev1.NodeReady, corev1.ConditionUnknown)), false, false, corev1.ConditionUnknown, nil},
		{"agent reports ready: taints go", node([]corev1.Taint{dedicated, unreachableOld, UnreachableNoSchedule}, healthy...), false, false,
			corev1.ConditionTrue, []string{"dedicated:NoSchedule"}},
		{"agent reports not ready", node(nil, cond(corev1.NodeReady, corev1.ConditionFalse)), false, false, corev1.ConditionFalse,
			[]string{"node.kubernetes.io/not-ready:NoExecute@", "node.kubernetes.io/not-ready:NoSchedule"}},
		{"not ready turns unreachable: taints swap", node([]corev1.Taint{NotReadyNoExecute, NotReadyNoSchedule}, cond(corev1.NodeReady, corev1.ConditionFalse)),
			true, true, corev1.ConditionUnknown, []string{"node.kubernetes.io/unreachable:NoExecute@", "node.kubernetes.io/unreachable:NoSchedule"}},
		{"never posted status, not stale", node(nil), false, false, "", nil},
		{"never posted status, stale", node(nil), true, true, corev1.ConditionUnknown,
			[]string{"node.kubernetes.io/unreachable:NoExecute@", "node.kubernetes.io/unreachable:NoSchedule"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			orig := tc.node.DeepCopy()
			plan := PlanNode(tc.node, tc.stale, t0)
			if (plan.Conditions != nil) != tc.wantConds {
				t.Errorf("conditions written: %v, want %v", plan.Conditions != nil, tc.wantConds)
			}
			if plan.Ready != tc.wantReady {
				t.Errorf("Ready = %q, want %q", plan.Ready, tc.wantReady)
			}
			if tc.wantTaints == nil {
				if plan.TaintsChanged {
					t.Errorf("taints changed to %v", taintSet(plan.Taints))
				}
			} else if !plan.TaintsChanged || !slices.Equal(taintSet(plan.Taints), tc.wantTaints) {
				t.Errorf("taints %v (changed %v), want %v", taintSet(plan.Taints), plan.TaintsChanged, tc.wantTaints)
			}
			if !equalNodes(orig, tc.node) {
				t.Error("PlanNode modified its input")
			}
			for _, c := range plan.Conditions {
				if c.Status != corev1.ConditionUnknown {
					t.Errorf("condition %s = %s after a stale heartbeat", c.Type, c.Status)
				}
			}
		})
	}
}

func equalNodes(a, b *corev1.Node) bool {
	return a.String() == b.String()
}

func TestPlanNodeConditionDetails(t *testing.T) {
	n := node(nil, cond(corev1.NodeReady, corev1.ConditionTrue))
	plan := PlanNode(n, true, t0)
	ready := findCondition(plan.Conditions, corev1.NodeReady)
	if ready.Reason != "NodeStatusUnknown" || ready.Message != "Kubelet stopped posting node status." ||
		!ready.LastTransitionTime.Time.Equal(t0) || !ready.LastHeartbeatTime.Equal(&n.Status.Conditions[0].LastHeartbeatTime) {
		t.Errorf("Ready = %+v", ready)
	}
	mem := findCondition(plan.Conditions, corev1.NodeMemoryPressure)
	if mem == nil || mem.Reason != "NodeStatusNeverUpdated" || mem.Message != "Kubelet never posted node status." ||
		!mem.LastHeartbeatTime.Equal(&n.CreationTimestamp) {
		t.Errorf("MemoryPressure = %+v", mem)
	}
	kept := metav1.NewTime(t0.Add(-time.Hour))
	old := UnreachableNoExecute
	old.TimeAdded = &kept
	plan = PlanNode(node([]corev1.Taint{old}, cond(corev1.NodeReady, corev1.ConditionUnknown)), false, t0)
	for _, tt := range plan.Taints {
		if tt.MatchTaint(&UnreachableNoExecute) && !tt.TimeAdded.Equal(&kept) {
			t.Errorf("existing taint's TimeAdded changed to %v", tt.TimeAdded)
		}
		if tt.MatchTaint(&UnreachableNoSchedule) && tt.TimeAdded != nil {
			t.Errorf("NoSchedule taint has TimeAdded %v", tt.TimeAdded)
		}
	}
}

func TestEvictionDeadline(t *testing.T) {
	secs := func(s int64) *int64 { return &s }
	unreachable := TimedTaint{Taint: UnreachableNoExecute, Since: t0}
	notReady := TimedTaint{Taint: NotReadyNoExecute, Since: t0.Add(10 * time.Second)}
	custom := TimedTaint{Taint: corev1.Taint{Key: "maintenance", Value: "yes", Effect: corev1.TaintEffectNoExecute}, Since: t0}
	noSchedule := TimedTaint{Taint: UnreachableNoSchedule, Since: t0}
	tol := func(key string, s *int64) corev1.Toleration {
		return corev1.Toleration{Key: key, Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoExecute, TolerationSeconds: s}
	}
	defaults := []corev1.Toleration{tol(corev1.TaintNodeNotReady, secs(300)), tol(corev1.TaintNodeUnreachable, secs(300))}
	tests := []struct {
		name        string
		tolerations []corev1.Toleration
		taints      []TimedTaint
		want        time.Duration // offset from t0
		evict       bool
	}{
		{"no taints", nil, nil, 0, false},
		{"NoSchedule taints do not evict", nil, []TimedTaint{noSchedule}, 0, false},
		{"no toleration: at once", nil, []TimedTaint{unreachable}, 0, true},
		{"API server defaults: 300 s", defaults, []TimedTaint{unreachable}, 300 * time.Second, true},
		{"tolerationSeconds 1", []corev1.Toleration{tol(corev1.TaintNodeUnreachable, secs(1))}, []TimedTaint{unreachable}, time.Second, true},
		{"no tolerationSeconds: never", []corev1.Toleration{tol(corev1.TaintNodeUnreachable, nil)}, []TimedTaint{unreachable}, 0, false},
		{"negative seconds: at once", []corev1.Toleration{tol(corev1.TaintNodeUnreachable, secs(-5))}, []TimedTaint{unreachable}, 0, true},
		{"wildcard toleration forever", []corev1.Toleration{{Operator: corev1.TolerationOpExists}}, []TimedTaint{unreachable, custom}, 0, false},
		{"earliest of several taints", defaults, []TimedTaint{unreachable, {Taint: NotReadyNoExecute, Since: t0.Add(-200 * time.Second)}},
			100 * time.Second, true},
		{"counts from each taint's start", []corev1.Toleration{tol(corev1.TaintNodeNotReady, secs(5))}, []TimedTaint{notReady}, 15 * time.Second, true},
		{"one untolerated taint evicts at once", defaults, []TimedTaint{unreachable, custom}, 0, true},
		{"value must match with Equal", []corev1.Toleration{{Key: "maintenance", Operator: corev1.TolerationOpEqual, Value: "no", Effect: corev1.TaintEffectNoExecute}},
			[]TimedTaint{custom}, 0, true},
		{"first matching toleration decides", []corev1.Toleration{tol(corev1.TaintNodeUnreachable, secs(2)), tol(corev1.TaintNodeUnreachable, nil)},
			[]TimedTaint{unreachable}, 2 * time.Second, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			pod := &corev1.Pod{Spec: corev1.PodSpec{Tolerations: tc.tolerations}}
			got, evict := EvictionDeadline(pod, tc.taints)
			if evict != tc.evict || (evict && !got.Equal(t0.Add(tc.want))) {
				t.Errorf("EvictionDeadline = %v, %v; want t0%+v, %v", got.Sub(t0), evict, tc.want, tc.evict)
			}
		})
	}
}

func TestPodConditions(t *testing.T) {
	pod := func(conds ...corev1.PodCondition) *corev1.Pod {
		return &corev1.Pod{Status: corev1.PodStatus{Conditions: conds}}
	}
	ready := func(s corev1.ConditionStatus) corev1.PodCondition {
		return corev1.PodCondition{Type: corev1.PodReady, Status: s}
	}
	scheduled := corev1.PodCondition{Type: corev1.PodScheduled, Status: corev1.ConditionTrue}
	tests := []struct {
		name string
		pod  *corev1.Pod
		want corev1.ConditionStatus // "" means no update
	}{
		{"ready pod", pod(scheduled, ready(corev1.ConditionTrue)), corev1.ConditionFalse},
		{"unknown readiness", pod(ready(corev1.ConditionUnknown)), corev1.ConditionFalse},
		{"already not ready", pod(ready(corev1.ConditionFalse)), ""},
		{"no ready condition", pod(scheduled), ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			upd := PodNotReady(tc.pod, t0)
			if tc.want == "" {
				if upd != nil {
					t.Fatalf("PodNotReady = %+v, want nil", upd.Status)
				}
				return
			}
			if upd == nil {
				t.Fatal("PodNotReady = nil")
			}
			for _, c := range upd.Status.Conditions {
				if c.Type == corev1.PodReady && (c.Status != tc.want || !c.LastTransitionTime.Time.Equal(t0)) {
					t.Errorf("Ready = %+v", c)
				}
			}
			if tc.pod.Status.Conditions[len(tc.pod.Status.Conditions)-1].Status == corev1.ConditionFalse {
				t.Error("PodNotReady modified its input")
			}
		})
	}

	p := pod(scheduled)
	upd := WithDisruptionTarget(p, t0)
	if upd == nil || len(upd.Status.Conditions) != 2 || upd.Status.Conditions[1].Type != corev1.DisruptionTarget ||
		upd.Status.Conditions[1].Reason != ReasonDeletionByTaintManager || len(p.Status.Conditions) != 1 {
		t.Fatalf("WithDisruptionTarget = %+v", upd)
	}
	if again := WithDisruptionTarget(upd, t0); again != nil {
		t.Errorf("WithDisruptionTarget twice = %+v", again.Status.Conditions)
	}
}
