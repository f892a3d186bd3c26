// Package job is Berth's Job controller: it runs the pods of every
// batch/v1 Job until the Job completes or fails, the way Kubernetes' Job
// controller does for the NonIndexed completion mode (Indexed Jobs are not
// managed: the controller leaves them alone and logs it).
//
// A reconcile reads the Job and the pods it controls from the shared
// informers and hands them to planJob, a pure function that decides how many
// pods to create, which to delete, the new status (active, ready,
// terminating, succeeded, failed, startTime, completionTime, conditions
// Suspended, FailureTarget, Failed, SuccessCriteriaMet, Complete) and the
// events to emit. It covers parallelism and completions (and the
// work-queue mode when completions is unset), suspend and resume,
// backoffLimit with an exponential back-off between failures (10 s ×
// 2^(failures-1), at most 6 min, counting the failures after the last
// success), activeDeadlineSeconds and ttlSecondsAfterFinished (the finished
// Job is deleted with propagationPolicy Background).
//
// Finished pods are counted from the informer: Berth does not put the
// batch.kubernetes.io/job-tracking finalizer on pods, so the counters are
// kept monotonic (the larger of the recorded and the observed count) and
// a pod deleted before it finished is not counted as a failure.
// status.uncountedTerminatedPods stays empty.
//
// Expectations remember, per Job, how many pod creations and which pod
// deletions are still to be seen through the pod informer, so a reconcile
// never acts twice on a stale cache; they expire after five minutes
// (package expectations, accumulating new expectations into a Job's record).
package job
