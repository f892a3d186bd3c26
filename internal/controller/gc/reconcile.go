package gc

import (
	"context"
	"errors"
	"fmt"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

// reconcile does the collector's work for the owner whose UID is key.
func (c *Collector) reconcile(ctx context.Context, key string) error {
	uid := types.UID(key)
	owner, found := c.cachedObject(uid)
	if found && !owner.needsOwnerWork() {
		return nil // alive: nothing to collect
	}
	deps := c.dependents(uid)
	var current *object
	if found {
		current = &owner
	} else {
		if len(deps) == 0 {
			return nil
		}
		st, live, err := c.lookup(ctx, uid, c.coordsOf(uid, deps))
		if err != nil {
			return err
		}
		switch st {
		case ownerUnknown:
			c.log.Debug("owner cannot be resolved; its dependents are kept", "owner", uid)
			return nil
		case ownerGone:
		default: // alive, the caches lag behind
			if !live.needsOwnerWork() {
				return nil
			}
			current = live
		}
	}
	states := map[types.UID]ownerState{}
	if current == nil || !current.hasFinalizer(finalizerOrphan) {
		if err := c.resolveOwners(ctx, uid, deps, states); err != nil {
			return err
		}
	}
	return c.apply(ctx, uid, current, planOwner(uid, current, deps, states))
}

// cachedObject finds the object with uid in the caches.
func (c *Collector) cachedObject(uid types.UID) (object, bool) {
	for _, r := range c.cached {
		items, err := r.informer.GetIndexer().ByIndex(uidIndex, string(uid))
		if err != nil || len(items) == 0 {
			continue
		}
		if m, err := meta.Accessor(items[0]); err == nil {
			return objectOf(r, m), true
		}
	}
	return object{}, false
}

// dependents lists the cached objects that reference owner uid.
func (c *Collector) dependents(uid types.UID) []object {
	var out []object
	for _, r := range c.cached {
		items, err := r.informer.GetIndexer().ByIndex(ownerIndex, string(uid))
		if err != nil {
			continue
		}
		for _, it := range items {
			if m, err := meta.Accessor(it); err == nil {
				out = append(out, objectOf(r, m))
			}
		}
	}
	return out
}

// coord is where an ownerReference points: resource, namespace and name
// (res nil when the reference cannot be resolved).
type coord struct {
	res       *resource
	namespace string
	name      string
}

// coordOf resolves dep's reference ref. A namespaced owner lives in its
// dependent's namespace; a cluster-scoped dependent cannot have one.
func (c *Collector) coordOf(dep object, ref metav1.OwnerReference) coord {
	r := c.res.forRef(ref)
	switch {
	case r == nil:
		return coord{}
	case !r.namespaced:
		return coord{res: r, name: ref.Name}
	case dep.namespace == "":
		return coord{}
	default:
		return coord{res: r, namespace: dep.namespace, name: ref.Name}
	}
}

// coordsOf lists the distinct places deps say owner uid lives.
func (c *Collector) coordsOf(uid types.UID, deps []object) []coord {
	var out []coord
	seen := map[coord]bool{}
	for _, d := range deps {
		if ref, ok := d.refTo(uid); ok {
			co := c.coordOf(d, ref)
			if !seen[co] {
				seen[co] = true
				out = append(out, co)
			}
		}
	}
	return out
}

// lookup asks the API server about owner uid at coords: alive or waiting
// (with its live state) when one of them holds an object with that UID,
// gone when every one answers NotFound or another UID, unknown when some
// could not be resolved and none is alive.
func (c *Collector) lookup(ctx context.Context, uid types.UID, coords []coord) (ownerState, *object, error) {
	unknown := false
	for _, co := range coords {
		if co.res == nil {
			unknown = true
			continue
		}
		m, err := c.api.get(ctx, co.res, co.namespace, co.name)
		if apierrors.IsNotFound(err) {
			continue
		}
		if err != nil {
			return ownerUnknown, nil, fmt.Errorf("gc: get owner %s %s/%s: %w", co.res, co.namespace, co.name, err)
		}
		if m.UID != uid {
			continue
		}
		o := objectOf(co.res, m)
		return stateOf(o), &o, nil
	}
	if unknown {
		return ownerUnknown, nil, nil
	}
	return ownerGone, nil, nil
}

// resolveOwners fills states with the state of every owner, other than
// uid, of the dependents that are not already being deleted: from the
// caches, else from the API server.
func (c *Collector) resolveOwners(ctx context.Context, uid types.UID, deps []object, states map[types.UID]ownerState) error {
	for _, d := range deps {
		if d.deleting {
			continue
		}
		for _, ref := range d.owners {
			if ref.UID == uid {
				continue
			}
			if _, done := states[ref.UID]; done {
				continue
			}
			if o, ok := c.cachedObject(ref.UID); ok {
				states[ref.UID] = stateOf(o)
				continue
			}
			st, _, err := c.lookup(ctx, ref.UID, []coord{c.coordOf(d, ref)})
			if err != nil {
				return err
			}
			states[ref.UID] = st
		}
	}
	return nil
}

// apply carries out p for owner uid (owner nil when it is gone). The
// finalizer is only removed when every other step succeeded.
func (c *Collector) apply(ctx context.Context, uid types.UID, owner *object, p plan) error {
	var errs []error
	for _, s := range p.strips {
		data, err := stripPatch(s.obj.uid, s.uids)
		if err == nil {
			err = c.api.patch(ctx, s.obj, data)
		}
		switch {
		case apierrors.IsNotFound(err):
		case err != nil:
			errs = append(errs, fmt.Errorf("remove owner references from %s %s: %w", s.obj.res, nameOf(s.obj), err))
		default:
			c.log.Info("removed owner references", "resource", s.obj.res.String(), "object", nameOf(s.obj), "owners", s.uids)
		}
	}
	for _, d := range p.deletes {
		if c.recent.has(d.obj.uid) {
			continue // deleted already; the caches lag behind
		}
		err := c.api.delete(ctx, d.obj, d.policy)
		switch {
		case apierrors.IsNotFound(err):
		case err != nil:
			errs = append(errs, fmt.Errorf("delete %s %s: %w", d.obj.res, nameOf(d.obj), err))
		default:
			c.recent.add(d.obj.uid)
			c.log.Info("deleted dependent", "resource", d.obj.res.String(), "object", nameOf(d.obj), "owner", uid, "propagationPolicy", d.policy)
		}
	}
	if len(errs) == 0 && owner != nil && p.removeFinalizer != "" {
		data, err := finalizerPatch(owner.uid, p.removeFinalizer)
		if err == nil {
			err = c.api.patch(ctx, *owner, data)
		}
		switch {
		case apierrors.IsNotFound(err):
		case err != nil:
			errs = append(errs, fmt.Errorf("remove finalizer %s from %s %s: %w", p.removeFinalizer, owner.res, nameOf(*owner), err))
		default:
			c.log.Info("removed finalizer", "resource", owner.res.String(), "object", nameOf(*owner), "finalizer", p.removeFinalizer)
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("gc: owner %s: %w", uid, errors.Join(errs...))
	}
	return nil
}

// nameOf is "namespace/name" or "name".
func nameOf(o object) string {
	if o.namespace == "" {
		return o.name
	}
	return o.namespace + "/" + o.name
}
