package replicaset

import (
	"context"
	"errors"
	"fmt"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/cache"

	"github.com/berth-dev/berth/internal/controller"
)

// reconcile brings one ReplicaSet (key "namespace/name") to spec.replicas
// active pods and writes its status.
func (c *Controller) reconcile(ctx context.Context, key string) error {
	ns, name, err := cache.SplitMetaNamespaceKey(key)
	if err != nil {
		return nil // malformed key: nothing to retry
	}
	rs, err := c.rsLister.ReplicaSets(ns).Get(name)
	if apierrors.IsNotFound(err) {
		c.exp.Forget(key)
		return nil
	}
	if err != nil {
		return fmt.Errorf("replicaset: get %s: %w", key, err)
	}
	if rs.DeletionTimestamp != nil {
		return nil // the garbage collector deals with the pods
	}
	// Read the expectations before the pods: an event that lands in
	// between then only causes one more reconcile, never a double action.
	canManage, _ := c.exp.Satisfied(key)
	sel, err := metav1.LabelSelectorAsSelector(rs.Spec.Selector)
	if err != nil {
		c.recorder.Eventf(rs, corev1.EventTypeWarning, "InvalidSelector", "Invalid selector: %v", err)
		return nil
	}
	candidates, terminating, err := c.candidates(rs, sel)
	if err != nil {
		return err
	}
	claims := planClaims(rs, sel, candidates)
	active, claimErr := c.applyClaims(ctx, rs, sel, claims)

	var manageErr error
	reason := ""
	if canManage && claimErr == nil {
		plan := planScale(active, replicasOf(rs), c.burst, c.now())
		switch {
		case plan.Create > 0:
			reason = "FailedCreate"
			manageErr = c.createPods(ctx, key, rs, plan.Create)
		case len(plan.Delete) > 0:
			reason = "FailedDelete"
			manageErr = c.deletePods(ctx, key, rs, plan.Delete)
		}
	}
	st, wait := computeStatus(statusInput{RS: rs, Pods: active, Terminating: terminating,
		ManageErr: manageErr, FailureReason: reason, Now: c.now()})
	if err := c.writeStatus(ctx, rs, st); err != nil {
		return errors.Join(err, manageErr, claimErr)
	}
	if manageErr != nil || claimErr != nil {
		return errors.Join(manageErr, claimErr)
	}
	if !canManage {
		adds, dels := c.exp.Pending(key)
		c.log.Debug("waiting for pod events", "key", key, "creates", adds, "deletes", dels)
	}
	if wait > 0 {
		return controller.RequeueAfter{Delay: wait}
	}
	return nil
}

// candidates returns the pods the ReplicaSet controls or could adopt, and
// the number of its controlled pods being deleted.
func (c *Controller) candidates(rs *appsv1.ReplicaSet, sel labels.Selector) ([]*corev1.Pod, int32, error) {
	owned, err := c.podIndexer.ByIndex(controllerUIDIndex, string(rs.UID))
	if err != nil {
		return nil, 0, fmt.Errorf("replicaset: pods of %s/%s: %w", rs.Namespace, rs.Name, err)
	}
	seen := make(map[types.UID]bool, len(owned))
	out := make([]*corev1.Pod, 0, len(owned))
	var terminating int32
	for _, o := range owned {
		p, ok := o.(*corev1.Pod)
		if !ok || p.Namespace != rs.Namespace {
			continue
		}
		seen[p.UID] = true
		out = append(out, p)
		if p.DeletionTimestamp != nil {
			terminating++
		}
	}
	matching, err := c.podLister.Pods(rs.Namespace).List(sel)
	if err != nil {
		return nil, 0, fmt.Errorf("replicaset: list pods for %s/%s: %w", rs.Namespace, rs.Name, err)
	}
	for _, p := range matching {
		if !seen[p.UID] && metav1.GetControllerOfNoCopy(p) == nil {
			out = append(out, p)
		}
	}
	return out, terminating, nil
}

func replicasOf(rs *appsv1.ReplicaSet) int32 {
	if rs.Spec.Replicas == nil {
		return 1
	}
	return *rs.Spec.Replicas
}

// writeStatus updates the status subresource if st differs from the
// cached one. A conflict means a newer ReplicaSet is on its way through the
// informer, whose event reconciles again: it is not an error.
func (c *Controller) writeStatus(ctx context.Context, rs *appsv1.ReplicaSet, st appsv1.ReplicaSetStatus) error {
	if apiequality.Semantic.DeepEqual(rs.Status, st) {
		return nil
	}
	cp := rs.DeepCopy()
	cp.Status = st
	_, err := c.client.AppsV1().ReplicaSets(rs.Namespace).UpdateStatus(ctx, cp, metav1.UpdateOptions{})
	switch {
	case err == nil || apierrors.IsNotFound(err):
		return nil
	case apierrors.IsConflict(err):
		c.log.Debug("status update conflict; waiting for the newer ReplicaSet", "key", rsKey(rs))
		return nil
	}
	return fmt.Errorf("replicaset: update status of %s/%s: %w", rs.Namespace, rs.Name, err)
}
