package job

import (
	"sort"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// jobKind is the group/version/kind written into pods' ownerReferences.
var jobKind = batchv1.SchemeGroupVersion.WithKind("Job")

// podCounts classifies the pods of a Job.
type podCounts struct {
	active      []*corev1.Pod // neither finished nor terminating
	ready       int32         // active pods whose Ready condition is True
	terminating int32         // being deleted, not finished
	succeeded   int32
	failed      int32
	// lastFailure is when the latest failed pod finished; failuresSince is
	// how many pods failed after the latest success finished.
	lastFailure   time.Time
	failuresSince int32
}

func finished(p *corev1.Pod) bool {
	return p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed
}

func podReady(p *corev1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// finishTime is when a finished pod's last container terminated, else when
// its Ready condition last changed, else when it was created.
func finishTime(p *corev1.Pod) time.Time {
	var t time.Time
	for _, cs := range p.Status.ContainerStatuses {
		if term := cs.State.Terminated; term != nil && term.FinishedAt.After(t) {
			t = term.FinishedAt.Time
		}
	}
	if !t.IsZero() {
		return t
	}
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady && !c.LastTransitionTime.IsZero() {
			return c.LastTransitionTime.Time
		}
	}
	return p.CreationTimestamp.Time
}

// countPods classifies pods into active, terminating, succeeded and failed.
func countPods(pods []*corev1.Pod) podCounts {
	var c podCounts
	var lastSuccess time.Time
	var failTimes []time.Time
	for _, p := range pods {
		switch {
		case p.Status.Phase == corev1.PodSucceeded:
			c.succeeded++
			if t := finishTime(p); t.After(lastSuccess) {
				lastSuccess = t
			}
		case p.Status.Phase == corev1.PodFailed:
			c.failed++
			t := finishTime(p)
			failTimes = append(failTimes, t)
			if t.After(c.lastFailure) {
				c.lastFailure = t
			}
		case p.DeletionTimestamp != nil:
			c.terminating++
		default:
			c.active = append(c.active, p)
			if podReady(p) {
				c.ready++
			}
		}
	}
	for _, t := range failTimes {
		if lastSuccess.IsZero() || t.After(lastSuccess) {
			c.failuresSince++
		}
	}
	return c
}

// rankForDeletion orders active pods so the cheapest to lose come first:
// unscheduled, then pending, then not ready, then the most recently created.
func rankForDeletion(pods []*corev1.Pod) []*corev1.Pod {
	out := append([]*corev1.Pod(nil), pods...)
	score := func(p *corev1.Pod) int {
		switch {
		case p.Spec.NodeName == "":
			return 0
		case p.Status.Phase == corev1.PodPending || p.Status.Phase == "":
			return 1
		case !podReady(p):
			return 2
		}
		return 3
	}
	sort.SliceStable(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if sa, sb := score(a), score(b); sa != sb {
			return sa < sb
		}
		if !a.CreationTimestamp.Equal(&b.CreationTimestamp) {
			return a.CreationTimestamp.After(b.CreationTimestamp.Time)
		}
		return a.Name < b.Name
	})
	return out
}

// newPod builds a pod of job from its template: generateName "<job>-",
// the template's labels, annotations and finalizers, and a controller
// ownerReference to the Job.
func newPod(job *batchv1.Job) *corev1.Pod {
	t := job.Spec.Template.DeepCopy()
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{
			GenerateName:    job.Name + "-",
			Namespace:       job.Namespace,
			Labels:          t.Labels,
			Annotations:     t.Annotations,
			Finalizers:      t.Finalizers,
			OwnerReferences: []metav1.OwnerReference{*metav1.NewControllerRef(job, jobKind)},
		},
		Spec: t.Spec,
	}
}
