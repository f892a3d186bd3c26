package replicaset

import (
	"sort"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
)

// burstReplicas caps how many pods one reconcile creates or deletes, as
// Kubernetes does; the rest happens in the next reconcile.
const burstReplicas = 500

// claimPlan says what to do with the pods a ReplicaSet could own.
type claimPlan struct {
	// Keep are active pods the ReplicaSet already controls and that match.
	Keep []*corev1.Pod
	// Adopt are active orphans that match the selector.
	Adopt []*corev1.Pod
	// Release are active controlled pods that no longer match.
	Release []*corev1.Pod
}

// planClaims sorts candidate pods into kept, to-adopt and to-release ones.
// Inactive pods (terminating or finished) and pods controlled by someone
// else are ignored; a ReplicaSet being deleted neither adopts nor releases.
func planClaims(rs *appsv1.ReplicaSet, sel labels.Selector, pods []*corev1.Pod) claimPlan {
	var p claimPlan
	deleting := rs.DeletionTimestamp != nil
	for _, pod := range pods {
		if !isActive(pod) {
			continue
		}
		match := !sel.Empty() && sel.Matches(labels.Set(pod.Labels))
		ref := metav1.GetControllerOf(pod)
		switch {
		case ref != nil && ref.UID == rs.UID:
			if match {
				p.Keep = append(p.Keep, pod)
			} else if !deleting {
				p.Release = append(p.Release, pod)
			}
		case ref != nil:
			// Controlled by another object: not ours.
		case match && !deleting:
			p.Adopt = append(p.Adopt, pod)
		}
	}
	return p
}

// scalePlan is what a reconcile does to reach spec.replicas.
type scalePlan struct {
	// Create is the number of pods to create.
	Create int
	// Delete are the pods to delete, most deletable first.
	Delete []*corev1.Pod
}

// planScale compares the active pods with the wanted count and returns the
// pods to create or delete, at most burst of either.
func planScale(active []*corev1.Pod, replicas int32, burst int, now time.Time) scalePlan {
	diff := len(active) - int(replicas)
	switch {
	case diff < 0:
		return scalePlan{Create: min(-diff, burst)}
	case diff > 0:
		ranked := rankForDeletion(active, now)
		return scalePlan{Delete: ranked[:min(diff, burst)]}
	}
	return scalePlan{}
}

// rankForDeletion returns a copy of pods ordered from the one to delete
// first to the one to keep longest: unassigned before assigned; Pending
// before Unknown before Running; not ready before ready; ready for a
// shorter time before longer; more container restarts before fewer; newer
// before older; then by name, for a stable result.
func rankForDeletion(pods []*corev1.Pod, now time.Time) []*corev1.Pod {
	out := append([]*corev1.Pod(nil), pods...)
	sort.SliceStable(out, func(i, j int) bool { return deleteBefore(out[i], out[j], now) })
	return out
}

// deleteBefore reports whether a should be deleted before b.
func deleteBefore(a, b *corev1.Pod, now time.Time) bool {
	if (a.Spec.NodeName == "") != (b.Spec.NodeName == "") {
		return a.Spec.NodeName == ""
	}
	if pa, pb := phaseRank(a.Status.Phase), phaseRank(b.Status.Phase); pa != pb {
		return pa < pb
	}
	ra, rb := podReady(a), podReady(b)
	if ra != rb {
		return !ra
	}
	if ra {
		ta, tb := readySince(a), readySince(b)
		if !ta.Equal(tb) {
			return ta.After(tb) // ready more recently goes first
		}
	}
	if ca, cb := restarts(a), restarts(b); ca != cb {
		return ca > cb
	}
	if !a.CreationTimestamp.Equal(&b.CreationTimestamp) {
		return a.CreationTimestamp.After(b.CreationTimestamp.Time)
	}
	return a.Name < b.Name
}

// phaseRank orders phases from least to most worth keeping.
func phaseRank(p corev1.PodPhase) int {
	switch p {
	case corev1.PodPending, "":
		return 0
	case corev1.PodUnknown:
		return 1
	case corev1.PodRunning:
		return 2
	}
	return 3
}

func restarts(p *corev1.Pod) int32 {
	var n int32
	for _, c := range p.Status.ContainerStatuses {
		n = max(n, c.RestartCount)
	}
	return n
}

// statusInput is what the status of a ReplicaSet is computed from.
type statusInput struct {
	// RS is the ReplicaSet as cached.
	RS *appsv1.ReplicaSet
	// Pods are its active, matching, controlled pods.
	Pods []*corev1.Pod
	// Terminating counts its controlled pods that are being deleted.
	Terminating int32
	// ManageErr is the error of creating or deleting pods, if any, and
	// FailureReason the ReplicaFailure reason for it (FailedCreate or
	// FailedDelete).
	ManageErr     error
	FailureReason string
	// Now is the current time.
	Now time.Time
}

// computeStatus returns the new status and, when some ready pods are not
// yet available because of minReadySeconds, how long until the first of
// them becomes available (0 otherwise).
func computeStatus(in statusInput) (appsv1.ReplicaSetStatus, time.Duration) {
	rs := in.RS
	st := appsv1.ReplicaSetStatus{
		Replicas:           int32(len(in.Pods)),
		ObservedGeneration: rs.Generation,
		Conditions:         append([]appsv1.ReplicaSetCondition(nil), rs.Status.Conditions...),
	}
	if rs.Status.TerminatingReplicas != nil || in.Terminating > 0 {
		st.TerminatingReplicas = &in.Terminating
	}
	tmpl := labels.Set(rs.Spec.Template.Labels).AsSelector()
	minReady := time.Duration(rs.Spec.MinReadySeconds) * time.Second
	var wait time.Duration
	for _, p := range in.Pods {
		if tmpl.Matches(labels.Set(p.Labels)) {
			st.FullyLabeledReplicas++
		}
		if !podReady(p) {
			continue
		}
		st.ReadyReplicas++
		if minReady == 0 {
			st.AvailableReplicas++
			continue
		}
		since := readySince(p)
		if since.IsZero() {
			continue
		}
		if left := since.Add(minReady).Sub(in.Now); left > 0 {
			if wait == 0 || left < wait {
				wait = left
			}
			continue
		}
		st.AvailableReplicas++
	}
	i := conditionIndex(st.Conditions, appsv1.ReplicaSetReplicaFailure)
	switch {
	case in.ManageErr != nil && i < 0:
		st.Conditions = append(st.Conditions, appsv1.ReplicaSetCondition{
			Type: appsv1.ReplicaSetReplicaFailure, Status: corev1.ConditionTrue,
			LastTransitionTime: metav1.NewTime(in.Now), Reason: in.FailureReason, Message: in.ManageErr.Error(),
		})
	case in.ManageErr == nil && i >= 0:
		st.Conditions = append(st.Conditions[:i], st.Conditions[i+1:]...)
	}
	if len(st.Conditions) == 0 {
		st.Conditions = nil
	}
	return st, wait
}

func conditionIndex(cs []appsv1.ReplicaSetCondition, t appsv1.ReplicaSetConditionType) int {
	for i := range cs {
		if cs[i].Type == t {
			return i
		}
	}
	return -1
}

// isActive reports whether a pod counts towards replicas: not being
// deleted and not finished.
func isActive(p *corev1.Pod) bool {
	return p.DeletionTimestamp == nil && p.Status.Phase != corev1.PodSucceeded && p.Status.Phase != corev1.PodFailed
}

// podReady reports whether the pod's Ready condition is True.
func podReady(p *corev1.Pod) bool {
	c := readyCondition(p)
	return c != nil && c.Status == corev1.ConditionTrue
}

// readySince is when the Ready condition last changed (zero if unknown).
func readySince(p *corev1.Pod) time.Time {
	if c := readyCondition(p); c != nil {
		return c.LastTransitionTime.Time
	}
	return time.Time{}
}

func readyCondition(p *corev1.Pod) *corev1.PodCondition {
	for i := range p.Status.Conditions {
		if p.Status.Conditions[i].Type == corev1.PodReady {
			return &p.Status.Conditions[i]
		}
	}
	return nil
}
