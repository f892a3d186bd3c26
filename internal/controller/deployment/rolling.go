package deployment

import (
	appsv1 "k8s.io/api/apps/v1"
)

// Scale is one planned resize of a ReplicaSet; applying it also brings
// the ReplicaSet's desired- and max-replicas annotations up to date.
type Scale struct {
	// RS is the ReplicaSet as last seen.
	RS *appsv1.ReplicaSet
	// To is its new spec.replicas.
	To int32
}

// NewRSReplicas is the size d's new ReplicaSet may have now, given all of
// d's ReplicaSets (newRS among them): Recreate jumps to spec.replicas;
// RollingUpdate grows it towards spec.replicas while the pods of all
// ReplicaSets stay within spec.replicas+maxSurge.
func NewRSReplicas(d *appsv1.Deployment, all []*appsv1.ReplicaSet, newRS *appsv1.ReplicaSet) int32 {
	want := desired(d)
	if !isRolling(d) {
		return want
	}
	cur := specOf(newRS)
	var pods int32
	for _, rs := range all {
		pods += podCount(rs)
	}
	maxTotal := want + MaxSurge(d)
	if pods >= maxTotal {
		return cur
	}
	up := min(maxTotal-pods, want-cur)
	return cur + max(up, 0)
}

// PlanRollingUpdate is one RollingUpdate step: it resizes the new
// ReplicaSet when it may grow (or must shrink to spec.replicas); otherwise
// it shrinks old ReplicaSets, oldest first, first by their unavailable
// pods, then by available ones as long as at least
// spec.replicas-maxUnavailable pods stay available. Empty means the step
// has nothing to do.
func PlanRollingUpdate(d *appsv1.Deployment, newRS *appsv1.ReplicaSet, oldRSs []*appsv1.ReplicaSet) []Scale {
	all := withNew(oldRSs, newRS)
	if newRS != nil {
		cur, want := specOf(newRS), desired(d)
		if cur > want {
			return []Scale{{RS: newRS, To: want}}
		}
		if cur < want {
			if n := NewRSReplicas(d, all, newRS); n != cur {
				return []Scale{{RS: newRS, To: n}}
			}
		}
	}
	return planOldScaleDown(d, newRS, oldRSs)
}

// planOldScaleDown shrinks the old ReplicaSets of a rolling update.
func planOldScaleDown(d *appsv1.Deployment, newRS *appsv1.ReplicaSet, oldRSs []*appsv1.ReplicaSet) []Scale {
	old := sortedByAge(activeOnly(oldRSs))
	if len(old) == 0 {
		return nil
	}
	all := withNew(old, newRS)
	minAvailable := desired(d) - MaxUnavailable(d)
	newUnavailable := specOf(newRS) - availableCount(newRS)
	// How far the old ReplicaSets may shrink in total: their unavailable
	// pods count against the floor as much as the new ones' do.
	maxScaledDown := sumSpec(all) - minAvailable - newUnavailable
	if maxScaledDown <= 0 {
		return nil
	}
	sizes := make([]int32, len(old))
	for i, rs := range old {
		sizes[i] = specOf(rs)
	}
	// 1. Unhealthy replicas go first: removing them costs no availability.
	var cleaned int32
	for i, rs := range old {
		if cleaned >= maxScaledDown {
			break
		}
		unhealthy := sizes[i] - availableCount(rs)
		if unhealthy <= 0 {
			continue
		}
		n := min(maxScaledDown-cleaned, unhealthy)
		sizes[i] -= n
		cleaned += n
	}
	// 2. Then available ones, keeping minAvailable available.
	var available int32
	for _, rs := range all {
		available += availableCount(rs)
	}
	if budget := available - minAvailable; budget > 0 {
		var done int32
		for i := range old {
			if done >= budget {
				break
			}
			n := min(sizes[i], budget-done)
			sizes[i] -= n
			done += n
		}
	}
	var plan []Scale
	for i, rs := range old {
		if sizes[i] != specOf(rs) {
			plan = append(plan, Scale{RS: rs, To: sizes[i]})
		}
	}
	return plan
}
