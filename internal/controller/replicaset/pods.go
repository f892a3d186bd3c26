package replicaset

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
)

// maxGenerateNamePrefix is the longest generateName prefix that still
// leaves room for the server's 5 random characters in a 63-character name.
const maxGenerateNamePrefix = 58

// newPod returns the pod the ReplicaSet's template describes, controlled by
// the ReplicaSet.
func newPod(rs *appsv1.ReplicaSet) *corev1.Pod {
	prefix := rs.Name + "-"
	if len(prefix) > maxGenerateNamePrefix {
		prefix = prefix[:maxGenerateNamePrefix]
	}
	t := &rs.Spec.Template
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{
			GenerateName:    prefix,
			Namespace:       rs.Namespace,
			Labels:          maps.Clone(t.Labels),
			Annotations:     maps.Clone(t.Annotations),
			Finalizers:      slices.Clone(t.Finalizers),
			OwnerReferences: []metav1.OwnerReference{*metav1.NewControllerRef(rs, kind)},
		},
		Spec: *t.Spec.DeepCopy(),
	}
}

// createPods creates n pods in slow-start batches, keeping the creation
// expectations of key in step with what was really attempted.
func (c *Controller) createPods(ctx context.Context, key string, rs *appsv1.ReplicaSet, n int) error {
	c.exp.ExpectCreations(key, n)
	api := c.client.CoreV1().Pods(rs.Namespace)
	attempted, err := slowStart(n, 1, c.inFlight, func(int) error {
		pod, err := api.Create(ctx, newPod(rs), metav1.CreateOptions{})
		if err != nil {
			// No add event will come for this one.
			c.exp.CreationObserved(key)
			if !apierrors.HasStatusCause(err, corev1.NamespaceTerminatingCause) {
				c.recorder.Eventf(rs, corev1.EventTypeWarning, "FailedCreate", "Error creating: %v", err)
			}
			return fmt.Errorf("replicaset: create pod for %s: %w", key, err)
		}
		c.recorder.Eventf(rs, corev1.EventTypeNormal, "SuccessfulCreate", "Created pod: %s", pod.Name)
		return nil
	})
	if skipped := n - attempted; skipped > 0 {
		c.log.Info("skipped pod creations after a failure", "key", key, "skipped", skipped)
		for range skipped {
			c.exp.CreationObserved(key)
		}
	}
	if err == nil {
		c.log.Debug("created pods", "key", key, "count", n)
	}
	return err
}

// deletePods deletes the given pods concurrently.
func (c *Controller) deletePods(ctx context.Context, key string, rs *appsv1.ReplicaSet, pods []*corev1.Pod) error {
	keys := make([]string, len(pods))
	for i, p := range pods {
		keys[i] = podKey(p)
	}
	c.exp.ExpectDeletions(key, keys)
	api := c.client.CoreV1().Pods(rs.Namespace)
	return parallel(len(pods), c.inFlight, func(i int) error {
		p := pods[i]
		err := api.Delete(ctx, p.Name, metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &p.UID}})
		switch {
		case err == nil:
			c.recorder.Eventf(rs, corev1.EventTypeNormal, "SuccessfulDelete", "Deleted pod: %s", p.Name)
			return nil
		case apierrors.IsNotFound(err) || apierrors.IsConflict(err):
			// Already gone (or replaced by a namesake): no event will come.
			c.exp.DeletionObserved(key, keys[i])
			return nil
		}
		c.exp.DeletionObserved(key, keys[i])
		c.recorder.Eventf(rs, corev1.EventTypeWarning, "FailedDelete", "Error deleting: %v", err)
		return fmt.Errorf("replicaset: delete pod %s: %w", keys[i], err)
	})
}

// slowStart calls fn count times in batches of initial, 2·initial, 4·initial
// … (at most limit calls in flight), stopping after the first batch with an
// error. It returns how many calls were made and the first error.
func slowStart(count, initial, limit int, fn func(int) error) (int, error) {
	done := 0
	for batch := min(count, initial); batch > 0; batch = min(count-done, 2*batch) {
		start := done
		err := parallel(batch, limit, func(i int) error { return fn(start + i) })
		done += batch
		if err != nil {
			return done, err
		}
	}
	return done, nil
}

// parallel calls fn(0..n-1) with at most limit calls in flight and returns
// the first error.
func parallel(n, limit int, fn func(int) error) error {
	if limit < 1 {
		limit = 1
	}
	var (
		wg    sync.WaitGroup
		once  sync.Once
		first error
		sem   = make(chan struct{}, limit)
	)
	for i := range n {
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			if err := fn(i); err != nil {
				once.Do(func() { first = err })
			}
		}()
	}
	wg.Wait()
	return first
}

// applyClaims adopts and releases pods as planned and returns the active
// pods the ReplicaSet controls afterwards.
func (c *Controller) applyClaims(ctx context.Context, rs *appsv1.ReplicaSet, sel labels.Selector, p claimPlan) ([]*corev1.Pod, error) {
	active := p.Keep
	var errs []error
	if len(p.Adopt) > 0 {
		ok, err := c.canAdopt(ctx, rs)
		switch {
		case err != nil:
			errs = append(errs, err)
		case ok:
			for _, pod := range p.Adopt {
				got, err := c.patchOwner(ctx, pod, adoptPatch(rs, pod.UID))
				if err != nil {
					errs = append(errs, fmt.Errorf("replicaset: adopt pod %s: %w", podKey(pod), err))
					continue
				}
				if got != nil && isActive(got) && sel.Matches(labels.Set(got.Labels)) {
					c.log.Info("adopted pod", "key", rsKey(rs), "pod", got.Name)
					active = append(active, got)
				}
			}
		}
	}
	for _, pod := range p.Release {
		if _, err := c.patchOwner(ctx, pod, releasePatch(rs.UID, pod.UID)); err != nil {
			errs = append(errs, fmt.Errorf("replicaset: release pod %s: %w", podKey(pod), err))
			continue
		}
		c.log.Info("released pod", "key", rsKey(rs), "pod", pod.Name)
	}
	return active, errors.Join(errs...)
}

// canAdopt re-reads the ReplicaSet from the API server: a ReplicaSet that
// is being deleted (or was replaced) must not adopt, and the cache may not
// know yet.
func (c *Controller) canAdopt(ctx context.Context, rs *appsv1.ReplicaSet) (bool, error) {
	fresh, err := c.client.AppsV1().ReplicaSets(rs.Namespace).Get(ctx, rs.Name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("replicaset: recheck %s/%s before adoption: %w", rs.Namespace, rs.Name, err)
	}
	return fresh.UID == rs.UID && fresh.DeletionTimestamp == nil, nil
}

// patchOwner applies a strategic-merge patch to the pod's metadata. A pod
// that is gone or was replaced is not an error (nil pod returned).
func (c *Controller) patchOwner(ctx context.Context, pod *corev1.Pod, patch []byte) (*corev1.Pod, error) {
	got, err := c.client.CoreV1().Pods(pod.Namespace).Patch(ctx, pod.Name, types.StrategicMergePatchType, patch, metav1.PatchOptions{})
	if apierrors.IsNotFound(err) || apierrors.IsConflict(err) || apierrors.IsInvalid(err) {
		return nil, nil
	}
	return got, err
}

// adoptPatch adds the ReplicaSet as controller of the pod with UID podUID
// (the UID makes the patch fail on a namesake).
func adoptPatch(rs *appsv1.ReplicaSet, podUID types.UID) []byte {
	return mustJSON(map[string]any{"metadata": map[string]any{
		"ownerReferences": []metav1.OwnerReference{*metav1.NewControllerRef(rs, kind)},
		"uid":             podUID,
	}})
}

// releasePatch removes the owner reference to rsUID from the pod.
func releasePatch(rsUID, podUID types.UID) []byte {
	return mustJSON(map[string]any{"metadata": map[string]any{
		"ownerReferences": []map[string]any{{"$patch": "delete", "uid": rsUID}},
		"uid":             podUID,
	}})
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(fmt.Sprintf("replicaset: marshal patch: %v", err))
	}
	return b
}
