package deployment

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/berth-dev/berth/internal/controller"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/cache"
)

// syncer is one sync of one Deployment; d is its latest written state.
type syncer struct {
	c   *Controller
	d   *appsv1.Deployment
	log *slog.Logger
}

// reconcile syncs the Deployment named by key.
func (c *Controller) reconcile(ctx context.Context, key string) error {
	ns, name, err := cache.SplitMetaNamespaceKey(key)
	if err != nil {
		c.log.Error("bad key", "key", key, "err", err)
		return nil
	}
	cached, err := c.dLister.Deployments(ns).Get(name)
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("get deployment %s: %w", key, err)
	}
	s := &syncer{c: c, d: cached.DeepCopy(), log: c.log.With("deployment", key)}
	return s.sync(ctx)
}

// sync is the Deployment's sync: claim ReplicaSets; if deleting, status
// only; keep the paused condition; then scale (paused or resized) or take
// a rollout step.
func (s *syncer) sync(ctx context.Context) error {
	d := s.d
	if sel := d.Spec.Selector; sel == nil || len(sel.MatchLabels)+len(sel.MatchExpressions) == 0 {
		s.c.recorder.Event(d, corev1.EventTypeWarning, "SelectingAll", "This deployment is selecting all pods. A non-empty selector is required.")
		if d.Status.ObservedGeneration < d.Generation {
			d.Status.ObservedGeneration = d.Generation
			return s.updateStatus(ctx)
		}
		return nil
	}
	rss, err := s.c.claimReplicaSets(ctx, d)
	if err != nil {
		return err
	}
	if d.DeletionTimestamp != nil {
		newRS, oldRSs, err := s.syncRevision(ctx, rss)
		if err != nil {
			return err
		}
		return s.writeStatus(ctx, CalculateStatus(s.d, withNew(oldRSs, newRS), newRS, s.c.now()))
	}
	if SetPausedCondition(d, s.c.now()) {
		if err := s.updateStatus(ctx); err != nil {
			return err
		}
	}
	newRS, oldRSs, err := s.syncRevision(ctx, rss)
	if err != nil {
		return err
	}
	if s.d.Spec.Paused || IsScalingEvent(s.d, newRS, oldRSs) {
		return s.scaleOnly(ctx, newRS, oldRSs)
	}
	switch s.d.Spec.Strategy.Type {
	case appsv1.RecreateDeploymentStrategyType:
		return s.recreate(ctx, newRS, oldRSs)
	case appsv1.RollingUpdateDeploymentStrategyType:
		return s.rolling(ctx, newRS, oldRSs)
	}
	return fmt.Errorf("deployment %s/%s: unexpected strategy type %q", d.Namespace, d.Name, s.d.Spec.Strategy.Type)
}

// scaleOnly resizes without rollout progress; a paused Deployment also
// cleans up its history.
func (s *syncer) scaleOnly(ctx context.Context, newRS *appsv1.ReplicaSet, oldRSs []*appsv1.ReplicaSet) error {
	newRS, oldRSs, _, err := s.apply(ctx, PlanScale(s.d, newRS, oldRSs), newRS, oldRSs)
	if err != nil {
		return err
	}
	if s.d.Spec.Paused {
		if err := s.cleanup(ctx, oldRSs); err != nil {
			return err
		}
	}
	return s.writeStatus(ctx, CalculateStatus(s.d, withNew(oldRSs, newRS), newRS, s.c.now()))
}

// rolling takes one RollingUpdate step.
func (s *syncer) rolling(ctx context.Context, newRS *appsv1.ReplicaSet, oldRSs []*appsv1.ReplicaSet) error {
	if newRS == nil {
		created, err := s.createNewRS(ctx, oldRSs)
		if err != nil {
			return err
		}
		newRS = created
	}
	newRS, oldRSs, scaled, err := s.apply(ctx, PlanRollingUpdate(s.d, newRS, oldRSs), newRS, oldRSs)
	if err != nil {
		return err
	}
	if !scaled && Complete(s.d, &s.d.Status) {
		if err := s.cleanup(ctx, oldRSs); err != nil {
			return err
		}
	}
	return s.rolloutStatus(ctx, newRS, oldRSs)
}

// recreate takes one Recreate step.
func (s *syncer) recreate(ctx context.Context, newRS *appsv1.ReplicaSet, oldRSs []*appsv1.ReplicaSet) error {
	sel, err := metav1.LabelSelectorAsSelector(s.d.Spec.Selector)
	if err != nil {
		return fmt.Errorf("selector: %w", err)
	}
	pods, err := s.c.podLister.Pods(s.d.Namespace).List(sel)
	if err != nil {
		return fmt.Errorf("list pods: %w", err)
	}
	step := PlanRecreate(s.d, newRS, oldRSs, OldPodsRunning(newRS, oldRSs, pods))
	if step.CreateNew {
		if newRS, err = s.createNewRS(ctx, oldRSs); err != nil {
			return err
		}
	}
	newRS, oldRSs, scaled, err := s.apply(ctx, step.Scales, newRS, oldRSs)
	if err != nil {
		return err
	}
	if !scaled && !step.Wait && Complete(s.d, &s.d.Status) {
		if err := s.cleanup(ctx, oldRSs); err != nil {
			return err
		}
	}
	return s.rolloutStatus(ctx, newRS, oldRSs)
}

// apply carries out a plan of resizes, returning the ReplicaSets as
// written and whether any size changed.
func (s *syncer) apply(ctx context.Context, plan []Scale, newRS *appsv1.ReplicaSet, oldRSs []*appsv1.ReplicaSet) (*appsv1.ReplicaSet, []*appsv1.ReplicaSet, bool, error) {
	oldRSs = append([]*appsv1.ReplicaSet(nil), oldRSs...)
	scaled := false
	for _, sc := range plan {
		got, changed, err := s.scaleRS(ctx, sc.RS, sc.To)
		if err != nil {
			return newRS, oldRSs, scaled, err
		}
		scaled = scaled || changed
		if sc.RS == newRS {
			newRS = got
			continue
		}
		for i := range oldRSs {
			if oldRSs[i] == sc.RS {
				oldRSs[i] = got
			}
		}
	}
	return newRS, oldRSs, scaled, nil
}

// scaleRS sets rs's size to n and its replicas annotations to the
// Deployment's, recording a ScalingReplicaSet event when the size changed.
func (s *syncer) scaleRS(ctx context.Context, rs *appsv1.ReplicaSet, n int32) (*appsv1.ReplicaSet, bool, error) {
	want, maxReplicas := desired(s.d), desired(s.d)+MaxSurge(s.d)
	from := specOf(rs)
	resize := from != n
	if !resize && !replicasAnnotationsStale(rs, want, maxReplicas) {
		return rs, false, nil
	}
	cp := rs.DeepCopy()
	cp.Spec.Replicas = &n
	SetReplicasAnnotations(cp, want, maxReplicas)
	got, err := s.c.client.AppsV1().ReplicaSets(cp.Namespace).Update(ctx, cp, metav1.UpdateOptions{})
	if err != nil {
		return rs, false, fmt.Errorf("scale replicaset %s to %d: %w", rs.Name, n, err)
	}
	if resize {
		dir := "down"
		if n > from {
			dir = "up"
		}
		s.c.recorder.Eventf(s.d, corev1.EventTypeNormal, "ScalingReplicaSet", "Scaled %s replica set %s from %d to %d", dir, rs.Name, from, n)
		s.log.Info("scaled replicaset", "replicaset", rs.Name, "from", from, "to", n)
	}
	return got, resize, nil
}

// cleanup deletes old ReplicaSets beyond the revision history limit.
func (s *syncer) cleanup(ctx context.Context, oldRSs []*appsv1.ReplicaSet) error {
	for _, rs := range PlanCleanup(s.d, oldRSs) {
		uid := rs.UID
		err := s.c.client.AppsV1().ReplicaSets(rs.Namespace).Delete(ctx, rs.Name, metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &uid}})
		if err != nil && !apierrors.IsNotFound(err) && !apierrors.IsConflict(err) {
			return fmt.Errorf("delete old replicaset %s: %w", rs.Name, err)
		}
		s.log.Info("deleted old replicaset", "replicaset", rs.Name)
	}
	return nil
}

// rolloutStatus writes the rollout status if it changed; if not, a
// rollout still within its deadline is looked at again when it expires.
func (s *syncer) rolloutStatus(ctx context.Context, newRS *appsv1.ReplicaSet, oldRSs []*appsv1.ReplicaSet) error {
	now := s.c.now()
	st := RolloutStatus(s.d, withNew(oldRSs, newRS), newRS, now)
	if apiequality.Semantic.DeepEqual(s.d.Status, st) {
		if after := StuckRequeue(s.d, &st, now); after >= 0 {
			return controller.RequeueAfter{Delay: after}
		}
		return nil
	}
	s.d.Status = st
	return s.updateStatus(ctx)
}

// writeStatus writes st if it differs from the Deployment's status.
func (s *syncer) writeStatus(ctx context.Context, st appsv1.DeploymentStatus) error {
	if apiequality.Semantic.DeepEqual(s.d.Status, st) {
		return nil
	}
	s.d.Status = st
	return s.updateStatus(ctx)
}

// updateStatus writes s.d through the status subresource (which also
// keeps its annotations) and continues with what the API returned.
func (s *syncer) updateStatus(ctx context.Context) error {
	got, err := s.c.client.AppsV1().Deployments(s.d.Namespace).UpdateStatus(ctx, s.d, metav1.UpdateOptions{})
	if err != nil {
		return fmt.Errorf("update status of deployment %s/%s: %w", s.d.Namespace, s.d.Name, err)
	}
	s.d = got
	return nil
}
