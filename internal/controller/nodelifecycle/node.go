package nodelifecycle

import (
	"context"
	"fmt"
	"time"

	"github.com/berth-dev/berth/internal/controller"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// observeHealth updates the node's heartbeat record and returns whether
// the heartbeat is older than the grace period and when it last changed.
// A node seen for the first time gets a full grace period.
func (c *Controller) observeHealth(n *corev1.Node, now time.Time) (bool, time.Time) {
	var renew, heartbeat time.Time
	if l, err := c.leases.Leases(corev1.NamespaceNodeLease).Get(n.Name); err == nil && l.Spec.RenewTime != nil {
		renew = l.Spec.RenewTime.Time
	}
	if r := findCondition(n.Status.Conditions, corev1.NodeReady); r != nil {
		heartbeat = r.LastHeartbeatTime.Time
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	h := c.health[n.Name]
	switch {
	case h == nil:
		h = &nodeHealth{renew: renew, heartbeat: heartbeat, probeAt: now}
		c.health[n.Name] = h
	case !renew.IsZero() && !renew.Equal(h.renew), !heartbeat.IsZero() && !heartbeat.Equal(h.heartbeat):
		h.renew, h.heartbeat, h.probeAt = renew, heartbeat, now
	}
	return now.Sub(h.probeAt) > c.cfg.GracePeriod, h.probeAt
}

// reconcileNode brings the conditions and taints of the node named key in
// line with its heartbeat, marks its pods not ready when it stops being
// ready, and schedules the next check.
func (c *Controller) reconcileNode(ctx context.Context, key string) error {
	node, err := c.nodes.Get(key)
	if err != nil {
		return ignoreNotFound(err, "get node "+key)
	}
	now := c.now()
	stale, probeAt := c.observeHealth(node, now)
	plan := PlanNode(node, stale, now)
	cur := node
	if plan.Conditions != nil {
		upd := node.DeepCopy()
		upd.Status.Conditions = plan.Conditions
		if cur, err = c.client.CoreV1().Nodes().UpdateStatus(ctx, upd, metav1.UpdateOptions{}); err != nil {
			return writeError(err, "update status of node "+key)
		}
		c.log.Info("node stopped posting status; conditions set to Unknown", "node", key, "lastHeartbeat", probeAt)
		c.recorder.Eventf(cur, corev1.EventTypeNormal, "NodeNotReady", "Node %s status is now: NodeNotReady", key)
	}
	if plan.TaintsChanged {
		upd := cur.DeepCopy()
		upd.Spec.Taints = plan.Taints
		if cur, err = c.client.CoreV1().Nodes().Update(ctx, upd, metav1.UpdateOptions{}); err != nil {
			return writeError(err, "update taints of node "+key)
		}
		c.log.Info("node taints updated", "node", key, "ready", plan.Ready, "taints", taintStrings(plan.Taints))
	}
	if err := c.markPods(ctx, cur); err != nil {
		return err
	}
	delay := c.cfg.MonitorPeriod
	if !stale {
		// Check again right after the heartbeat would expire.
		if d := probeAt.Add(c.cfg.GracePeriod).Sub(now) + 10*time.Millisecond; d < delay {
			delay = d
		}
	}
	return controller.RequeueAfter{Delay: delay}
}

// markPods sets the Ready condition of the pods on a node that turned
// not ready (Ready Unknown or False) to False, once per transition, as
// Kubernetes does.
func (c *Controller) markPods(ctx context.Context, node *corev1.Node) error {
	ready := findCondition(node.Status.Conditions, corev1.NodeReady)
	c.mu.Lock()
	if ready == nil || ready.Status == corev1.ConditionTrue {
		delete(c.marked, node.Name)
		c.mu.Unlock()
		return nil
	}
	state := readyState{status: ready.Status, since: ready.LastTransitionTime.Time}
	done := c.marked[node.Name] == state
	c.mu.Unlock()
	if done {
		return nil
	}
	pods, err := c.podsOn(node.Name)
	if err != nil {
		return err
	}
	now := c.now()
	for _, p := range pods {
		upd := PodNotReady(p, now)
		if upd == nil || p.DeletionTimestamp != nil {
			continue
		}
		if _, err := c.client.CoreV1().Pods(p.Namespace).UpdateStatus(ctx, upd, metav1.UpdateOptions{}); err != nil {
			if err := writeError(err, "mark pod "+p.Namespace+"/"+p.Name+" not ready"); err != nil {
				return err
			}
			continue
		}
		c.log.Info("pod marked not ready: its node is not ready", "pod", p.Namespace+"/"+p.Name, "node", node.Name)
		c.recorder.Event(p, corev1.EventTypeWarning, "NodeNotReady", "Node is not ready")
	}
	c.mu.Lock()
	c.marked[node.Name] = state
	c.mu.Unlock()
	return nil
}

// podsOn returns the pods bound to node.
func (c *Controller) podsOn(node string) ([]*corev1.Pod, error) {
	objs, err := c.podIndex.ByIndex(nodeNameIndex, node)
	if err != nil {
		return nil, fmt.Errorf("nodelifecycle: pods of node %s: %w", node, err)
	}
	pods := make([]*corev1.Pod, 0, len(objs))
	for _, o := range objs {
		if p, ok := o.(*corev1.Pod); ok {
			pods = append(pods, p)
		}
	}
	return pods, nil
}
