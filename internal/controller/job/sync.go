package job

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/berth-dev/berth/internal/controller"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/cache"
)

// maxInFlight bounds the concurrent pod writes of one reconcile.
const maxInFlight = 32

// sync reconciles the Job named by key.
func (c *Controller) sync(ctx context.Context, key string) error {
	ns, name, err := cache.SplitMetaNamespaceKey(key)
	if err != nil {
		c.log.Error("bad key", "key", key, "err", err)
		return nil
	}
	job, err := c.jobLister.Jobs(ns).Get(name)
	if apierrors.IsNotFound(err) {
		c.exp.Forget(key)
		return nil
	}
	if err != nil {
		return fmt.Errorf("job %s: %w", key, err)
	}
	if job.DeletionTimestamp != nil {
		return nil // the garbage collector removes its pods
	}
	if m := job.Spec.CompletionMode; m != nil && *m == batchv1.IndexedCompletion {
		c.log.Info("Indexed Jobs are not supported yet; leaving it alone", "job", key)
		return nil
	}
	pods, err := c.ownedPods(job)
	if err != nil {
		c.log.Error("cannot select the job's pods", "job", key, "err", err)
		return nil // a bad selector does not heal by retrying
	}
	satisfied, wait := c.exp.Satisfied(key)
	p := planJob(input{job: job, pods: pods, now: c.now(), canManage: satisfied,
		backoffBase: c.backoffBase, backoffMax: c.backoffMax})

	var errs []error
	if len(p.delete) > 0 {
		if err := c.deletePods(ctx, key, job, p.delete); err != nil {
			errs = append(errs, err)
		}
	}
	if p.create > 0 {
		if err := c.createPods(ctx, key, job, p.create); err != nil {
			errs = append(errs, err)
		}
	}
	if !apiequality.Semantic.DeepEqual(job.Status, p.status) {
		j := job.DeepCopy()
		j.Status = p.status
		if _, err := c.client.BatchV1().Jobs(ns).UpdateStatus(ctx, j, metav1.UpdateOptions{}); err != nil {
			if apierrors.IsNotFound(err) || (apierrors.IsConflict(err) && len(errs) == 0) {
				// Gone, or a newer version is on its way through the
				// informer and will trigger another reconcile.
				return nil
			}
			return errors.Join(append(errs, fmt.Errorf("job %s: update status: %w", key, err))...)
		}
	}
	for _, e := range p.events {
		c.recorder.Event(job, e.typ, e.reason, e.message)
	}
	if len(errs) > 0 {
		return errors.Join(errs...)
	}
	if p.deleteJob {
		return c.deleteJob(ctx, job)
	}
	if !satisfied {
		p.requeueIn(wait)
	}
	if p.requeue > 0 {
		return controller.RequeueAfter{Delay: p.requeue}
	}
	return nil
}

// ownedPods lists the pods that match the Job's selector and name it as
// their controller.
func (c *Controller) ownedPods(job *batchv1.Job) ([]*corev1.Pod, error) {
	if job.Spec.Selector == nil {
		return nil, errors.New("no selector")
	}
	sel, err := metav1.LabelSelectorAsSelector(job.Spec.Selector)
	if err != nil {
		return nil, fmt.Errorf("selector: %w", err)
	}
	if sel.Empty() {
		return nil, errors.New("empty selector")
	}
	all, err := c.podLister.Pods(job.Namespace).List(sel)
	if err != nil {
		return nil, fmt.Errorf("list pods: %w", err)
	}
	var out []*corev1.Pod
	for _, p := range all {
		if ref := metav1.GetControllerOf(p); ref != nil && ref.UID == job.UID {
			out = append(out, p)
		}
	}
	return out, nil
}

// createPods creates n pods in slow-start batches (1, 2, 4, …): a batch
// with an error stops the rest, so a Job that cannot create pods does not
// hammer the API server.
func (c *Controller) createPods(ctx context.Context, key string, job *batchv1.Job, n int) error {
	c.exp.ExpectCreations(key, n)
	done := 0
	for batch := 1; done < n; batch *= 2 {
		size := min(batch, n-done)
		err := parallel(size, func(int) error { return c.createPod(ctx, key, job) })
		done += size
		if err != nil {
			for ; done < n; done++ {
				c.exp.CreationObserved(key) // skipped
			}
			return fmt.Errorf("job %s: %w", key, err)
		}
	}
	return nil
}

func (c *Controller) createPod(ctx context.Context, key string, job *batchv1.Job) error {
	pod, err := c.client.CoreV1().Pods(job.Namespace).Create(ctx, newPod(job), metav1.CreateOptions{})
	if err != nil {
		c.exp.CreationObserved(key)
		if apierrors.HasStatusCause(err, corev1.NamespaceTerminatingCause) {
			return nil // the namespace and the Job are going away
		}
		c.recorder.Eventf(job, corev1.EventTypeWarning, "FailedCreate", "Error creating: %v", err)
		return fmt.Errorf("create pod: %w", err)
	}
	c.log.Debug("created pod", "job", key, "pod", pod.Name)
	c.recorder.Eventf(job, corev1.EventTypeNormal, "SuccessfulCreate", "Created pod: %s", pod.Name)
	return nil
}

// deletePods deletes pods (gracefully, with a UID precondition).
func (c *Controller) deletePods(ctx context.Context, key string, job *batchv1.Job, pods []*corev1.Pod) error {
	keys := make([]string, len(pods))
	for i, p := range pods {
		keys[i] = podKey(p)
	}
	c.exp.ExpectDeletions(key, keys)
	err := parallel(len(pods), func(i int) error {
		p := pods[i]
		err := c.client.CoreV1().Pods(p.Namespace).Delete(ctx, p.Name, metav1.DeleteOptions{Preconditions: metav1.NewUIDPreconditions(string(p.UID))})
		switch {
		case err == nil:
			c.recorder.Eventf(job, corev1.EventTypeNormal, "SuccessfulDelete", "Deleted pod: %s", p.Name)
			return nil
		case apierrors.IsNotFound(err) || apierrors.IsConflict(err):
			c.exp.DeletionObserved(key, keys[i]) // already gone (or replaced)
			return nil
		}
		c.exp.DeletionObserved(key, keys[i])
		c.recorder.Eventf(job, corev1.EventTypeWarning, "FailedDelete", "Error deleting: %v", err)
		return fmt.Errorf("delete pod %s: %w", p.Name, err)
	})
	if err != nil {
		return fmt.Errorf("job %s: %w", key, err)
	}
	return nil
}

// deleteJob deletes a finished Job whose ttlSecondsAfterFinished expired;
// its pods go with it (propagationPolicy Background).
func (c *Controller) deleteJob(ctx context.Context, job *batchv1.Job) error {
	bg := metav1.DeletePropagationBackground
	err := c.client.BatchV1().Jobs(job.Namespace).Delete(ctx, job.Name, metav1.DeleteOptions{
		PropagationPolicy: &bg, Preconditions: metav1.NewUIDPreconditions(string(job.UID))})
	if err != nil && !apierrors.IsNotFound(err) && !apierrors.IsConflict(err) {
		return fmt.Errorf("job %s/%s: delete after TTL: %w", job.Namespace, job.Name, err)
	}
	c.log.Info("deleted finished job: ttlSecondsAfterFinished expired", "job", job.Namespace+"/"+job.Name)
	return nil
}

// parallel runs f(0..n-1) with at most maxInFlight at a time and joins the
// errors.
func parallel(n int, f func(int) error) error {
	errs := make([]error, n)
	sem := make(chan struct{}, maxInFlight)
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		wg.Add(1)
		sem <- struct{}{}
		go func(i int) {
			defer func() { <-sem; wg.Done() }()
			errs[i] = f(i)
		}(i)
	}
	wg.Wait()
	return errors.Join(errs...)
}
