package deployment

import (
	"math"
	"slices"

	appsv1 "k8s.io/api/apps/v1"
)

// IsScalingEvent reports whether d was resized since its active
// ReplicaSets were last scaled (their desired-replicas annotation differs
// from spec.replicas).
func IsScalingEvent(d *appsv1.Deployment, newRS *appsv1.ReplicaSet, oldRSs []*appsv1.ReplicaSet) bool {
	for _, rs := range activeOnly(withNew(oldRSs, newRS)) {
		if n, ok := intAnnotation(rs, DesiredReplicasAnnotation); ok && n != desired(d) {
			return true
		}
	}
	return false
}

// activeOrLatest returns the only active ReplicaSet; with none active, the
// new one or else the newest old one; with several active, nil.
func activeOrLatest(newRS *appsv1.ReplicaSet, oldRSs []*appsv1.ReplicaSet) *appsv1.ReplicaSet {
	if newRS == nil && len(oldRSs) == 0 {
		return nil
	}
	olds := sortedByAge(oldRSs)
	slices.Reverse(olds)
	active := activeOnly(withNew(olds, newRS))
	switch len(active) {
	case 0:
		if newRS != nil {
			return newRS
		}
		return olds[0]
	case 1:
		return active[0]
	}
	return nil
}

// isSaturated reports whether rs runs all of d's replicas, available.
func isSaturated(d *appsv1.Deployment, rs *appsv1.ReplicaSet) bool {
	if rs == nil {
		return false
	}
	n, ok := intAnnotation(rs, DesiredReplicasAnnotation)
	return ok && n == desired(d) && specOf(rs) == desired(d) && rs.Status.AvailableReplicas == desired(d)
}

// PlanScale resizes d's ReplicaSets to d's spec.replicas without rollout
// progress (a resize, or a paused Deployment): a single active (or else
// the latest) ReplicaSet takes all replicas; with a saturated new
// ReplicaSet the old ones go to 0; otherwise, for RollingUpdate, the
// difference to spec.replicas+maxSurge is shared among the active
// ReplicaSets in proportion to their size (by their max-replicas
// annotation), largest first, leftovers to the largest. In that last case
// every active ReplicaSet is listed, so that its annotations are refreshed.
func PlanScale(d *appsv1.Deployment, newRS *appsv1.ReplicaSet, oldRSs []*appsv1.ReplicaSet) []Scale {
	want := desired(d)
	if rs := activeOrLatest(newRS, oldRSs); rs != nil {
		if specOf(rs) == want {
			return nil
		}
		return []Scale{{RS: rs, To: want}}
	}
	if isSaturated(d, newRS) {
		var plan []Scale
		for _, rs := range sortedByAge(activeOnly(oldRSs)) {
			plan = append(plan, Scale{RS: rs, To: 0})
		}
		return plan
	}
	if !isRolling(d) {
		return nil
	}
	all := activeOnly(withNew(oldRSs, newRS))
	var allowed int32
	if want > 0 {
		allowed = want + MaxSurge(d)
	}
	toAdd := allowed - sumSpec(all)
	switch {
	case toAdd > 0:
		sortBySize(all, true)
	case toAdd < 0:
		sortBySize(all, false)
	}
	sizes := make([]int32, len(all))
	var added int32
	for i, rs := range all {
		sizes[i] = specOf(rs)
		if toAdd != 0 {
			p := proportion(d, rs, toAdd, added)
			sizes[i] += p
			added += p
		}
	}
	if toAdd != 0 && len(all) > 0 {
		sizes[0] = max(sizes[0]+toAdd-added, 0)
	}
	plan := make([]Scale, len(all))
	for i, rs := range all {
		plan[i] = Scale{RS: rs, To: sizes[i]}
	}
	return plan
}

// proportion is rs's share of toAdd (negative to remove), never more (in
// absolute value) than what is left of toAdd after added.
func proportion(d *appsv1.Deployment, rs *appsv1.ReplicaSet, toAdd, added int32) int32 {
	if specOf(rs) == 0 || toAdd == 0 || toAdd == added {
		return 0
	}
	f := fraction(d, rs)
	left := toAdd - added
	if toAdd > 0 {
		return min(f, left)
	}
	return max(f, left)
}

// fraction is how much rs grows (shrinks) when its Deployment goes from
// the size recorded in rs's max-replicas annotation (else the
// Deployment's status.replicas) to spec.replicas+maxSurge.
func fraction(d *appsv1.Deployment, rs *appsv1.ReplicaSet) int32 {
	cur := specOf(rs)
	if desired(d) == 0 {
		return -cur
	}
	target := desired(d) + MaxSurge(d)
	from, ok := intAnnotation(rs, MaxReplicasAnnotation)
	if !ok {
		from = d.Status.Replicas
	}
	if from <= 0 {
		return 0
	}
	size := float64(cur) * float64(target) / float64(from)
	return int32(math.Round(size)) - cur
}
