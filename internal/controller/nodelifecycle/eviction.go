package nodelifecycle

import (
	"context"
	"time"

	"github.com/berth-dev/berth/internal/controller"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/cache"
)

// podChanged queues a pod bound to a node with NoExecute taints.
func (c *Controller) podChanged(obj any) {
	p, ok := obj.(*corev1.Pod)
	if !ok {
		return
	}
	if p.DeletionTimestamp != nil {
		c.forgetEviction(p)
		return
	}
	if p.Spec.NodeName == "" {
		return
	}
	n, err := c.nodes.Get(p.Spec.NodeName)
	if err != nil {
		return // the node's handler queues the pod once the node shows up
	}
	for _, t := range n.Spec.Taints {
		if t.Effect == corev1.TaintEffectNoExecute {
			c.podQueue.Enqueue(p)
			return
		}
	}
}

// podDeleted forgets the eviction of a deleted pod.
func (c *Controller) podDeleted(obj any) {
	if t, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = t.Obj
	}
	if p, ok := obj.(*corev1.Pod); ok {
		c.forgetEviction(p)
	}
}

// forgetEviction drops p from the pods evicted but not yet seen deleted.
func (c *Controller) forgetEviction(p *corev1.Pod) { c.setEvicted(p.UID, false) }

// setEvicted records whether the pod with uid was evicted and is not yet
// seen deleted.
func (c *Controller) setEvicted(uid types.UID, evicted bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if evicted {
		c.evicted[uid] = true
	} else {
		delete(c.evicted, uid)
	}
}

// enqueuePodsOn queues every pod bound to node.
func (c *Controller) enqueuePodsOn(node string) {
	objs, err := c.podIndex.ByIndex(nodeNameIndex, node)
	if err != nil {
		c.log.Error("cannot list pods of node", "node", node, "err", err)
		return
	}
	for _, o := range objs {
		c.podQueue.Enqueue(o)
	}
}

// observeTaints records the first time each NoExecute taint of n was seen
// and forgets removed ones; it reports whether the set changed.
func (c *Controller) observeTaints(n *corev1.Node) bool {
	now := c.now()
	c.mu.Lock()
	defer c.mu.Unlock()
	seen := c.taintsSeen[n.Name]
	present := map[taintID]bool{}
	changed := false
	for _, t := range n.Spec.Taints {
		if t.Effect != corev1.TaintEffectNoExecute {
			continue
		}
		id := taintID{key: t.Key, value: t.Value, effect: t.Effect}
		present[id] = true
		if _, ok := seen[id]; !ok {
			if seen == nil {
				seen = map[taintID]time.Time{}
				c.taintsSeen[n.Name] = seen
			}
			seen[id] = now
			changed = true
		}
	}
	for id := range seen {
		if !present[id] {
			delete(seen, id)
			changed = true
		}
	}
	if len(seen) == 0 {
		delete(c.taintsSeen, n.Name)
	}
	return changed
}

// timedTaints returns n's NoExecute taints with the time their
// tolerations count from: when this controller first saw the taint, or
// the taint's timeAdded (rounded up, as it is stored in seconds) if that
// is earlier, so that a restarted controller does not restart the clocks.
func (c *Controller) timedTaints(n *corev1.Node, now time.Time) []TimedTaint {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []TimedTaint
	for _, t := range n.Spec.Taints {
		if t.Effect != corev1.TaintEffectNoExecute {
			continue
		}
		since, ok := c.taintsSeen[n.Name][taintID{key: t.Key, value: t.Value, effect: t.Effect}]
		if !ok {
			since = now // the node's handler has not run yet; it queues the pods again
		}
		if t.TimeAdded != nil {
			if added := t.TimeAdded.Add(time.Second); added.Before(since) {
				since = added
			}
		}
		out = append(out, TimedTaint{Taint: *t.DeepCopy(), Since: since})
	}
	return out
}

// reconcilePod evicts the pod named key once its tolerations of its
// node's NoExecute taints have run out, or schedules the check for then.
func (c *Controller) reconcilePod(ctx context.Context, key string) error {
	ns, name, err := cache.SplitMetaNamespaceKey(key)
	if err != nil {
		return nil // a malformed key never becomes valid
	}
	pod, err := c.pods.Pods(ns).Get(name)
	if err != nil {
		return ignoreNotFound(err, "get pod "+key)
	}
	if pod.DeletionTimestamp != nil || pod.Spec.NodeName == "" {
		return nil
	}
	c.mu.Lock()
	done := c.evicted[pod.UID]
	c.mu.Unlock()
	if done {
		return nil // deleted already; the cache has not caught up
	}
	node, err := c.nodes.Get(pod.Spec.NodeName)
	if err != nil {
		return ignoreNotFound(err, "get node "+pod.Spec.NodeName)
	}
	now := c.now()
	deadline, evict := EvictionDeadline(pod, c.timedTaints(node, now))
	if !evict {
		return nil
	}
	if wait := deadline.Sub(now); wait > 0 {
		return controller.RequeueAfter{Delay: wait}
	}
	return c.evict(ctx, pod)
}

// evict marks pod with the DisruptionTarget condition and deletes it
// gracefully.
func (c *Controller) evict(ctx context.Context, pod *corev1.Pod) error {
	key := pod.Namespace + "/" + pod.Name
	if upd := WithDisruptionTarget(pod, c.now()); upd != nil {
		if _, err := c.client.CoreV1().Pods(pod.Namespace).UpdateStatus(ctx, upd, metav1.UpdateOptions{}); err != nil {
			return writeError(err, "add DisruptionTarget condition to pod "+key)
		}
	}
	// Remembered before the delete: the status update above queues the
	// pod again, possibly before the cache shows the deletion.
	c.setEvicted(pod.UID, true)
	err := c.client.CoreV1().Pods(pod.Namespace).Delete(ctx, pod.Name, metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &pod.UID}})
	if err != nil {
		c.setEvicted(pod.UID, false)
		return writeError(err, "evict pod "+key)
	}
	c.log.Info("evicted pod: its toleration of the node's NoExecute taint ran out", "pod", key, "node", pod.Spec.NodeName)
	c.recorder.Eventf(pod, corev1.EventTypeNormal, "TaintManagerEviction", "Marking for deletion Pod %s", key)
	return nil
}
