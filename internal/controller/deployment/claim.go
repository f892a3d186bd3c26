package deployment

import (
	"context"
	"fmt"

	appsv1 "k8s.io/api/apps/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
)

// ClaimAction is what a Deployment does with a ReplicaSet of its namespace.
type ClaimAction int

// Claim actions.
const (
	// Ignore: another controller's, or an orphan that is not ours to take.
	Ignore ClaimAction = iota
	// Keep: controlled by the Deployment and matching its selector.
	Keep
	// Adopt: an orphan matching the selector; the Deployment takes it.
	Adopt
	// Release: controlled by the Deployment but no longer matching; the
	// Deployment lets it go.
	Release
)

// Claim decides what d does with rs, given d's selector: it keeps its
// matching ReplicaSets, releases non-matching ones (unless d is being
// deleted) and adopts matching orphans that are not being deleted
// (unless d is).
func Claim(d *appsv1.Deployment, sel labels.Selector, rs *appsv1.ReplicaSet) ClaimAction {
	match := sel.Matches(labels.Set(rs.Labels))
	if ref := metav1.GetControllerOfNoCopy(rs); ref != nil {
		switch {
		case ref.UID != d.UID:
			return Ignore
		case match:
			return Keep
		case d.DeletionTimestamp != nil:
			return Ignore
		}
		return Release
	}
	if !match || d.DeletionTimestamp != nil || rs.DeletionTimestamp != nil || rs.Namespace != d.Namespace {
		return Ignore
	}
	return Adopt
}

// claimReplicaSets returns d's ReplicaSets, adopting and releasing as
// Claim says. Before the first adoption it re-reads d from the API so that
// a Deployment deleted (or re-created) meanwhile adopts nothing.
func (c *Controller) claimReplicaSets(ctx context.Context, d *appsv1.Deployment) ([]*appsv1.ReplicaSet, error) {
	sel, err := metav1.LabelSelectorAsSelector(d.Spec.Selector)
	if err != nil {
		return nil, fmt.Errorf("deployment %s/%s: selector: %w", d.Namespace, d.Name, err)
	}
	rss, err := c.rsLister.ReplicaSets(d.Namespace).List(labels.Everything())
	if err != nil {
		return nil, fmt.Errorf("list replicasets: %w", err)
	}
	var out []*appsv1.ReplicaSet
	checked := false
	for _, rs := range rss {
		switch Claim(d, sel, rs) {
		case Keep:
			out = append(out, rs)
		case Adopt:
			if !checked {
				if err := c.recheck(ctx, d); err != nil {
					return nil, err
				}
				checked = true
			}
			cp := rs.DeepCopy()
			cp.OwnerReferences = append(cp.OwnerReferences, *ownerRef(d))
			got, err := c.client.AppsV1().ReplicaSets(cp.Namespace).Update(ctx, cp, metav1.UpdateOptions{})
			if apierrors.IsNotFound(err) {
				continue
			}
			if err != nil {
				return nil, fmt.Errorf("adopt replicaset %s: %w", rs.Name, err)
			}
			c.log.Info("adopted replicaset", "deployment", d.Namespace+"/"+d.Name, "replicaset", rs.Name)
			out = append(out, got)
		case Release:
			cp := rs.DeepCopy()
			var refs []metav1.OwnerReference
			for _, r := range cp.OwnerReferences {
				if r.UID != d.UID {
					refs = append(refs, r)
				}
			}
			cp.OwnerReferences = refs
			_, err := c.client.AppsV1().ReplicaSets(cp.Namespace).Update(ctx, cp, metav1.UpdateOptions{})
			if err != nil && !apierrors.IsNotFound(err) {
				return nil, fmt.Errorf("release replicaset %s: %w", rs.Name, err)
			}
			if err == nil {
				c.log.Info("released replicaset", "deployment", d.Namespace+"/"+d.Name, "replicaset", rs.Name)
			}
		}
	}
	return out, nil
}

// recheck fails when d is gone, replaced or being deleted in the API.
func (c *Controller) recheck(ctx context.Context, d *appsv1.Deployment) error {
	fresh, err := c.client.AppsV1().Deployments(d.Namespace).Get(ctx, d.Name, metav1.GetOptions{})
	if err != nil {
		return fmt.Errorf("recheck deployment %s/%s: %w", d.Namespace, d.Name, err)
	}
	if fresh.UID != d.UID {
		return fmt.Errorf("deployment %s/%s is gone: got uid %s, wanted %s", d.Namespace, d.Name, fresh.UID, d.UID)
	}
	if fresh.DeletionTimestamp != nil {
		return fmt.Errorf("deployment %s/%s is being deleted", d.Namespace, d.Name)
	}
	return nil
}
