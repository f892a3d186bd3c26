package namespace

import (
	"context"
	"encoding/json"
	"fmt"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/discovery"
)

// listedObject is the part of a listed object the controller reads.
type listedObject struct {
	Metadata struct {
		Name              string       `json:"name"`
		DeletionTimestamp *metav1.Time `json:"deletionTimestamp,omitempty"`
		Finalizers        []string     `json:"finalizers,omitempty"`
	} `json:"metadata"`
}

// objectList is any list answer, reduced to its items' metadata.
type objectList struct {
	Items []listedObject `json:"items"`
}

// discover returns the namespaced resources to empty. With a partial
// discovery failure it returns what was discovered and the error.
func (c *Controller) discover(ctx context.Context) ([]target, error) {
	lists, err := discovery.ServerPreferredNamespacedResourcesWithContext(ctx, discovery.ToDiscoveryInterfaceWithContext(c.client.Discovery()))
	if err != nil {
		err = fmt.Errorf("discover namespaced resources: %w", err)
	}
	return targets(lists), err
}

// empty deletes the objects of resource t in namespace ns and reports what
// is left.
func (c *Controller) empty(ctx context.Context, ns string, t target) (leftover, error) {
	left := leftover{resource: t.String()}
	p := t.path(ns)
	items, err := c.list(ctx, p)
	if apierrors.IsNotFound(err) || apierrors.IsMethodNotSupported(err) {
		return left, nil // no longer served
	}
	if err != nil {
		return left, fmt.Errorf("list %s: %w", t, err)
	}
	if live(items) {
		if err := c.deleteObjects(ctx, p, t, items); err != nil {
			return left, fmt.Errorf("delete %s: %w", t, err)
		}
		if items, err = c.list(ctx, p); err != nil {
			return left, fmt.Errorf("list %s: %w", t, err)
		}
	}
	left.count = len(items)
	for _, it := range items {
		if it.Metadata.DeletionTimestamp != nil && len(it.Metadata.Finalizers) > 0 {
			left.finalized++
		}
		for _, f := range it.Metadata.Finalizers {
			if left.finalizers == nil {
				left.finalizers = map[string]int{}
			}
			left.finalizers[f]++
		}
	}
	return left, nil
}

// live reports whether some object is not yet marked for deletion.
func live(items []listedObject) bool {
	for _, it := range items {
		if it.Metadata.DeletionTimestamp == nil {
			return true
		}
	}
	return false
}

func (c *Controller) list(ctx context.Context, p string) ([]listedObject, error) {
	body, err := c.client.Discovery().RESTClient().Get().AbsPath(p).
		SetHeader("Accept", "application/json").Do(ctx).Raw()
	if err != nil {
		return nil, err
	}
	var l objectList
	if err := json.Unmarshal(body, &l); err != nil {
		return nil, fmt.Errorf("decode list %s: %w", p, err)
	}
	return l.Items, nil
}

// deleteObjects deletes the collection at p, or each live object when the
// resource has no deletecollection verb; dependents are collected in the
// background.
func (c *Controller) deleteObjects(ctx context.Context, p string, t target, items []listedObject) error {
	rest := c.client.Discovery().RESTClient()
	if t.deleteCollection {
		return rest.Delete().AbsPath(p).Param("propagationPolicy", string(metav1.DeletePropagationBackground)).
			SetHeader("Accept", "application/json").Do(ctx).Error()
	}
	for _, it := range items {
		if it.Metadata.DeletionTimestamp != nil {
			continue
		}
		err := rest.Delete().AbsPath(p, it.Metadata.Name).Param("propagationPolicy", string(metav1.DeletePropagationBackground)).
			SetHeader("Accept", "application/json").Do(ctx).Error()
		if err != nil && !apierrors.IsNotFound(err) {
			return fmt.Errorf("%s: %w", it.Metadata.Name, err)
		}
	}
	return nil
}
