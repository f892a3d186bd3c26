package job_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/berth-dev/berth/internal/controller"
	"github.com/berth-dev/berth/internal/controller/job"
	"github.com/berth-dev/berth/internal/testutil/fakekubelet"
	"github.com/berth-dev/berth/internal/testutil/testenv"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/util/retry"
)

// startCluster starts the API server with the Job controller (back-off
// base 100 ms) and a fake kubelet that binds pods and runs them for runFor.
func startCluster(t *testing.T, runFor time.Duration) kubernetes.Interface {
	t.Helper()
	log := testenv.Logger()
	return testenv.Start(t, testenv.Options{Logger: log,
		Controllers: []controller.Factory{job.NewWithBackoff(100 * time.Millisecond)},
		Kubelet:     &fakekubelet.Config{Bind: true, RunFor: runFor, Logger: log}}).Client
}

func newJob(name string, completions *int32, parallelism int32, mods ...func(*batchv1.Job)) *batchv1.Job {
	j := &batchv1.Job{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default"},
		Spec: batchv1.JobSpec{Completions: completions, Parallelism: &parallelism,
			Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{RestartPolicy: corev1.RestartPolicyNever,
				Containers: []corev1.Container{{Name: "main", Image: "busybox"}}}}},
	}
	for _, m := range mods {
		m(j)
	}
	return j
}

func ptr[T any](v T) *T { return &v }

func hasCondition(j *batchv1.Job, typ batchv1.JobConditionType, status corev1.ConditionStatus, reason string) bool {
	for _, c := range j.Status.Conditions {
		if c.Type == typ && c.Status == status && (reason == "" || c.Reason == reason) {
			return true
		}
	}
	return false
}

// waitCondition waits for the Job's condition and returns the Job.
func waitCondition(t *testing.T, cs kubernetes.Interface, name string, typ batchv1.JobConditionType, status corev1.ConditionStatus, reason string, timeout time.Duration) *batchv1.Job {
	t.Helper()
	var j *batchv1.Job
	testenv.Eventually(t, timeout, fmt.Sprintf("job %s condition %s=%s/%s", name, typ, status, reason), func() error {
		var err error
		if j, err = cs.BatchV1().Jobs("default").Get(context.Background(), name, metav1.GetOptions{}); err != nil {
			return err
		}
		if !hasCondition(j, typ, status, reason) {
			var pods []string
			if l, err := cs.CoreV1().Pods("default").List(context.Background(), metav1.ListOptions{LabelSelector: batchv1.JobNameLabel + "=" + name}); err == nil {
				for _, p := range l.Items {
					pods = append(pods, fmt.Sprintf("%s node=%q phase=%s rv=%s finalizers=%v deleting=%v", p.Name, p.Spec.NodeName, p.Status.Phase, p.ResourceVersion, p.Finalizers, p.DeletionTimestamp != nil))
				}
			}
			return fmt.Errorf("status %+v; pods %v", j.Status, pods)
		}
		return nil
	})
	return j
}

// jobPods lists the pods of the Job by its job-name label.
func jobPods(t *testing.T, cs kubernetes.Interface, name string) []corev1.Pod {
	t.Helper()
	l, err := cs.CoreV1().Pods("default").List(context.Background(), metav1.ListOptions{LabelSelector: batchv1.JobNameLabel + "=" + name})
	if err != nil {
		t.Fatalf("list pods: %v", err)
	}
	return l.Items
}

func activePods(pods []corev1.Pod) int {
	n := 0
	for _, p := range pods {
		if p.DeletionTimestamp == nil && p.Status.Phase != corev1.PodSucceeded && p.Status.Phase != corev1.PodFailed {
			n++
		}
	}
	return n
}

// waitEvents waits until the Job has events with every reason.
func waitEvents(t *testing.T, cs kubernetes.Interface, name string, reasons ...string) {
	t.Helper()
	testenv.Eventually(t, 10*time.Second, "events "+fmt.Sprint(reasons), func() error {
		l, err := cs.CoreV1().Events("default").List(context.Background(), metav1.ListOptions{
			FieldSelector: fields.OneTermEqualSelector("involvedObject.name", name).String()})
		if err != nil {
			return err
		}
		seen := map[string]bool{}
		for _, e := range l.Items {
			seen[e.Reason] = true
		}
		for _, r := range reasons {
			if !seen[r] {
				return fmt.Errorf("no %s event (have %v)", r, seen)
			}
		}
		return nil
	})
}

func setSuspend(t *testing.T, cs kubernetes.Interface, name string, suspend bool) {
	t.Helper()
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		j, err := cs.BatchV1().Jobs("default").Get(context.Background(), name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		j.Spec.Suspend = &suspend
		_, err = cs.BatchV1().Jobs("default").Update(context.Background(), j, metav1.UpdateOptions{})
		return err
	})
	if err != nil {
		t.Fatalf("set suspend=%v: %v", suspend, err)
	}
}

func TestJobShortPods(t *testing.T) {
	cs := startCluster(t, 200*time.Millisecond)
	ctx := context.Background()

	t.Run("completions with parallelism", func(t *testing.T) {
		var maxActive atomic.Int32
		stop := make(chan struct{})
		sampled := make(chan struct{})
		go func() {
			defer close(sampled)
			for {
				select {
				case <-stop:
					return
				case <-time.After(10 * time.Millisecond):
				}
				l, err := cs.CoreV1().Pods("default").List(ctx, metav1.ListOptions{LabelSelector: batchv1.JobNameLabel + "=five"})
				if err != nil {
					continue
				}
				if n := int32(activePods(l.Items)); n > maxActive.Load() {
					maxActive.Store(n)
				}
			}
		}()
		if _, err := cs.BatchV1().Jobs("default").Create(ctx, newJob("five", ptr(int32(5)), 2), metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		j := waitCondition(t, cs, "five", batchv1.JobComplete, corev1.ConditionTrue, "CompletionsReached", 20*time.Second)
		close(stop)
		<-sampled
		if j.Status.Succeeded != 5 || j.Status.Active != 0 || j.Status.CompletionTime == nil || j.Status.StartTime == nil {
			t.Errorf("status = %+v", j.Status)
		}
		if !hasCondition(j, batchv1.JobSuccessCriteriaMet, corev1.ConditionTrue, "") {
			t.Errorf("no SuccessCriteriaMet condition: %+v", j.Status.Conditions)
		}
		if m := maxActive.Load(); m > 2 || m == 0 {
			t.Errorf("max active pods sampled = %d, want 1..2", m)
		}
		if n := len(jobPods(t, cs, "five")); n != 5 {
			t.Errorf("job created %d pods, want 5", n)
		}
		waitEvents(t, cs, "five", "SuccessfulCreate", "Completed")
		// The finished Job's status settles: no further writes.
		j, err := cs.BatchV1().Jobs("default").Get(ctx, "five", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		for end := time.Now().Add(300 * time.Millisecond); time.Now().Before(end); time.Sleep(50 * time.Millisecond) {
			now, err := cs.BatchV1().Jobs("default").Get(ctx, "five", metav1.GetOptions{})
			if err != nil || now.ResourceVersion != j.ResourceVersion {
				t.Fatalf("finished job still written: %v, rv %s -> %s, status %+v", err, j.ResourceVersion, now.ResourceVersion, now.Status)
			}
		}
	})

	t.Run("work queue", func(t *testing.T) {
		if _, err := cs.BatchV1().Jobs("default").Create(ctx, newJob("queue", nil, 2), metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		j := waitCondition(t, cs, "queue", batchv1.JobComplete, corev1.ConditionTrue, "", 20*time.Second)
		if j.Status.Succeeded < 1 || len(jobPods(t, cs, "queue")) != 2 {
			t.Errorf("status = %+v, pods = %d", j.Status, len(jobPods(t, cs, "queue")))
		}
	})

	t.Run("backoff limit", func(t *testing.T) {
		j := newJob("fails", ptr(int32(1)), 1, func(j *batchv1.Job) {
			j.Spec.BackoffLimit = ptr(int32(2))
			j.Spec.Template.Annotations = map[string]string{fakekubelet.ExitCodeAnnotation: "1"}
		})
		if _, err := cs.BatchV1().Jobs("default").Create(ctx, j, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		j = waitCondition(t, cs, "fails", batchv1.JobFailed, corev1.ConditionTrue, "BackoffLimitExceeded", 20*time.Second)
		if j.Status.Failed != 3 || j.Status.Active != 0 || !hasCondition(j, batchv1.JobFailureTarget, corev1.ConditionTrue, "BackoffLimitExceeded") {
			t.Errorf("status = %+v", j.Status)
		}
		waitEvents(t, cs, "fails", "BackoffLimitExceeded")
		// No pod is created after the failure: watch the count for a while.
		for end := time.Now().Add(500 * time.Millisecond); time.Now().Before(end); time.Sleep(50 * time.Millisecond) {
			if n := len(jobPods(t, cs, "fails")); n != 3 {
				t.Fatalf("failed job has %d pods, want 3", n)
			}
		}
	})

	t.Run("ttl after finished", func(t *testing.T) {
		j := newJob("ttl", ptr(int32(1)), 1, func(j *batchv1.Job) { j.Spec.TTLSecondsAfterFinished = ptr(int32(0)) })
		if _, err := cs.BatchV1().Jobs("default").Create(ctx, j, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		testenv.Eventually(t, 20*time.Second, "job ttl deleted", func() error {
			_, err := cs.BatchV1().Jobs("default").Get(ctx, "ttl", metav1.GetOptions{})
			if apierrors.IsNotFound(err) {
				return nil
			}
			return fmt.Errorf("still there (err %v)", err)
		})
		if n := len(jobPods(t, cs, "ttl")); n != 1 {
			t.Errorf("ttl job ran %d pods, want 1", n)
		}
	})
}

func TestJobLongPods(t *testing.T) {
	cs := startCluster(t, time.Hour)
	ctx := context.Background()

	t.Run("active deadline", func(t *testing.T) {
		j := newJob("deadline", ptr(int32(2)), 2, func(j *batchv1.Job) { j.Spec.ActiveDeadlineSeconds = ptr(int64(1)) })
		if _, err := cs.BatchV1().Jobs("default").Create(ctx, j, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		j = waitCondition(t, cs, "deadline", batchv1.JobFailed, corev1.ConditionTrue, "DeadlineExceeded", 15*time.Second)
		if j.Status.Active != 0 || j.Status.Succeeded != 0 {
			t.Errorf("status = %+v", j.Status)
		}
		testenv.Eventually(t, 10*time.Second, "deadline pods deleted", func() error {
			if n := len(jobPods(t, cs, "deadline")); n != 0 {
				return fmt.Errorf("%d pods left", n)
			}
			return nil
		})
		waitEvents(t, cs, "deadline", "SuccessfulCreate", "SuccessfulDelete", "DeadlineExceeded")
	})

	t.Run("suspend and resume", func(t *testing.T) {
		j := newJob("sleepy", ptr(int32(2)), 2, func(j *batchv1.Job) { j.Spec.Suspend = ptr(true) })
		if _, err := cs.BatchV1().Jobs("default").Create(ctx, j, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		j = waitCondition(t, cs, "sleepy", batchv1.JobSuspended, corev1.ConditionTrue, "JobSuspended", 10*time.Second)
		if j.Status.StartTime != nil || len(jobPods(t, cs, "sleepy")) != 0 {
			t.Fatalf("suspended job started: %+v", j.Status)
		}

		setSuspend(t, cs, "sleepy", false)
		waitCondition(t, cs, "sleepy", batchv1.JobSuspended, corev1.ConditionFalse, "JobResumed", 10*time.Second)
		testenv.Eventually(t, 10*time.Second, "two running pods", func() error {
			j, err := cs.BatchV1().Jobs("default").Get(ctx, "sleepy", metav1.GetOptions{})
			if err != nil {
				return err
			}
			if j.Status.Active != 2 || j.Status.Ready == nil || *j.Status.Ready != 2 || j.Status.StartTime == nil {
				return fmt.Errorf("status %+v", j.Status)
			}
			return nil
		})

		setSuspend(t, cs, "sleepy", true)
		waitCondition(t, cs, "sleepy", batchv1.JobSuspended, corev1.ConditionTrue, "JobSuspended", 10*time.Second)
		testenv.Eventually(t, 10*time.Second, "pods gone while suspended", func() error {
			j, err := cs.BatchV1().Jobs("default").Get(ctx, "sleepy", metav1.GetOptions{})
			if err != nil {
				return err
			}
			if n := len(jobPods(t, cs, "sleepy")); n != 0 || j.Status.Active != 0 || j.Status.StartTime != nil {
				return fmt.Errorf("%d pods, status %+v", n, j.Status)
			}
			return nil
		})

		setSuspend(t, cs, "sleepy", false)
		testenv.Eventually(t, 10*time.Second, "running again", func() error {
			if n := activePods(jobPods(t, cs, "sleepy")); n != 2 {
				return fmt.Errorf("%d active pods", n)
			}
			return nil
		})
		waitEvents(t, cs, "sleepy", "Suspended", "Resumed", "SuccessfulDelete")
	})
}
