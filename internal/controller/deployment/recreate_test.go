package deployment

import (
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestPlanRecreate(t *testing.T) {
	d := recreateDeployment(3)
	oldFull := testRS(d, "v1", 3, 3, 0, 1)
	oldOther := testRS(d, "v0", 1, 1, 1, 1)
	oldZero := testRS(d, "v1", 0, 0, 0, 1)
	newRS := testRS(d, "v2", 0, 0, 5, 2)
	newFull := testRS(d, "v2", 3, 3, 5, 2)
	tests := []struct {
		name    string
		newRS   *appsv1.ReplicaSet
		old     []*appsv1.ReplicaSet
		running bool
		want    RecreateStep
	}{
		{"old RSs go to 0 first", nil, []*appsv1.ReplicaSet{oldFull, oldOther}, true,
			RecreateStep{Scales: []Scale{{RS: oldFull, To: 0}, {RS: oldOther, To: 0}}}},
		{"even if the new RS exists", newRS, []*appsv1.ReplicaSet{oldFull}, true, RecreateStep{Scales: []Scale{{RS: oldFull, To: 0}}}},
		{"wait for old pods", nil, []*appsv1.ReplicaSet{oldZero}, true, RecreateStep{Wait: true}},
		{"then create the new RS", nil, []*appsv1.ReplicaSet{oldZero}, false, RecreateStep{CreateNew: true}},
		{"or scale it up", newRS, []*appsv1.ReplicaSet{oldZero}, false, RecreateStep{Scales: []Scale{{RS: newRS, To: 3}}}},
		{"done", newFull, []*appsv1.ReplicaSet{oldZero}, false, RecreateStep{}},
		{"first rollout", nil, nil, false, RecreateStep{CreateNew: true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := PlanRecreate(d, tt.newRS, tt.old, tt.running)
			if got.Wait != tt.want.Wait || got.CreateNew != tt.want.CreateNew || len(got.Scales) != len(tt.want.Scales) {
				t.Fatalf("got %+v, want %+v", got, tt.want)
			}
			for i := range got.Scales {
				if got.Scales[i].RS.Name != tt.want.Scales[i].RS.Name || got.Scales[i].To != tt.want.Scales[i].To {
					t.Fatalf("scale %d: got %s→%d, want %s→%d", i, got.Scales[i].RS.Name, got.Scales[i].To, tt.want.Scales[i].RS.Name, tt.want.Scales[i].To)
				}
			}
		})
	}
}

func TestOldPodsRunning(t *testing.T) {
	d := recreateDeployment(3)
	old := testRS(d, "v1", 0, 0, 0, 1)
	old.Status.Replicas = 0
	newRS := testRS(d, "v2", 3, 0, 5, 2)
	pod := func(owner *appsv1.ReplicaSet, phase corev1.PodPhase) *corev1.Pod {
		p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: "ns"}, Status: corev1.PodStatus{Phase: phase}}
		if owner != nil {
			p.OwnerReferences = []metav1.OwnerReference{*metav1.NewControllerRef(owner, appsv1.SchemeGroupVersion.WithKind("ReplicaSet"))}
		}
		return p
	}
	tests := []struct {
		name string
		pods []*corev1.Pod
		want bool
	}{
		{"no pods", nil, false},
		{"new RS pods don't count", []*corev1.Pod{pod(newRS, corev1.PodRunning)}, false},
		{"orphans don't count", []*corev1.Pod{pod(nil, corev1.PodRunning)}, false},
		{"finished old pods don't count", []*corev1.Pod{pod(old, corev1.PodSucceeded), pod(old, corev1.PodFailed)}, false},
		{"running old pod", []*corev1.Pod{pod(old, corev1.PodRunning)}, true},
		{"pending old pod", []*corev1.Pod{pod(old, corev1.PodPending)}, true},
		{"unknown old pod", []*corev1.Pod{pod(old, corev1.PodUnknown)}, true},
	}
	for _, tt := range tests {
		if got := OldPodsRunning(newRS, []*appsv1.ReplicaSet{old}, tt.pods); got != tt.want {
			t.Errorf("%s: %v, want %v", tt.name, got, tt.want)
		}
	}
	old.Status.Replicas = 1
	if !OldPodsRunning(newRS, []*appsv1.ReplicaSet{old}, nil) {
		t.Error("old RS status.replicas 1: want running")
	}
}
