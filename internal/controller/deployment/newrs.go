package deployment

import (
	"context"
	"fmt"
	"strconv"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// syncRevision splits rss into the new ReplicaSet (nil if none) and the
// old ones, brings the new one's annotations and minReadySeconds up to
// date (a reused old ReplicaSet gets the next revision) and sets the
// Deployment's revision annotation (and a first Progressing condition).
func (s *syncer) syncRevision(ctx context.Context, rss []*appsv1.ReplicaSet) (*appsv1.ReplicaSet, []*appsv1.ReplicaSet, error) {
	newRS, oldRSs := SplitReplicaSets(s.d, rss)
	if newRS == nil {
		return nil, oldRSs, nil
	}
	rev := strconv.FormatInt(MaxRevision(oldRSs)+1, 10)
	cp := newRS.DeepCopy()
	changed := SetNewReplicaSetAnnotations(s.d, cp, rev, true, MaxRevisionHistoryLength)
	if cp.Spec.MinReadySeconds != s.d.Spec.MinReadySeconds {
		cp.Spec.MinReadySeconds = s.d.Spec.MinReadySeconds
		changed = true
	}
	if changed {
		got, err := s.c.client.AppsV1().ReplicaSets(cp.Namespace).Update(ctx, cp, metav1.UpdateOptions{})
		if err != nil {
			return nil, nil, fmt.Errorf("update new replicaset %s: %w", cp.Name, err)
		}
		if newRS.Annotations[RevisionAnnotation] != got.Annotations[RevisionAnnotation] {
			s.log.Info("reusing replicaset", "replicaset", got.Name, "revision", got.Annotations[RevisionAnnotation])
		}
		newRS = got
	}
	needStatus := SetDeploymentRevision(s.d, newRS.Annotations[RevisionAnnotation])
	if hasProgressDeadline(s.d) && GetCondition(&s.d.Status, appsv1.DeploymentProgressing) == nil {
		SetCondition(&s.d.Status, NewCondition(appsv1.DeploymentProgressing, corev1.ConditionTrue, ReasonFoundNewRS,
			fmt.Sprintf("Found new replica set %q", newRS.Name), s.c.now()))
		needStatus = true
	}
	if needStatus {
		if err := s.updateStatus(ctx); err != nil {
			return nil, nil, err
		}
	}
	return newRS, oldRSs, nil
}

// createNewRS creates the ReplicaSet of the Deployment's current
// template. A name taken by a ReplicaSet with another template is a hash
// collision: status.collisionCount goes up and the sync is retried.
func (s *syncer) createNewRS(ctx context.Context, oldRSs []*appsv1.ReplicaSet) (*appsv1.ReplicaSet, error) {
	d := s.d
	rev := strconv.FormatInt(MaxRevision(oldRSs)+1, 10)
	rs := NewReplicaSet(d, ComputeHash(&d.Spec.Template, d.Status.CollisionCount), 0, rev)
	n := NewRSReplicas(d, withNew(oldRSs, rs), rs)
	rs.Spec.Replicas = &n
	rsClient := s.c.client.AppsV1().ReplicaSets(d.Namespace)
	created, err := rsClient.Create(ctx, rs, metav1.CreateOptions{})
	exists := false
	switch {
	case apierrors.IsAlreadyExists(err):
		cur, gerr := s.c.rsLister.ReplicaSets(d.Namespace).Get(rs.Name)
		if gerr != nil {
			cur, gerr = rsClient.Get(ctx, rs.Name, metav1.GetOptions{})
		}
		if gerr != nil {
			return nil, fmt.Errorf("get existing replicaset %s: %w", rs.Name, gerr)
		}
		if metav1.IsControlledBy(cur, d) && EqualIgnoreHash(&cur.Spec.Template, &d.Spec.Template) {
			created, exists = cur, true
			break
		}
		var count int32
		if d.Status.CollisionCount != nil {
			count = *d.Status.CollisionCount
		}
		count++
		d.Status.CollisionCount = &count
		s.log.Info("pod-template hash collision", "replicaset", rs.Name, "collisionCount", count)
		if uerr := s.updateStatus(ctx); uerr != nil {
			return nil, uerr
		}
		return nil, fmt.Errorf("replicaset name %s taken by another template (collision %d): %w", rs.Name, count, err)
	case err != nil:
		msg := fmt.Sprintf("Failed to create new replica set %q: %v", rs.Name, err)
		s.c.recorder.Event(d, corev1.EventTypeWarning, ReasonFailedRSCreate, msg)
		if hasProgressDeadline(d) {
			SetCondition(&d.Status, NewCondition(appsv1.DeploymentProgressing, corev1.ConditionFalse, ReasonFailedRSCreate, msg, s.c.now()))
			if uerr := s.updateStatus(ctx); uerr != nil {
				s.log.Error("cannot record failed replicaset creation", "err", uerr)
			}
		}
		return nil, fmt.Errorf("create replicaset %s: %w", rs.Name, err)
	}
	if !exists {
		s.log.Info("created replicaset", "replicaset", created.Name, "replicas", n, "revision", rev)
		if n > 0 {
			s.c.recorder.Eventf(d, corev1.EventTypeNormal, "ScalingReplicaSet", "Scaled up replica set %s from 0 to %d", created.Name, n)
		}
	}
	needStatus := SetDeploymentRevision(s.d, rev)
	if !exists && hasProgressDeadline(s.d) {
		SetCondition(&s.d.Status, NewCondition(appsv1.DeploymentProgressing, corev1.ConditionTrue, ReasonNewRSCreated,
			fmt.Sprintf("Created new replica set %q", created.Name), s.c.now()))
		needStatus = true
	}
	if needStatus {
		if err := s.updateStatus(ctx); err != nil {
			return nil, err
		}
	}
	return created, nil
}
