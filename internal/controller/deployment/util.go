package deployment

import (
	"fmt"
	"math"
	"slices"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// replicas returns *p, or def when p is nil.
func replicas(p *int32, def int32) int32 {
	if p == nil {
		return def
	}
	return *p
}

// desired is the Deployment's spec.replicas (the API defaults it to 1).
func desired(d *appsv1.Deployment) int32 { return replicas(d.Spec.Replicas, 1) }

// specOf is a ReplicaSet's spec.replicas; a nil ReplicaSet has none.
func specOf(rs *appsv1.ReplicaSet) int32 {
	if rs == nil {
		return 0
	}
	return replicas(rs.Spec.Replicas, 1)
}

// ResolveFenceposts turns maxSurge and maxUnavailable (absolute or
// percentages of desired) into pod counts: surge rounds up, unavailable
// rounds down, and when both come out 0, maxUnavailable is 1.
func ResolveFenceposts(maxSurge, maxUnavailable *intstr.IntOrString, desired int32) (surge, unavailable int32, err error) {
	zero := intstr.FromInt32(0)
	if maxSurge == nil {
		maxSurge = &zero
	}
	if maxUnavailable == nil {
		maxUnavailable = &zero
	}
	s, err := intstr.GetScaledValueFromIntOrPercent(maxSurge, int(desired), true)
	if err != nil {
		return 0, 0, fmt.Errorf("maxSurge: %w", err)
	}
	u, err := intstr.GetScaledValueFromIntOrPercent(maxUnavailable, int(desired), false)
	if err != nil {
		return 0, 0, fmt.Errorf("maxUnavailable: %w", err)
	}
	if s == 0 && u == 0 {
		u = 1
	}
	return int32(s), int32(u), nil
}

// isRolling reports whether d uses the RollingUpdate strategy.
func isRolling(d *appsv1.Deployment) bool {
	return d.Spec.Strategy.Type == appsv1.RollingUpdateDeploymentStrategyType
}

// fenceposts resolves d's rolling-update parameters; invalid values (the
// API rejects them) count as 0 surge and 1 unavailable.
func fenceposts(d *appsv1.Deployment) (surge, unavailable int32) {
	var ms, mu *intstr.IntOrString
	if ru := d.Spec.Strategy.RollingUpdate; ru != nil {
		ms, mu = ru.MaxSurge, ru.MaxUnavailable
	}
	s, u, err := ResolveFenceposts(ms, mu, desired(d))
	if err != nil {
		return 0, 1
	}
	return s, u
}

// MaxSurge is how many pods a RollingUpdate Deployment may run above its
// replicas (0 for Recreate).
func MaxSurge(d *appsv1.Deployment) int32 {
	if !isRolling(d) {
		return 0
	}
	s, _ := fenceposts(d)
	return s
}

// MaxUnavailable is how many of a RollingUpdate Deployment's replicas may
// be unavailable (0 for Recreate or 0 replicas; at most replicas).
func MaxUnavailable(d *appsv1.Deployment) int32 {
	if !isRolling(d) || desired(d) == 0 {
		return 0
	}
	_, u := fenceposts(d)
	return min(u, desired(d))
}

// hasProgressDeadline reports whether d's progress is checked.
func hasProgressDeadline(d *appsv1.Deployment) bool {
	return d.Spec.ProgressDeadlineSeconds != nil && *d.Spec.ProgressDeadlineSeconds != math.MaxInt32
}

// olderFirst orders ReplicaSets by creation time, then by name.
func olderFirst(a, b *appsv1.ReplicaSet) int {
	if a.CreationTimestamp.Equal(&b.CreationTimestamp) {
		return strings.Compare(a.Name, b.Name)
	}
	if a.CreationTimestamp.Before(&b.CreationTimestamp) {
		return -1
	}
	return 1
}

// sortedByAge returns a copy of rss ordered oldest first.
func sortedByAge(rss []*appsv1.ReplicaSet) []*appsv1.ReplicaSet {
	out := slices.Clone(rss)
	slices.SortStableFunc(out, olderFirst)
	return out
}

// sortBySize orders rss largest first; equal sizes go newer first when
// newerFirst, else older first.
func sortBySize(rss []*appsv1.ReplicaSet, newerFirst bool) {
	slices.SortStableFunc(rss, func(a, b *appsv1.ReplicaSet) int {
		if sa, sb := specOf(a), specOf(b); sa != sb {
			if sa > sb {
				return -1
			}
			return 1
		}
		if newerFirst {
			return olderFirst(b, a)
		}
		return olderFirst(a, b)
	})
}

// activeOnly returns the non-nil ReplicaSets with spec.replicas > 0.
func activeOnly(rss []*appsv1.ReplicaSet) []*appsv1.ReplicaSet {
	var out []*appsv1.ReplicaSet
	for _, rs := range rss {
		if rs != nil && specOf(rs) > 0 {
			out = append(out, rs)
		}
	}
	return out
}

// withNew returns old plus newRS when newRS is not nil, in a new slice.
func withNew(old []*appsv1.ReplicaSet, newRS *appsv1.ReplicaSet) []*appsv1.ReplicaSet {
	out := slices.Clone(old)
	if newRS != nil {
		out = append(out, newRS)
	}
	return out
}

// sumSpec adds the ReplicaSets' spec.replicas.
func sumSpec(rss []*appsv1.ReplicaSet) int32 {
	var n int32
	for _, rs := range rss {
		n += specOf(rs)
	}
	return n
}

// sumStatus adds a status field of the non-nil ReplicaSets.
func sumStatus(rss []*appsv1.ReplicaSet, f func(*appsv1.ReplicaSetStatus) int32) int32 {
	var n int32
	for _, rs := range rss {
		if rs != nil {
			n += f(&rs.Status)
		}
	}
	return n
}

func statusReplicas(s *appsv1.ReplicaSetStatus) int32  { return s.Replicas }
func statusReady(s *appsv1.ReplicaSetStatus) int32     { return s.ReadyReplicas }
func statusAvailable(s *appsv1.ReplicaSetStatus) int32 { return s.AvailableReplicas }

// podCount is what the surge limit counts for a ReplicaSet: its spec, or
// its reported pods while the ReplicaSet controller has not yet removed
// the pods of a scale-down (so a rollout never overshoots the surge while
// old pods are still being deleted).
func podCount(rs *appsv1.ReplicaSet) int32 {
	if rs == nil {
		return 0
	}
	return max(specOf(rs), rs.Status.Replicas)
}

// availableCount is what the availability floor counts for a ReplicaSet:
// its available pods, but no more than its spec (pods above the spec are
// about to be deleted by the ReplicaSet controller).
func availableCount(rs *appsv1.ReplicaSet) int32 {
	if rs == nil {
		return 0
	}
	return max(0, min(rs.Status.AvailableReplicas, specOf(rs)))
}

// FindNewReplicaSet returns the ReplicaSet whose template equals d's
// template ignoring the pod-template-hash label; if several do, the oldest.
func FindNewReplicaSet(d *appsv1.Deployment, rss []*appsv1.ReplicaSet) *appsv1.ReplicaSet {
	for _, rs := range sortedByAge(rss) {
		if EqualIgnoreHash(&rs.Spec.Template, &d.Spec.Template) {
			return rs
		}
	}
	return nil
}

// SplitReplicaSets returns d's new ReplicaSet (nil if none) and all others.
func SplitReplicaSets(d *appsv1.Deployment, rss []*appsv1.ReplicaSet) (newRS *appsv1.ReplicaSet, old []*appsv1.ReplicaSet) {
	newRS = FindNewReplicaSet(d, rss)
	for _, rs := range rss {
		if rs != newRS {
			old = append(old, rs)
		}
	}
	return newRS, old
}
