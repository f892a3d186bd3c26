package job

import (
	"fmt"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

var t0 = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

func mtime(t time.Time) *metav1.Time { m := metav1.NewTime(t); return &m }

// testJob is a Job with completions and parallelism (nil completions for
// the work-queue mode), started at t0-10s.
func testJob(completions *int32, parallelism int32, mods ...func(*batchv1.Job)) *batchv1.Job {
	j := &batchv1.Job{
		ObjectMeta: metav1.ObjectMeta{Name: "pi", Namespace: "ns", UID: "job-uid"},
		Spec: batchv1.JobSpec{Completions: completions, Parallelism: ptrTo(parallelism), BackoffLimit: ptrTo(int32(6)),
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{batchv1.ControllerUidLabel: "job-uid"}}},
		Status: batchv1.JobStatus{StartTime: mtime(t0.Add(-10 * time.Second))},
	}
	for _, m := range mods {
		m(j)
	}
	return j
}

// tpod builds a pod: state is Pending (unscheduled), Running, Ready,
// Succeeded, Failed or Terminating; finished pods end at t0+age.
func tpod(name, state string, age time.Duration) *corev1.Pod {
	p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "ns", CreationTimestamp: metav1.NewTime(t0.Add(-time.Minute))}}
	switch state {
	case "Pending":
		p.Status.Phase = corev1.PodPending
	case "Running", "Ready", "Terminating":
		p.Spec.NodeName, p.Status.Phase = "n1", corev1.PodRunning
		if state == "Ready" {
			p.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue}}
		}
		if state == "Terminating" {
			p.DeletionTimestamp = mtime(t0)
		}
	case "Succeeded", "Failed":
		p.Spec.NodeName, p.Status.Phase = "n1", corev1.PodPhase(state)
		p.Status.ContainerStatuses = []corev1.ContainerStatus{{State: corev1.ContainerState{
			Terminated: &corev1.ContainerStateTerminated{FinishedAt: metav1.NewTime(t0.Add(age))}}}}
	}
	return p
}

func pods(state string, n int) []*corev1.Pod {
	var out []*corev1.Pod
	for i := 0; i < n; i++ {
		out = append(out, tpod(fmt.Sprintf("%s-%d", state, i), state, -time.Minute))
	}
	return out
}

func join(lists ...[]*corev1.Pod) []*corev1.Pod {
	var out []*corev1.Pod
	for _, l := range lists {
		out = append(out, l...)
	}
	return out
}

func withCond(t batchv1.JobConditionType, s corev1.ConditionStatus, reason string, at time.Time) func(*batchv1.Job) {
	return func(j *batchv1.Job) {
		j.Status.Conditions = append(j.Status.Conditions, batchv1.JobCondition{Type: t, Status: s, Reason: reason, LastTransitionTime: metav1.NewTime(at)})
	}
}

func conds(st batchv1.JobStatus) []string {
	var out []string
	for _, c := range st.Conditions {
		out = append(out, fmt.Sprintf("%s=%s/%s", c.Type, c.Status, c.Reason))
	}
	return out
}

func names(ps []*corev1.Pod) []string {
	var out []string
	for _, p := range ps {
		out = append(out, p.Name)
	}
	return out
}

func reasons(evs []event) []string {
	var out []string
	for _, e := range evs {
		out = append(out, e.reason)
	}
	return out
}
