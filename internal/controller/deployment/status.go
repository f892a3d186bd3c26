package deployment

import (
	"fmt"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Condition reasons, as Kubernetes writes them.
const (
	// ReasonNewRSCreated (Progressing True): the new ReplicaSet was created.
	ReasonNewRSCreated = "NewReplicaSetCreated"
	// ReasonFoundNewRS (Progressing True): an existing new ReplicaSet was found.
	ReasonFoundNewRS = "FoundNewReplicaSet"
	// ReasonRSUpdated (Progressing True): the rollout made progress.
	ReasonRSUpdated = "ReplicaSetUpdated"
	// ReasonNewRSAvailable (Progressing True): the rollout is complete.
	ReasonNewRSAvailable = "NewReplicaSetAvailable"
	// ReasonTimedOut (Progressing False): no progress within the deadline.
	ReasonTimedOut = "ProgressDeadlineExceeded"
	// ReasonPaused (Progressing Unknown): the Deployment is paused.
	ReasonPaused = "DeploymentPaused"
	// ReasonResumed (Progressing Unknown): the Deployment was resumed.
	ReasonResumed = "DeploymentResumed"
	// ReasonFailedRSCreate (Progressing False, and a Warning event): the
	// new ReplicaSet could not be created.
	ReasonFailedRSCreate = "FailedRSCreate"
	// ReasonMinAvailable (Available True): at least replicas-maxUnavailable
	// pods are available.
	ReasonMinAvailable = "MinimumReplicasAvailable"
	// ReasonMinUnavailable (Available False): fewer are.
	ReasonMinUnavailable = "MinimumReplicasUnavailable"
)

// NewCondition returns a condition last updated and transitioned at now.
func NewCondition(t appsv1.DeploymentConditionType, status corev1.ConditionStatus, reason, msg string, now time.Time) appsv1.DeploymentCondition {
	ts := metav1.NewTime(now)
	return appsv1.DeploymentCondition{Type: t, Status: status, Reason: reason, Message: msg, LastUpdateTime: ts, LastTransitionTime: ts}
}

// GetCondition returns the condition of type t in st, or nil.
func GetCondition(st *appsv1.DeploymentStatus, t appsv1.DeploymentConditionType) *appsv1.DeploymentCondition {
	for i := range st.Conditions {
		if st.Conditions[i].Type == t {
			return &st.Conditions[i]
		}
	}
	return nil
}

// SetCondition puts c into st: a condition of the same type with the same
// status and reason stays as it is; with the same status its transition
// time is kept.
func SetCondition(st *appsv1.DeploymentStatus, c appsv1.DeploymentCondition) {
	if cur := GetCondition(st, c.Type); cur != nil {
		if cur.Status == c.Status && cur.Reason == c.Reason {
			return
		}
		if cur.Status == c.Status {
			c.LastTransitionTime = cur.LastTransitionTime
		}
	}
	RemoveCondition(st, c.Type)
	st.Conditions = append(st.Conditions, c)
}

// RemoveCondition drops the condition of type t from st.
func RemoveCondition(st *appsv1.DeploymentStatus, t appsv1.DeploymentConditionType) {
	var out []appsv1.DeploymentCondition
	for _, c := range st.Conditions {
		if c.Type != t {
			out = append(out, c)
		}
	}
	st.Conditions = out
}

// CalculateStatus derives d's status from its ReplicaSets: counts from
// their status (unavailable from their spec; terminating only when every
// ReplicaSet reports it), observedGeneration,
// the Available condition, the other conditions kept as they are.
func CalculateStatus(d *appsv1.Deployment, all []*appsv1.ReplicaSet, newRS *appsv1.ReplicaSet, now time.Time) appsv1.DeploymentStatus {
	available := sumStatus(all, statusAvailable)
	st := appsv1.DeploymentStatus{
		ObservedGeneration:  d.Generation,
		Replicas:            sumStatus(all, statusReplicas),
		UpdatedReplicas:     sumStatus([]*appsv1.ReplicaSet{newRS}, statusReplicas),
		ReadyReplicas:       sumStatus(all, statusReady),
		AvailableReplicas:   available,
		UnavailableReplicas: max(sumSpec(all)-available, 0),
		TerminatingReplicas: terminating(all),
		CollisionCount:      d.Status.CollisionCount,
	}
	for _, c := range d.Status.Conditions {
		st.Conditions = append(st.Conditions, *c.DeepCopy())
	}
	if available >= desired(d)-MaxUnavailable(d) {
		SetCondition(&st, NewCondition(appsv1.DeploymentAvailable, corev1.ConditionTrue, ReasonMinAvailable, "Deployment has minimum availability.", now))
	} else {
		SetCondition(&st, NewCondition(appsv1.DeploymentAvailable, corev1.ConditionFalse, ReasonMinUnavailable, "Deployment does not have minimum availability.", now))
	}
	return st
}

// terminating adds the ReplicaSets' terminating pods; nil unless every
// ReplicaSet reports them.
func terminating(all []*appsv1.ReplicaSet) *int32 {
	var n int32
	for _, rs := range all {
		if rs == nil {
			continue
		}
		if rs.Status.TerminatingReplicas == nil {
			return nil
		}
		n += *rs.Status.TerminatingReplicas
	}
	return &n
}

// Complete reports whether st shows d fully rolled out: all replicas
// updated and available, none old, the current generation observed.
func Complete(d *appsv1.Deployment, st *appsv1.DeploymentStatus) bool {
	n := desired(d)
	return st.UpdatedReplicas == n && st.Replicas == n && st.AvailableReplicas == n && st.ObservedGeneration >= d.Generation
}

// progressing reports whether st shows progress over d's current status.
func progressing(d *appsv1.Deployment, st *appsv1.DeploymentStatus) bool {
	old := &d.Status
	return st.UpdatedReplicas > old.UpdatedReplicas ||
		st.Replicas-st.UpdatedReplicas < old.Replicas-old.UpdatedReplicas ||
		st.ReadyReplicas > old.ReadyReplicas ||
		st.AvailableReplicas > old.AvailableReplicas
}

// timedOut reports whether d's rollout, per st, has made no progress for
// longer than its deadline.
func timedOut(d *appsv1.Deployment, st *appsv1.DeploymentStatus, now time.Time) bool {
	if !hasProgressDeadline(d) {
		return false
	}
	c := GetCondition(st, appsv1.DeploymentProgressing)
	switch {
	case c == nil || c.Reason == ReasonNewRSAvailable:
		return false
	case c.Reason == ReasonTimedOut:
		return true
	}
	return c.LastUpdateTime.Add(time.Duration(*d.Spec.ProgressDeadlineSeconds) * time.Second).Before(now)
}

// RolloutStatus is d's status during a rollout: CalculateStatus plus the
// Progressing condition (NewReplicaSetAvailable when complete,
// ReplicaSetUpdated with a fresh update time on progress,
// ProgressDeadlineExceeded after the deadline passed without progress)
// and the ReplicaFailure condition of its ReplicaSets.
func RolloutStatus(d *appsv1.Deployment, all []*appsv1.ReplicaSet, newRS *appsv1.ReplicaSet, now time.Time) appsv1.DeploymentStatus {
	st := CalculateStatus(d, all, newRS, now)
	if !hasProgressDeadline(d) {
		RemoveCondition(&st, appsv1.DeploymentProgressing)
	}
	cur := GetCondition(&d.Status, appsv1.DeploymentProgressing)
	done := st.Replicas == st.UpdatedReplicas && cur != nil && cur.Reason == ReasonNewRSAvailable
	if hasProgressDeadline(d) && !done {
		subject := fmt.Sprintf("Deployment %q", d.Name)
		if newRS != nil {
			subject = fmt.Sprintf("ReplicaSet %q", newRS.Name)
		}
		switch {
		case Complete(d, &st):
			SetCondition(&st, NewCondition(appsv1.DeploymentProgressing, corev1.ConditionTrue, ReasonNewRSAvailable, subject+" has successfully progressed.", now))
		case progressing(d, &st):
			c := NewCondition(appsv1.DeploymentProgressing, corev1.ConditionTrue, ReasonRSUpdated, subject+" is progressing.", now)
			if cur != nil && cur.Status == corev1.ConditionTrue {
				c.LastTransitionTime = cur.LastTransitionTime
			}
			RemoveCondition(&st, appsv1.DeploymentProgressing)
			SetCondition(&st, c)
		case timedOut(d, &st, now):
			SetCondition(&st, NewCondition(appsv1.DeploymentProgressing, corev1.ConditionFalse, ReasonTimedOut, subject+" has timed out progressing.", now))
		}
	}
	if f := replicaFailure(all, newRS); f != nil {
		SetCondition(&st, *f)
	} else {
		RemoveCondition(&st, appsv1.DeploymentReplicaFailure)
	}
	return st
}

// replicaFailure returns the ReplicaFailure condition of the new
// ReplicaSet, else of any other, as a Deployment condition.
func replicaFailure(all []*appsv1.ReplicaSet, newRS *appsv1.ReplicaSet) *appsv1.DeploymentCondition {
	for _, rs := range append([]*appsv1.ReplicaSet{newRS}, all...) {
		if rs == nil {
			continue
		}
		for _, c := range rs.Status.Conditions {
			if c.Type == appsv1.ReplicaSetReplicaFailure {
				return &appsv1.DeploymentCondition{
					Type: appsv1.DeploymentReplicaFailure, Status: c.Status, Reason: c.Reason, Message: c.Message,
					LastUpdateTime: c.LastTransitionTime, LastTransitionTime: c.LastTransitionTime,
				}
			}
		}
	}
	return nil
}

// StuckRequeue is when to look at d again to check its progress deadline
// when a sync changed nothing (newStatus equals d's status); negative
// means not needed (no deadline, complete, or already timed out).
func StuckRequeue(d *appsv1.Deployment, newStatus *appsv1.DeploymentStatus, now time.Time) time.Duration {
	c := GetCondition(&d.Status, appsv1.DeploymentProgressing)
	if !hasProgressDeadline(d) || c == nil || Complete(d, newStatus) || c.Reason == ReasonTimedOut {
		return -1
	}
	after := c.LastUpdateTime.Add(time.Duration(*d.Spec.ProgressDeadlineSeconds) * time.Second).Sub(now)
	if after < time.Second {
		return 200 * time.Millisecond
	}
	return after + time.Second
}

// SetPausedCondition keeps d's Progressing condition in step with
// spec.paused (Unknown DeploymentPaused / DeploymentResumed) unless the
// rollout already timed out, and reports whether it changed.
func SetPausedCondition(d *appsv1.Deployment, now time.Time) bool {
	if !hasProgressDeadline(d) {
		return false
	}
	c := GetCondition(&d.Status, appsv1.DeploymentProgressing)
	if c != nil && c.Reason == ReasonTimedOut {
		return false
	}
	paused := c != nil && c.Reason == ReasonPaused
	switch {
	case d.Spec.Paused && !paused:
		SetCondition(&d.Status, NewCondition(appsv1.DeploymentProgressing, corev1.ConditionUnknown, ReasonPaused, "Deployment is paused", now))
	case !d.Spec.Paused && paused:
		SetCondition(&d.Status, NewCondition(appsv1.DeploymentProgressing, corev1.ConditionUnknown, ReasonResumed, "Deployment is resumed", now))
	default:
		return false
	}
	return true
}
