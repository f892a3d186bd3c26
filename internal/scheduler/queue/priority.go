package queue

// priorityKey orders pods by priority, then first come first served.
type priorityKey struct {
	priority int32
	fcfsKey
}

func priorityKeyOf(p *QueuedPod) priorityKey {
	var prio int32
	if p.Pod != nil && p.Pod.Spec.Priority != nil {
		prio = *p.Pod.Spec.Priority
	}
	return priorityKey{priority: prio, fcfsKey: fcfsKeyOf(p)}
}

func priorityLess(a, b *priorityKey) bool {
	if a.priority != b.priority {
		return a.priority > b.priority
	}
	return fcfsLess(&a.fcfsKey, &b.fcfsKey)
}

// NewPriority returns the "priority" policy: pods with a higher
// spec.priority go first (a pod without one counts as priority 0, the
// value admission gives pods without a PriorityClass); pods of equal
// priority go in the order of NewFCFS (creationTimestamp, then
// QueuedPod.Seq). Like the Kubernetes default-scheduler's PrioritySort,
// which breaks ties by the time a pod entered the queue rather than by its
// creation. Push, Pop, Update and Delete are O(log n).
func NewPriority() Policy {
	return newHeapPolicy("priority", priorityKeyOf, priorityLess)
}
