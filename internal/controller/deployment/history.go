package deployment

import (
	"slices"

	appsv1 "k8s.io/api/apps/v1"
)

// PlanCleanup returns the old ReplicaSets to delete so that no more than
// spec.revisionHistoryLimit remain: the lowest revisions first, skipping
// any that still has pods, is not scaled to 0, has not had its scale-down
// observed, or is already being deleted (those still count against the
// limit).
func PlanCleanup(d *appsv1.Deployment, oldRSs []*appsv1.ReplicaSet) []*appsv1.ReplicaSet {
	if d.Spec.RevisionHistoryLimit == nil {
		return nil
	}
	var alive []*appsv1.ReplicaSet
	for _, rs := range oldRSs {
		if rs != nil && rs.DeletionTimestamp == nil {
			alive = append(alive, rs)
		}
	}
	diff := len(alive) - int(*d.Spec.RevisionHistoryLimit)
	if diff <= 0 {
		return nil
	}
	slices.SortStableFunc(alive, func(a, b *appsv1.ReplicaSet) int {
		ra, _ := Revision(a)
		rb, _ := Revision(b)
		switch {
		case ra < rb:
			return -1
		case ra > rb:
			return 1
		}
		return olderFirst(a, b)
	})
	var out []*appsv1.ReplicaSet
	for _, rs := range alive[:diff] {
		if rs.Status.Replicas != 0 || specOf(rs) != 0 || rs.Generation > rs.Status.ObservedGeneration {
			continue
		}
		out = append(out, rs)
	}
	return out
}
