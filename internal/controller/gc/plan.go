package gc

import (
	"slices"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

// The finalizers of the propagation policies, added by the API server.
const (
	finalizerOrphan     = metav1.FinalizerOrphanDependents
	finalizerForeground = metav1.FinalizerDeleteDependents
)

// object is what the collector knows of one API object.
type object struct {
	res        *resource // where it is served; nil in planner tests
	namespace  string
	name       string
	uid        types.UID
	deleting   bool // deletionTimestamp is set
	finalizers []string
	owners     []metav1.OwnerReference
}

// objectOf converts object metadata from a cache or the API.
func objectOf(res *resource, m metav1.Object) object {
	return object{
		res:        res,
		namespace:  m.GetNamespace(),
		name:       m.GetName(),
		uid:        m.GetUID(),
		deleting:   m.GetDeletionTimestamp() != nil,
		finalizers: m.GetFinalizers(),
		owners:     m.GetOwnerReferences(),
	}
}

// hasFinalizer reports whether o carries finalizer f.
func (o object) hasFinalizer(f string) bool { return slices.Contains(o.finalizers, f) }

// needsOwnerWork reports whether o is being deleted with a propagation
// finalizer that the collector must process.
func (o object) needsOwnerWork() bool {
	return o.deleting && (o.hasFinalizer(finalizerOrphan) || o.hasFinalizer(finalizerForeground))
}

// refTo returns o's reference to owner uid, if any.
func (o object) refTo(uid types.UID) (metav1.OwnerReference, bool) {
	for _, r := range o.owners {
		if r.UID == uid {
			return r, true
		}
	}
	return metav1.OwnerReference{}, false
}

// ownerState is what an owner reference points at.
type ownerState int

const (
	// ownerUnknown: the owner could not be resolved (unknown kind, invalid
	// scope); it is treated as alive so that nothing is deleted for it.
	ownerUnknown ownerState = iota
	// ownerAlive: the owner exists and is not waiting on its dependents.
	ownerAlive
	// ownerWaiting: the owner exists, is being deleted and carries the
	// foregroundDeletion finalizer.
	ownerWaiting
	// ownerGone: no object with the owner's UID exists.
	ownerGone
)

// stateOf is the state of an owner that exists.
func stateOf(o object) ownerState {
	if o.deleting && o.hasFinalizer(finalizerForeground) {
		return ownerWaiting
	}
	return ownerAlive
}

// deletion asks for one dependent to be deleted.
type deletion struct {
	obj    object
	policy metav1.DeletionPropagation
}

// strip asks for references to be removed from one dependent.
type strip struct {
	obj  object
	uids []types.UID
}

// plan is what one reconcile of an owner does: strips first, then
// deletions, then (when all succeeded) the owner's finalizer removal.
type plan struct {
	strips          []strip
	deletes         []deletion
	removeFinalizer string // "" keeps the owner's finalizers
}

// empty reports whether p does nothing.
func (p plan) empty() bool {
	return len(p.strips) == 0 && len(p.deletes) == 0 && p.removeFinalizer == ""
}

// dependentAction is what happens to one dependent: deleted with policy,
// or stripped of the references in strip, or nothing.
type dependentAction struct {
	delete bool
	policy metav1.DeletionPropagation
	strip  []types.UID
}

// planDependent decides the fate of dep given the states of its owners
// (an owner missing from states is unknown, hence treated as alive):
//   - a dependent already being deleted is left alone;
//   - with a live (or unknown) owner, it only loses its references to gone
//     and waiting owners;
//   - else, with an owner waiting on a foreground deletion, it is deleted
//     in the foreground so that the cascade runs depth-first;
//   - else (every owner gone) it is deleted in the background.
//
// A dependent without owner references is never touched.
func planDependent(dep object, states map[types.UID]ownerState) dependentAction {
	if dep.deleting || len(dep.owners) == 0 {
		return dependentAction{}
	}
	var solid, waiting, dangling []types.UID
	for _, r := range dep.owners {
		switch states[r.UID] {
		case ownerGone:
			dangling = append(dangling, r.UID)
		case ownerWaiting:
			waiting = append(waiting, r.UID)
		default:
			solid = append(solid, r.UID)
		}
	}
	switch {
	case len(solid) > 0:
		return dependentAction{strip: append(dangling, waiting...)}
	case len(waiting) > 0:
		return dependentAction{delete: true, policy: metav1.DeletePropagationForeground}
	default:
		return dependentAction{delete: true, policy: metav1.DeletePropagationBackground}
	}
}

// planOwner decides what to do for the owner with uid: owner is its
// current state, nil when it is gone; deps are the objects referencing
// uid; states holds the states of the dependents' other owners (the
// owner's own state is derived from owner).
func planOwner(uid types.UID, owner *object, deps []object, states map[types.UID]ownerState) plan {
	var p plan
	if owner != nil && !owner.needsOwnerWork() {
		return p
	}
	if owner != nil && owner.hasFinalizer(finalizerOrphan) {
		for _, d := range deps {
			if _, ok := d.refTo(uid); ok {
				p.strips = append(p.strips, strip{obj: d, uids: []types.UID{uid}})
			}
		}
		p.removeFinalizer = finalizerOrphan
		return p
	}
	st := make(map[types.UID]ownerState, len(states)+1)
	for k, v := range states {
		st[k] = v
	}
	st[uid] = ownerGone
	if owner != nil {
		st[uid] = ownerWaiting
	}
	blocked := false
	for _, d := range deps {
		ref, ok := d.refTo(uid)
		if !ok {
			continue
		}
		if ref.BlockOwnerDeletion != nil && *ref.BlockOwnerDeletion {
			blocked = true
		}
		a := planDependent(d, st)
		switch {
		case a.delete:
			p.deletes = append(p.deletes, deletion{obj: d, policy: a.policy})
		case len(a.strip) > 0:
			p.strips = append(p.strips, strip{obj: d, uids: a.strip})
		}
	}
	if owner != nil && !blocked {
		p.removeFinalizer = finalizerForeground
	}
	return p
}
