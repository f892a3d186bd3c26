package deployment

import (
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

// RecreateStep is one Recreate step.
type RecreateStep struct {
	// Scales resizes ReplicaSets: old ones to 0, or the new one to
	// spec.replicas.
	Scales []Scale
	// Wait means old pods are still running; nothing else may happen.
	Wait bool
	// CreateNew means the new ReplicaSet is to be created now.
	CreateNew bool
}

// PlanRecreate is one Recreate step: scale every old ReplicaSet to 0,
// wait until none of their pods runs, then create the new ReplicaSet or
// scale it to spec.replicas.
func PlanRecreate(d *appsv1.Deployment, newRS *appsv1.ReplicaSet, oldRSs []*appsv1.ReplicaSet, oldPodsRunning bool) RecreateStep {
	if active := sortedByAge(activeOnly(oldRSs)); len(active) > 0 {
		var st RecreateStep
		for _, rs := range active {
			st.Scales = append(st.Scales, Scale{RS: rs, To: 0})
		}
		return st
	}
	if oldPodsRunning {
		return RecreateStep{Wait: true}
	}
	if newRS == nil {
		return RecreateStep{CreateNew: true}
	}
	if specOf(newRS) != desired(d) {
		return RecreateStep{Scales: []Scale{{RS: newRS, To: desired(d)}}}
	}
	return RecreateStep{}
}

// OldPodsRunning reports whether old ReplicaSets still have pods: their
// status says so, or one of pods controlled by them has not finished
// (terminating pods count).
func OldPodsRunning(newRS *appsv1.ReplicaSet, oldRSs []*appsv1.ReplicaSet, pods []*corev1.Pod) bool {
	if sumStatus(oldRSs, statusReplicas) > 0 {
		return true
	}
	old := map[types.UID]bool{}
	for _, rs := range oldRSs {
		if rs != nil && (newRS == nil || rs.UID != newRS.UID) {
			old[rs.UID] = true
		}
	}
	for _, p := range pods {
		ref := metav1.GetControllerOfNoCopy(p)
		if ref == nil || !old[ref.UID] {
			continue
		}
		if p.Status.Phase != corev1.PodFailed && p.Status.Phase != corev1.PodSucceeded {
			return true
		}
	}
	return false
}
