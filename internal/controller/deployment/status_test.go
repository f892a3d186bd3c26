package deployment

import (
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestCalculateStatus(t *testing.T) {
	d := rollingDeployment(4, i1, i1)
	d.Generation = 5
	d.Status.CollisionCount = ptr(int32(2))
	old := testRS(d, "v1", 2, 2, 0, 1)
	newRS := testRS(d, "v2", 3, 1, 1, 2)
	newRS.Status.ReadyReplicas = 2
	st := CalculateStatus(d, []*appsv1.ReplicaSet{old, newRS, nil}, newRS, t0)
	want := appsv1.DeploymentStatus{ObservedGeneration: 5, Replicas: 5, UpdatedReplicas: 3, ReadyReplicas: 4, AvailableReplicas: 3, UnavailableReplicas: 2, CollisionCount: ptr(int32(2))}
	got := st
	got.Conditions = nil
	if got.String() != want.String() {
		t.Errorf("status\n got %v\nwant %v", got.String(), want.String())
	}
	if c := GetCondition(&st, appsv1.DeploymentAvailable); c == nil || c.Status != corev1.ConditionTrue || c.Reason != ReasonMinAvailable {
		t.Errorf("available 3 of 4 with maxUnavailable 1: %+v", c)
	}
	newRS.Status.AvailableReplicas = 0
	st = CalculateStatus(d, []*appsv1.ReplicaSet{old, newRS}, newRS, t0)
	if c := GetCondition(&st, appsv1.DeploymentAvailable); c == nil || c.Status != corev1.ConditionFalse || c.Reason != ReasonMinUnavailable ||
		c.Message != "Deployment does not have minimum availability." {
		t.Errorf("available 2 of 4 with maxUnavailable 1: %+v", c)
	}
	if st := CalculateStatus(d, nil, nil, t0); st.Replicas != 0 || st.UpdatedReplicas != 0 {
		t.Errorf("no ReplicaSets: %v", st)
	}
	newRS.Status.TerminatingReplicas = ptr(int32(2))
	if st := CalculateStatus(d, []*appsv1.ReplicaSet{old, newRS}, newRS, t0); st.TerminatingReplicas != nil {
		t.Errorf("terminating = %d with a ReplicaSet not reporting it, want nil", *st.TerminatingReplicas)
	}
	old.Status.TerminatingReplicas = ptr(int32(1))
	if st := CalculateStatus(d, []*appsv1.ReplicaSet{old, newRS, nil}, newRS, t0); st.TerminatingReplicas == nil || *st.TerminatingReplicas != 3 {
		t.Errorf("terminating = %v, want 3", st.TerminatingReplicas)
	}
}

func TestSetCondition(t *testing.T) {
	var st appsv1.DeploymentStatus
	SetCondition(&st, NewCondition(appsv1.DeploymentProgressing, corev1.ConditionTrue, ReasonNewRSCreated, "a", t0))
	SetCondition(&st, NewCondition(appsv1.DeploymentProgressing, corev1.ConditionTrue, ReasonNewRSCreated, "b", t0.Add(time.Minute)))
	c := GetCondition(&st, appsv1.DeploymentProgressing)
	if c.Message != "a" || !c.LastUpdateTime.Time.Equal(t0) {
		t.Errorf("same status and reason must not change the condition: %+v", c)
	}
	SetCondition(&st, NewCondition(appsv1.DeploymentProgressing, corev1.ConditionTrue, ReasonRSUpdated, "c", t0.Add(time.Minute)))
	c = GetCondition(&st, appsv1.DeploymentProgressing)
	if c.Reason != ReasonRSUpdated || !c.LastTransitionTime.Time.Equal(t0) || !c.LastUpdateTime.Time.Equal(t0.Add(time.Minute)) {
		t.Errorf("same status keeps the transition time: %+v", c)
	}
	SetCondition(&st, NewCondition(appsv1.DeploymentProgressing, corev1.ConditionFalse, ReasonTimedOut, "d", t0.Add(2*time.Minute)))
	c = GetCondition(&st, appsv1.DeploymentProgressing)
	if !c.LastTransitionTime.Time.Equal(t0.Add(2 * time.Minute)) {
		t.Errorf("a status change moves the transition time: %+v", c)
	}
	if len(st.Conditions) != 1 {
		t.Errorf("%d conditions, want 1", len(st.Conditions))
	}
	RemoveCondition(&st, appsv1.DeploymentProgressing)
	if len(st.Conditions) != 0 {
		t.Error("not removed")
	}
}

// progressingDeployment is a 3-replica deployment in the middle of a
// rollout: status as last written and its Progressing condition.
func progressingDeployment(reason string, status corev1.ConditionStatus, updated time.Time) *appsv1.Deployment {
	d := rollingDeployment(3, i1, i0)
	d.Spec.ProgressDeadlineSeconds = ptr(int32(10))
	d.Status = appsv1.DeploymentStatus{ObservedGeneration: 1, Replicas: 4, UpdatedReplicas: 1, ReadyReplicas: 3, AvailableReplicas: 3, UnavailableReplicas: 1}
	c := NewCondition(appsv1.DeploymentProgressing, status, reason, "x", updated)
	d.Status.Conditions = []appsv1.DeploymentCondition{c}
	return d
}

func TestRolloutStatus(t *testing.T) {
	mid := func(d *appsv1.Deployment) (*appsv1.ReplicaSet, []*appsv1.ReplicaSet) {
		return testRS(d, "v2", 1, 0, 1, 2), []*appsv1.ReplicaSet{testRS(d, "v1", 3, 3, 0, 1)}
	}
	tests := []struct {
		name       string
		d          *appsv1.Deployment
		rss        func(*appsv1.Deployment) (*appsv1.ReplicaSet, []*appsv1.ReplicaSet)
		now        time.Time
		wantReason string
		wantStatus corev1.ConditionStatus
		wantMsg    string
		wantUpdate time.Time
	}{
		{"no progress, within deadline", progressingDeployment(ReasonRSUpdated, corev1.ConditionTrue, t0), mid, t0.Add(5 * time.Second),
			ReasonRSUpdated, corev1.ConditionTrue, "x", t0},
		{"no progress, past deadline", progressingDeployment(ReasonRSUpdated, corev1.ConditionTrue, t0), mid, t0.Add(11 * time.Second),
			ReasonTimedOut, corev1.ConditionFalse, `ReplicaSet "NEW" has timed out progressing.`, t0.Add(11 * time.Second)},
		{"timed out stays timed out", progressingDeployment(ReasonTimedOut, corev1.ConditionFalse, t0), mid, t0.Add(time.Hour),
			ReasonTimedOut, corev1.ConditionFalse, "x", t0},
		{"progress refreshes the update time", progressingDeployment(ReasonNewRSCreated, corev1.ConditionTrue, t0),
			func(d *appsv1.Deployment) (*appsv1.ReplicaSet, []*appsv1.ReplicaSet) {
				n, o := mid(d)
				n.Status.AvailableReplicas, n.Status.ReadyReplicas = 1, 1 // 4 available now
				return n, o
			}, t0.Add(time.Hour), ReasonRSUpdated, corev1.ConditionTrue, `ReplicaSet "NEW" is progressing.`, t0.Add(time.Hour)},
		{"complete", progressingDeployment(ReasonRSUpdated, corev1.ConditionTrue, t0),
			func(d *appsv1.Deployment) (*appsv1.ReplicaSet, []*appsv1.ReplicaSet) {
				return testRS(d, "v2", 3, 3, 1, 2), []*appsv1.ReplicaSet{testRS(d, "v1", 0, 0, 0, 1)}
			}, t0.Add(time.Hour), ReasonNewRSAvailable, corev1.ConditionTrue, `ReplicaSet "NEW" has successfully progressed.`, t0.Add(time.Hour)},
		{"resumed without progress times out from the resume", progressingDeployment(ReasonResumed, corev1.ConditionUnknown, t0), mid, t0.Add(11 * time.Second),
			ReasonTimedOut, corev1.ConditionFalse, `ReplicaSet "NEW" has timed out progressing.`, t0.Add(11 * time.Second)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			newRS, old := tt.rss(tt.d)
			st := RolloutStatus(tt.d, withNew(old, newRS), newRS, tt.now)
			c := GetCondition(&st, appsv1.DeploymentProgressing)
			tt.wantMsg = strings.ReplaceAll(tt.wantMsg, "NEW", newRS.Name)
			if c == nil || c.Reason != tt.wantReason || c.Status != tt.wantStatus || c.Message != tt.wantMsg || !c.LastUpdateTime.Time.Equal(tt.wantUpdate) {
				t.Fatalf("Progressing = %+v, want %s/%s %q updated %v", c, tt.wantStatus, tt.wantReason, tt.wantMsg, tt.wantUpdate)
			}
		})
	}
}

func TestRolloutStatusNoDeadline(t *testing.T) {
	d := progressingDeployment(ReasonRSUpdated, corev1.ConditionTrue, t0)
	d.Spec.ProgressDeadlineSeconds = nil
	st := RolloutStatus(d, nil, nil, t0.Add(time.Hour))
	if GetCondition(&st, appsv1.DeploymentProgressing) != nil {
		t.Error("Progressing kept without a deadline")
	}
}

func TestRolloutStatusReplicaFailure(t *testing.T) {
	d := progressingDeployment(ReasonRSUpdated, corev1.ConditionTrue, t0)
	newRS := testRS(d, "v2", 1, 0, 1, 2)
	newRS.Status.Conditions = []appsv1.ReplicaSetCondition{{Type: appsv1.ReplicaSetReplicaFailure, Status: corev1.ConditionTrue,
		Reason: "FailedCreate", Message: "quota", LastTransitionTime: metav1.NewTime(t0)}}
	st := RolloutStatus(d, []*appsv1.ReplicaSet{newRS}, newRS, t0)
	if c := GetCondition(&st, appsv1.DeploymentReplicaFailure); c == nil || c.Reason != "FailedCreate" || c.Message != "quota" {
		t.Errorf("ReplicaFailure = %+v", c)
	}
	d.Status = st
	newRS.Status.Conditions = nil
	st = RolloutStatus(d, []*appsv1.ReplicaSet{newRS}, newRS, t0)
	if GetCondition(&st, appsv1.DeploymentReplicaFailure) != nil {
		t.Error("ReplicaFailure kept after the ReplicaSet recovered")
	}
}

func TestStuckRequeue(t *testing.T) {
	d := progressingDeployment(ReasonRSUpdated, corev1.ConditionTrue, t0)
	st := d.Status
	if got := StuckRequeue(d, &st, t0.Add(4*time.Second)); got != 7*time.Second {
		t.Errorf("6 s before the deadline: requeue after %v, want 7s", got)
	}
	if got := StuckRequeue(d, &st, t0.Add(9500*time.Millisecond)); got <= 0 || got > time.Second {
		t.Errorf("just before the deadline: requeue after %v, want soon", got)
	}
	for name, d := range map[string]*appsv1.Deployment{
		"timed out": progressingDeployment(ReasonTimedOut, corev1.ConditionFalse, t0),
		"no deadline": func() *appsv1.Deployment {
			d := progressingDeployment(ReasonRSUpdated, corev1.ConditionTrue, t0)
			d.Spec.ProgressDeadlineSeconds = nil
			return d
		}(),
	} {
		st := d.Status
		if got := StuckRequeue(d, &st, t0); got >= 0 {
			t.Errorf("%s: requeue after %v, want none", name, got)
		}
	}
	done := appsv1.DeploymentStatus{ObservedGeneration: 1, Replicas: 3, UpdatedReplicas: 3, AvailableReplicas: 3}
	if got := StuckRequeue(d, &done, t0); got >= 0 {
		t.Errorf("complete: requeue after %v, want none", got)
	}
}

func TestSetPausedCondition(t *testing.T) {
	d := progressingDeployment(ReasonNewRSAvailable, corev1.ConditionTrue, t0)
	if SetPausedCondition(d, t0) {
		t.Error("not paused, not resumed: changed")
	}
	d.Spec.Paused = true
	if !SetPausedCondition(d, t0) {
		t.Fatal("paused: unchanged")
	}
	c := GetCondition(&d.Status, appsv1.DeploymentProgressing)
	if c.Status != corev1.ConditionUnknown || c.Reason != ReasonPaused || c.Message != "Deployment is paused" {
		t.Errorf("paused: %+v", c)
	}
	if SetPausedCondition(d, t0) {
		t.Error("paused twice: changed")
	}
	d.Spec.Paused = false
	if !SetPausedCondition(d, t0) {
		t.Fatal("resumed: unchanged")
	}
	c = GetCondition(&d.Status, appsv1.DeploymentProgressing)
	if c.Status != corev1.ConditionUnknown || c.Reason != ReasonResumed || c.Message != "Deployment is resumed" {
		t.Errorf("resumed: %+v", c)
	}
	to := progressingDeployment(ReasonTimedOut, corev1.ConditionFalse, t0)
	to.Spec.Paused = true
	if SetPausedCondition(to, t0) {
		t.Error("a timed-out rollout must keep its condition when paused")
	}
}
