package deployment

import (
	"strconv"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// MaxRevisionHistoryLength bounds the revision-history annotation in
// characters; the oldest entries are dropped first.
const MaxRevisionHistoryLength = 2000

// notCopied are the Deployment annotations that are not copied to its
// ReplicaSets.
var notCopied = map[string]bool{
	corev1.LastAppliedConfigAnnotation: true,
	RevisionAnnotation:                 true,
	RevisionHistoryAnnotation:          true,
	DesiredReplicasAnnotation:          true,
	MaxReplicasAnnotation:              true,
	appsv1.DeprecatedRollbackTo:        true,
}

// Revision returns obj's revision annotation as a number (0 if absent).
func Revision(obj metav1.Object) (int64, error) {
	v, ok := obj.GetAnnotations()[RevisionAnnotation]
	if !ok {
		return 0, nil
	}
	return strconv.ParseInt(v, 10, 64)
}

// MaxRevision is the highest revision among rss; unparsable ones are
// skipped.
func MaxRevision(rss []*appsv1.ReplicaSet) int64 {
	var top int64
	for _, rs := range rss {
		if rs == nil {
			continue
		}
		if v, err := Revision(rs); err == nil && v > top {
			top = v
		}
	}
	return top
}

// copyAnnotations copies d's annotations (but notCopied) onto rs and
// reports whether rs changed. It never removes annotations.
func copyAnnotations(d *appsv1.Deployment, rs *appsv1.ReplicaSet) bool {
	changed := false
	for k, v := range d.Annotations {
		if notCopied[k] {
			continue
		}
		if cur, ok := rs.Annotations[k]; ok && cur == v {
			continue
		}
		if rs.Annotations == nil {
			rs.Annotations = map[string]string{}
		}
		rs.Annotations[k] = v
		changed = true
	}
	return changed
}

// SetNewReplicaSetAnnotations brings the annotations of d's new
// ReplicaSet rs up to date and reports whether they changed: d's
// annotations are copied; a revision below newRevision is raised to it and
// the previous one appended to the revision history (bounded by
// maxHistoryLen characters); a ReplicaSet being created (!exists) also
// gets its desired- and max-replicas annotations.
func SetNewReplicaSetAnnotations(d *appsv1.Deployment, rs *appsv1.ReplicaSet, newRevision string, exists bool, maxHistoryLen int) bool {
	changed := copyAnnotations(d, rs)
	if rs.Annotations == nil {
		rs.Annotations = map[string]string{}
	}
	oldRevision := rs.Annotations[RevisionAnnotation]
	var oldN int64
	if oldRevision != "" {
		n, err := strconv.ParseInt(oldRevision, 10, 64)
		if err != nil {
			return false // a hand-edited revision: leave it alone
		}
		oldN = n
	}
	newN, err := strconv.ParseInt(newRevision, 10, 64)
	if err != nil {
		return false
	}
	if oldN < newN {
		rs.Annotations[RevisionAnnotation] = newRevision
		changed = true
		if oldRevision != "" {
			rs.Annotations[RevisionHistoryAnnotation] = appendHistory(rs.Annotations[RevisionHistoryAnnotation], oldRevision, maxHistoryLen)
		}
	}
	if !exists && SetReplicasAnnotations(rs, desired(d), desired(d)+MaxSurge(d)) {
		changed = true
	}
	return changed
}

// appendHistory appends rev to the comma-separated history, dropping the
// oldest entries while the result would exceed maxLen characters.
func appendHistory(history, rev string, maxLen int) string {
	if history == "" {
		return rev
	}
	entries := strings.Split(history, ",")
	total := len(history) + 1 + len(rev)
	for total > maxLen && len(entries) > 0 {
		total -= len(entries[0]) + 1
		entries = entries[1:]
	}
	return strings.Join(append(entries, rev), ",")
}

// SetReplicasAnnotations sets rs's desired- and max-replicas annotations
// and reports whether they changed.
func SetReplicasAnnotations(rs *appsv1.ReplicaSet, desiredReplicas, maxReplicas int32) bool {
	if !replicasAnnotationsStale(rs, desiredReplicas, maxReplicas) {
		return false
	}
	if rs.Annotations == nil {
		rs.Annotations = map[string]string{}
	}
	rs.Annotations[DesiredReplicasAnnotation] = strconv.Itoa(int(desiredReplicas))
	rs.Annotations[MaxReplicasAnnotation] = strconv.Itoa(int(maxReplicas))
	return true
}

// replicasAnnotationsStale reports whether rs's replicas annotations
// differ from the given values.
func replicasAnnotationsStale(rs *appsv1.ReplicaSet, desiredReplicas, maxReplicas int32) bool {
	return rs.Annotations[DesiredReplicasAnnotation] != strconv.Itoa(int(desiredReplicas)) ||
		rs.Annotations[MaxReplicasAnnotation] != strconv.Itoa(int(maxReplicas))
}

// intAnnotation reads an int32 annotation of rs.
func intAnnotation(rs *appsv1.ReplicaSet, key string) (int32, bool) {
	v, ok := rs.Annotations[key]
	if !ok {
		return 0, false
	}
	n, err := strconv.ParseInt(v, 10, 32)
	if err != nil {
		return 0, false
	}
	return int32(n), true
}

// SetDeploymentRevision sets d's revision annotation and reports whether
// it changed.
func SetDeploymentRevision(d *appsv1.Deployment, revision string) bool {
	if d.Annotations[RevisionAnnotation] == revision {
		return false
	}
	if d.Annotations == nil {
		d.Annotations = map[string]string{}
	}
	d.Annotations[RevisionAnnotation] = revision
	return true
}

// NewReplicaSet builds the ReplicaSet that rolls out d's current template:
// named <deployment>-<hash>, the hash label added to its labels, selector
// and template, controlled by d, with the given replicas and the
// annotations of revision newRevision.
func NewReplicaSet(d *appsv1.Deployment, hash string, replicas int32, newRevision string) *appsv1.ReplicaSet {
	template := *d.Spec.Template.DeepCopy()
	template.Labels = withLabel(d.Spec.Template.Labels, HashLabel, hash)
	sel := d.Spec.Selector.DeepCopy()
	if sel == nil {
		sel = &metav1.LabelSelector{}
	}
	sel.MatchLabels = withLabel(sel.MatchLabels, HashLabel, hash)
	rs := &appsv1.ReplicaSet{
		ObjectMeta: metav1.ObjectMeta{
			Name:            d.Name + "-" + hash,
			Namespace:       d.Namespace,
			Labels:          withLabel(d.Spec.Template.Labels, HashLabel, hash),
			OwnerReferences: []metav1.OwnerReference{*ownerRef(d)},
		},
		Spec: appsv1.ReplicaSetSpec{
			Replicas:        &replicas,
			MinReadySeconds: d.Spec.MinReadySeconds,
			Selector:        sel,
			Template:        template,
		},
	}
	SetNewReplicaSetAnnotations(d, rs, newRevision, false, MaxRevisionHistoryLength)
	return rs
}

// withLabel returns a copy of m with k=v.
func withLabel(m map[string]string, k, v string) map[string]string {
	out := make(map[string]string, len(m)+1)
	for mk, mv := range m {
		out[mk] = mv
	}
	out[k] = v
	return out
}

// ownerRef is the controller reference of d's ReplicaSets.
func ownerRef(d *appsv1.Deployment) *metav1.OwnerReference {
	return metav1.NewControllerRef(d, appsv1.SchemeGroupVersion.WithKind("Deployment"))
}
