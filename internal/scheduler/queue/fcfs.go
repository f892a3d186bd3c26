package queue

// fcfsKey orders pods first come first served.
type fcfsKey struct {
	created int64 // creationTimestamp, Unix seconds
	seq     uint64
}

func fcfsKeyOf(p *QueuedPod) fcfsKey {
	return fcfsKey{created: creationSeconds(p), seq: p.Seq}
}

func fcfsLess(a, b *fcfsKey) bool {
	if a.created != b.created {
		return a.created < b.created
	}
	return a.seq < b.seq
}

// NewFCFS returns the "fcfs" policy: first come first served. Pods are
// taken in the order of their metadata.creationTimestamp (1-second
// precision, as the API stores it), pods created in the same second in
// the order they first entered the queue (QueuedPod.Seq). A pod without a
// creationTimestamp counts as created when it entered the queue
// (QueuedPod.Added). Push, Pop, Update and Delete are O(log n).
func NewFCFS() Policy {
	return newHeapPolicy("fcfs", fcfsKeyOf, fcfsLess)
}
