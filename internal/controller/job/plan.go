package job

import (
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Condition reasons and messages, as Kubernetes writes them.
const (
	reasonBackoffLimitExceeded = "BackoffLimitExceeded"
	reasonDeadlineExceeded     = "DeadlineExceeded"
	reasonCompletionsReached   = "CompletionsReached"
	reasonSuspended            = "JobSuspended"
	reasonResumed              = "JobResumed"

	msgBackoffLimit = "Job has reached the specified backoff limit"
	msgDeadline     = "Job was active longer than specified deadline"
	msgCompletions  = "Reached expected number of succeeded pods"
)

// Back-off between pod failures: base × 2^(failures-1), at most max.
const (
	defaultBackoffBase = 10 * time.Second
	defaultBackoffMax  = 6 * time.Minute
)

// maxCreatesPerSync bounds the pods one reconcile creates.
const maxCreatesPerSync = 500

// input is what planJob decides from.
type input struct {
	job  *batchv1.Job
	pods []*corev1.Pod // the pods the Job controls
	now  time.Time
	// canManage is false while pod creations or deletions are still to be
	// observed: the plan then creates and deletes nothing.
	canManage               bool
	backoffBase, backoffMax time.Duration
}

// event is an Event to emit on the Job once its status is written.
type event struct{ typ, reason, message string }

// plan is what a reconcile does.
type plan struct {
	create int           // pods to create
	delete []*corev1.Pod // pods to delete
	status batchv1.JobStatus
	events []event
	// requeue > 0 asks for another reconcile after that long (back-off,
	// active deadline, TTL).
	requeue time.Duration
	// deleteJob deletes the finished Job (its TTL expired).
	deleteJob bool
}

func (p *plan) requeueIn(d time.Duration) {
	if d > 0 && (p.requeue == 0 || d < p.requeue) {
		p.requeue = d
	}
}

// planJob decides the pods to create and delete, the status and the events
// of a NonIndexed Job.
func planJob(in input) plan {
	j := in.job
	now := metav1.NewTime(in.now).Rfc3339Copy()
	c := countPods(in.pods)
	p := plan{status: *j.Status.DeepCopy()}
	st := &p.status
	st.Active = int32(len(c.active))
	st.Ready = ptrTo(c.ready)
	st.Terminating = ptrTo(c.terminating)
	st.Succeeded = max(st.Succeeded, c.succeeded)
	st.Failed = max(st.Failed, c.failed)
	if in.canManage {
		p.delete = c.active // every branch but the last keeps no pods
	}
	allGone := len(c.active) == 0 && c.terminating == 0

	if at, ok := finishedAt(st); ok {
		p.deleteJob, p.requeue = ttlDue(j.Spec.TTLSecondsAfterFinished, at, in.now)
		return p
	}
	if ft := condition(st, batchv1.JobFailureTarget); ft != nil && ft.Status == corev1.ConditionTrue {
		p.fail(ft.Reason, ft.Message, allGone, now)
		return p
	}
	if sc := condition(st, batchv1.JobSuccessCriteriaMet); sc != nil && sc.Status == corev1.ConditionTrue {
		p.complete(allGone, now)
		return p
	}
	if j.Spec.Suspend != nil && *j.Spec.Suspend {
		if setCondition(st, batchv1.JobSuspended, corev1.ConditionTrue, reasonSuspended, "Job suspended", now) {
			p.events = append(p.events, event{corev1.EventTypeNormal, "Suspended", "Job suspended"})
		}
		if allGone {
			st.StartTime = nil // the active deadline restarts on resume
		}
		return p
	}
	if s := condition(st, batchv1.JobSuspended); s != nil && s.Status == corev1.ConditionTrue {
		setCondition(st, batchv1.JobSuspended, corev1.ConditionFalse, reasonResumed, "Job resumed", now)
		p.events = append(p.events, event{corev1.EventTypeNormal, "Resumed", "Job resumed"})
		st.StartTime = &now
	}
	if st.StartTime == nil {
		st.StartTime = &now
	}
	limit := int32(defaultBackoffLimit)
	if j.Spec.BackoffLimit != nil {
		limit = *j.Spec.BackoffLimit
	}
	var deadlineLeft time.Duration
	if d := j.Spec.ActiveDeadlineSeconds; d != nil {
		deadlineLeft = st.StartTime.Add(time.Duration(*d) * time.Second).Sub(in.now)
	}
	switch {
	case st.Failed > limit:
		p.failureTarget(reasonBackoffLimitExceeded, msgBackoffLimit, allGone, now)
		return p
	case j.Spec.ActiveDeadlineSeconds != nil && deadlineLeft <= 0:
		p.failureTarget(reasonDeadlineExceeded, msgDeadline, allGone, now)
		return p
	case successCriteriaMet(j, st.Succeeded, len(c.active)):
		setCondition(st, batchv1.JobSuccessCriteriaMet, corev1.ConditionTrue, reasonCompletionsReached, msgCompletions, now)
		p.complete(allGone, now)
		return p
	}
	p.requeueIn(deadlineLeft)
	p.delete = nil
	if !in.canManage {
		return p
	}
	active := int32(len(c.active))
	wanted := wantActive(j, st.Succeeded, active)
	counted := active
	if r := j.Spec.PodReplacementPolicy; r != nil && *r == batchv1.Failed {
		counted += c.terminating // replace terminating pods only once they failed
	}
	switch {
	case counted < wanted:
		if c.failuresSince > 0 {
			delay := backoff(in.backoffBase, in.backoffMax, c.failuresSince)
			if wait := c.lastFailure.Add(delay).Sub(in.now); wait > 0 {
				p.requeueIn(wait)
				return p
			}
		}
		p.create = int(min(wanted-counted, maxCreatesPerSync))
	case active > wanted:
		p.delete = rankForDeletion(c.active)[:active-wanted]
	}
	return p
}

// defaultBackoffLimit applies when spec.backoffLimit is unset (the API
// server defaults it, so only hand-made objects in tests lack it).
const defaultBackoffLimit = 6

// failureTarget marks the Job as failing for reason, emits the warning and
// fails it once no pod runs.
func (p *plan) failureTarget(reason, message string, allGone bool, now metav1.Time) {
	setCondition(&p.status, batchv1.JobFailureTarget, corev1.ConditionTrue, reason, message, now)
	p.events = append(p.events, event{corev1.EventTypeWarning, reason, message})
	p.fail(reason, message, allGone, now)
}

// fail adds the Failed condition once every pod has stopped.
func (p *plan) fail(reason, message string, allGone bool, now metav1.Time) {
	if allGone {
		setCondition(&p.status, batchv1.JobFailed, corev1.ConditionTrue, reason, message, now)
	}
}

// complete adds the Complete condition and completionTime once every pod
// has stopped.
func (p *plan) complete(allGone bool, now metav1.Time) {
	if !allGone {
		return
	}
	setCondition(&p.status, batchv1.JobComplete, corev1.ConditionTrue, reasonCompletionsReached, msgCompletions, now)
	if p.status.CompletionTime == nil {
		p.status.CompletionTime = &now
	}
	p.events = append(p.events, event{corev1.EventTypeNormal, "Completed", "Job completed"})
}

// successCriteriaMet: completions pods succeeded or, in work-queue mode
// (completions unset), one pod succeeded and none is still active.
func successCriteriaMet(j *batchv1.Job, succeeded int32, active int) bool {
	if c := j.Spec.Completions; c != nil {
		return succeeded >= *c
	}
	return succeeded > 0 && active == 0
}

// wantActive is the number of pods that should be running: parallelism,
// bounded by the completions still missing; in work-queue mode, once a pod
// succeeded, no new pod starts (the running ones finish).
func wantActive(j *batchv1.Job, succeeded, active int32) int32 {
	parallelism := int32(1)
	if j.Spec.Parallelism != nil {
		parallelism = *j.Spec.Parallelism
	}
	if j.Spec.Completions == nil {
		if succeeded > 0 {
			return min(active, parallelism)
		}
		return parallelism
	}
	return max(0, min(parallelism, *j.Spec.Completions-succeeded))
}

// backoff is base × 2^(failures-1), at most limit.
func backoff(base, limit time.Duration, failures int32) time.Duration {
	if base <= 0 {
		base = defaultBackoffBase
	}
	if limit <= 0 {
		limit = defaultBackoffMax
	}
	d := base
	for i := int32(1); i < failures && d < limit; i++ {
		d *= 2
	}
	return min(d, limit)
}

// finishedAt reports whether the Job is Complete or Failed, and since when.
func finishedAt(st *batchv1.JobStatus) (time.Time, bool) {
	for _, c := range st.Conditions {
		if (c.Type == batchv1.JobComplete || c.Type == batchv1.JobFailed) && c.Status == corev1.ConditionTrue {
			if c.Type == batchv1.JobComplete && st.CompletionTime != nil {
				return st.CompletionTime.Time, true
			}
			return c.LastTransitionTime.Time, true
		}
	}
	return time.Time{}, false
}

// ttlDue reports whether a Job finished at at with ttl is due for deletion,
// and otherwise how long until it is.
func ttlDue(ttl *int32, at, now time.Time) (bool, time.Duration) {
	if ttl == nil {
		return false, 0
	}
	left := at.Add(time.Duration(*ttl) * time.Second).Sub(now)
	if left <= 0 {
		return true, 0
	}
	return false, left
}

// condition returns the condition of type t, or nil.
func condition(st *batchv1.JobStatus, t batchv1.JobConditionType) *batchv1.JobCondition {
	for i := range st.Conditions {
		if st.Conditions[i].Type == t {
			return &st.Conditions[i]
		}
	}
	return nil
}

// setCondition sets condition t and reports whether its status changed (or
// it is new). Transition and probe times move only on a status change.
func setCondition(st *batchv1.JobStatus, t batchv1.JobConditionType, status corev1.ConditionStatus, reason, message string, now metav1.Time) bool {
	if c := condition(st, t); c != nil {
		if c.Status == status {
			c.Reason, c.Message = reason, message
			return false
		}
		c.Status, c.Reason, c.Message, c.LastTransitionTime, c.LastProbeTime = status, reason, message, now, now
		return true
	}
	st.Conditions = append(st.Conditions, batchv1.JobCondition{Type: t, Status: status, Reason: reason, Message: message,
		LastTransitionTime: now, LastProbeTime: now})
	return true
}

func ptrTo[T any](v T) *T { return &v }
