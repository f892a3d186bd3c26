package job

import (
	"reflect"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
)

func TestPlanJob(t *testing.T) {
	five := ptrTo(int32(5))
	suspend := func(j *batchv1.Job) { j.Spec.Suspend = ptrTo(true) }
	cases := []struct {
		name      string
		job       *batchv1.Job
		pods      []*corev1.Pod
		noManage  bool
		create    int
		deleted   []string
		conds     []string
		events    []string
		requeue   time.Duration
		deleteJob bool
		check     func(t *testing.T, p plan)
	}{
		{name: "new job starts parallelism pods", job: testJob(five, 2, func(j *batchv1.Job) { j.Status.StartTime = nil }),
			create: 2, check: func(t *testing.T, p plan) {
				if p.status.StartTime == nil || !p.status.StartTime.Time.Equal(t0) {
					t.Errorf("startTime = %v, want %v", p.status.StartTime, t0)
				}
			}},
		{name: "steady", job: testJob(five, 2), pods: join(pods("Ready", 2), pods("Succeeded", 1)), check: func(t *testing.T, p plan) {
			if p.status.Active != 2 || *p.status.Ready != 2 || p.status.Succeeded != 1 {
				t.Errorf("status = %+v", p.status)
			}
		}},
		{name: "last completion needs one pod", job: testJob(five, 2),
			pods:    join(pods("Ready", 1), pods("Pending", 1), pods("Succeeded", 4)),
			deleted: []string{"Pending-0"}},
		{name: "completions reached", job: testJob(five, 2), pods: pods("Succeeded", 5),
			conds:  []string{"SuccessCriteriaMet=True/CompletionsReached", "Complete=True/CompletionsReached"},
			events: []string{"Completed"}, check: func(t *testing.T, p plan) {
				if p.status.CompletionTime == nil || !p.status.CompletionTime.Time.Equal(t0) {
					t.Errorf("completionTime = %v", p.status.CompletionTime)
				}
			}},
		{name: "completions reached, extra pod still running", job: testJob(five, 2), pods: join(pods("Succeeded", 5), pods("Ready", 1)),
			deleted: []string{"Ready-0"}, conds: []string{"SuccessCriteriaMet=True/CompletionsReached"}},
		{name: "success criteria met, waits for terminating pod",
			job:  testJob(five, 2, withCond(batchv1.JobSuccessCriteriaMet, corev1.ConditionTrue, reasonCompletionsReached, t0)),
			pods: join(pods("Succeeded", 5), pods("Terminating", 1)), conds: []string{"SuccessCriteriaMet=True/CompletionsReached"}},
		{name: "work queue starts parallelism pods", job: testJob(nil, 3), create: 3},
		{name: "work queue: after a success no new pods", job: testJob(nil, 3), pods: join(pods("Succeeded", 1), pods("Ready", 2))},
		{name: "work queue complete once all stopped", job: testJob(nil, 3), pods: join(pods("Succeeded", 1), pods("Failed", 2)),
			conds: []string{"SuccessCriteriaMet=True/CompletionsReached", "Complete=True/CompletionsReached"}, events: []string{"Completed"}},
		{name: "backoff limit exceeded", job: testJob(five, 1, func(j *batchv1.Job) { j.Spec.BackoffLimit = ptrTo(int32(2)) }),
			pods:  pods("Failed", 3),
			conds: []string{"FailureTarget=True/BackoffLimitExceeded", "Failed=True/BackoffLimitExceeded"}, events: []string{"BackoffLimitExceeded"}},
		{name: "backoff limit exceeded with a running pod", job: testJob(five, 2, func(j *batchv1.Job) { j.Spec.BackoffLimit = ptrTo(int32(2)) }),
			pods: join(pods("Failed", 3), pods("Ready", 1)), deleted: []string{"Ready-0"},
			conds: []string{"FailureTarget=True/BackoffLimitExceeded"}, events: []string{"BackoffLimitExceeded"}},
		{name: "failure target becomes Failed when pods are gone",
			job:   testJob(five, 2, withCond(batchv1.JobFailureTarget, corev1.ConditionTrue, reasonBackoffLimitExceeded, t0)),
			pods:  pods("Failed", 3),
			conds: []string{"FailureTarget=True/BackoffLimitExceeded", "Failed=True/BackoffLimitExceeded"}},
		{name: "back-off after a fresh failure", job: testJob(five, 1), pods: []*corev1.Pod{tpod("f", "Failed", -30*time.Millisecond)},
			requeue: 70 * time.Millisecond},
		{name: "back-off over", job: testJob(five, 1), pods: []*corev1.Pod{tpod("f", "Failed", -150*time.Millisecond)}, create: 1},
		{name: "back-off doubles", job: testJob(five, 1),
			pods:    []*corev1.Pod{tpod("f1", "Failed", -time.Second), tpod("f2", "Failed", -150*time.Millisecond)},
			requeue: 50 * time.Millisecond},
		{name: "failures before the last success do not back off", job: testJob(five, 1),
			pods:   []*corev1.Pod{tpod("f1", "Failed", -20*time.Millisecond), tpod("s", "Succeeded", -10*time.Millisecond)},
			create: 1},
		{name: "active deadline exceeded", job: testJob(five, 2, func(j *batchv1.Job) { j.Spec.ActiveDeadlineSeconds = ptrTo(int64(5)) }),
			pods: pods("Ready", 2), deleted: []string{"Ready-0", "Ready-1"},
			conds: []string{"FailureTarget=True/DeadlineExceeded"}, events: []string{"DeadlineExceeded"}},
		{name: "active deadline pending", job: testJob(five, 2, func(j *batchv1.Job) { j.Spec.ActiveDeadlineSeconds = ptrTo(int64(30)) }),
			pods: pods("Ready", 2), requeue: 20 * time.Second},
		{name: "suspend deletes active pods", job: testJob(five, 2, suspend), pods: join(pods("Ready", 1), pods("Pending", 1)),
			deleted: []string{"Ready-0", "Pending-0"}, conds: []string{"Suspended=True/JobSuspended"}, events: []string{"Suspended"},
			check: func(t *testing.T, p plan) {
				if p.status.StartTime == nil {
					t.Error("startTime cleared while pods still run")
				}
			}},
		{name: "suspended and idle clears startTime",
			job:   testJob(five, 2, suspend, withCond(batchv1.JobSuspended, corev1.ConditionTrue, reasonSuspended, t0)),
			conds: []string{"Suspended=True/JobSuspended"}, check: func(t *testing.T, p plan) {
				if p.status.StartTime != nil {
					t.Errorf("startTime = %v, want nil", p.status.StartTime)
				}
			}},
		{name: "resume", job: testJob(five, 2, withCond(batchv1.JobSuspended, corev1.ConditionTrue, reasonSuspended, t0.Add(-time.Hour)),
			func(j *batchv1.Job) { j.Status.StartTime = mtime(t0.Add(-time.Hour)) }),
			create: 2, conds: []string{"Suspended=False/JobResumed"}, events: []string{"Resumed"}, check: func(t *testing.T, p plan) {
				if !p.status.StartTime.Time.Equal(t0) {
					t.Errorf("startTime = %v, want reset to %v", p.status.StartTime, t0)
				}
			}},
		{name: "expectations pending: nothing is created", job: testJob(five, 2), noManage: true},
		{name: "expectations pending: nothing is deleted", job: testJob(five, 1), pods: pods("Ready", 2), noManage: true},
		{name: "replace terminating pods only when failed (policy Failed)",
			job:  testJob(five, 2, func(j *batchv1.Job) { j.Spec.PodReplacementPolicy = ptrTo(batchv1.Failed) }),
			pods: join(pods("Ready", 1), pods("Terminating", 1))},
		{name: "terminating pods are replaced (TerminatingOrFailed)", job: testJob(five, 2),
			pods: join(pods("Ready", 1), pods("Terminating", 1)), create: 1},
		{name: "counters never go back", job: testJob(five, 2, func(j *batchv1.Job) { j.Status.Succeeded, j.Status.Failed = 3, 1 }),
			pods: pods("Succeeded", 1), create: 2, check: func(t *testing.T, p plan) {
				if p.status.Succeeded != 3 || p.status.Failed != 1 {
					t.Errorf("succeeded/failed = %d/%d, want 3/1", p.status.Succeeded, p.status.Failed)
				}
			}},
		{name: "finished, ttl expired", job: testJob(five, 2, withCond(batchv1.JobComplete, corev1.ConditionTrue, reasonCompletionsReached, t0),
			func(j *batchv1.Job) {
				j.Spec.TTLSecondsAfterFinished = ptrTo(int32(5))
				j.Status.CompletionTime = mtime(t0.Add(-10 * time.Second))
			}),
			conds: []string{"Complete=True/CompletionsReached"}, deleteJob: true},
		{name: "finished, ttl pending", job: testJob(five, 2, withCond(batchv1.JobComplete, corev1.ConditionTrue, reasonCompletionsReached, t0),
			func(j *batchv1.Job) {
				j.Spec.TTLSecondsAfterFinished = ptrTo(int32(30))
				j.Status.CompletionTime = mtime(t0.Add(-10 * time.Second))
			}),
			conds: []string{"Complete=True/CompletionsReached"}, requeue: 20 * time.Second},
		{name: "failed, ttl from the Failed condition",
			job: testJob(five, 2, withCond(batchv1.JobFailed, corev1.ConditionTrue, reasonDeadlineExceeded, t0.Add(-3*time.Second)),
				func(j *batchv1.Job) { j.Spec.TTLSecondsAfterFinished = ptrTo(int32(0)) }),
			conds: []string{"Failed=True/DeadlineExceeded"}, deleteJob: true},
		{name: "finished without ttl stays", job: testJob(five, 2, withCond(batchv1.JobComplete, corev1.ConditionTrue, reasonCompletionsReached, t0)),
			pods: pods("Succeeded", 5), conds: []string{"Complete=True/CompletionsReached"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := planJob(input{job: tc.job, pods: tc.pods, now: t0, canManage: !tc.noManage,
				backoffBase: 100 * time.Millisecond, backoffMax: time.Second})
			if p.create != tc.create {
				t.Errorf("create = %d, want %d", p.create, tc.create)
			}
			if got := names(p.delete); !reflect.DeepEqual(got, tc.deleted) {
				t.Errorf("delete = %v, want %v", got, tc.deleted)
			}
			if got := conds(p.status); !reflect.DeepEqual(got, tc.conds) {
				t.Errorf("conditions = %v, want %v", got, tc.conds)
			}
			if got := reasons(p.events); !reflect.DeepEqual(got, tc.events) {
				t.Errorf("events = %v, want %v", got, tc.events)
			}
			if p.requeue != tc.requeue || p.deleteJob != tc.deleteJob {
				t.Errorf("requeue, deleteJob = %v, %v; want %v, %v", p.requeue, p.deleteJob, tc.requeue, tc.deleteJob)
			}
			if tc.check != nil {
				tc.check(t, p)
			}
		})
	}
}

func TestBackoff(t *testing.T) {
	for _, tc := range []struct {
		failures int32
		want     time.Duration
	}{{1, 10 * time.Second}, {2, 20 * time.Second}, {4, 80 * time.Second}, {6, 320 * time.Second}, {7, 6 * time.Minute}, {60, 6 * time.Minute}} {
		if got := backoff(0, 0, tc.failures); got != tc.want {
			t.Errorf("backoff(%d) = %v, want %v", tc.failures, got, tc.want)
		}
	}
}
