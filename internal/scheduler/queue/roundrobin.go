package queue

// RoundRobinConfig configures the "round-robin" (fair share) policy.
type RoundRobinConfig struct {
	// QueueLabel, if set, names the pod label whose value is the name of
	// the queue a pod belongs to. Pods without the label (or with an empty
	// value), and all pods when QueueLabel is empty, belong to the queue
	// named by their namespace. Label values and namespaces share one name
	// space: pods labelled "team-a" and pods of namespace team-a without
	// the label are in the same queue.
	QueueLabel string
}

// rrQueue is one queue of the round-robin ring.
type rrQueue struct {
	name string
	pods *policyHeap[fcfsKey]
	// dead is set when the queue emptied and left the map; a stale entry
	// for it in the ring is skipped.
	dead bool
}

// roundRobin is the "round-robin" Policy.
type roundRobin struct {
	label  string
	queues map[string]*rrQueue // non-empty queues by name
	podQ   map[string]*rrQueue // the queue of each pod, by pod key
	// ring[head:] is the order in which queues get their next turn. It
	// holds each live queue exactly once plus possibly stale entries of
	// dead queues.
	ring  []*rrQueue
	head  int
	stale int // dead entries in ring[head:]
	n     int
}

// NewRoundRobin returns the "round-robin" policy: fair share across
// queues. Each pod belongs to a queue (see RoundRobinConfig); Pop takes the
// next pod (in NewFCFS order) from the next non-empty queue in turn, so
// with queue A holding 100 pods and queue B 5, pops alternate A, B, A, B,
// ... until B is empty. A queue that empties leaves the ring; when it gets
// pods again it joins at the end, after every queue waiting for its turn.
// Update moves a pod to another queue if its label or namespace changed.
// Push, Pop, Update and Delete are O(log n) plus O(1) amortized for the
// ring.
func NewRoundRobin(cfg RoundRobinConfig) Policy {
	return &roundRobin{
		label:  cfg.QueueLabel,
		queues: map[string]*rrQueue{},
		podQ:   map[string]*rrQueue{},
	}
}

func (r *roundRobin) Name() string { return "round-robin" }

func (r *roundRobin) Len() int { return r.n }

// queueName is the name of the queue p belongs to.
func (r *roundRobin) queueName(p *QueuedPod) string {
	if p.Pod == nil {
		return ""
	}
	if r.label != "" {
		if v := p.Pod.Labels[r.label]; v != "" {
			return v
		}
	}
	return p.Pod.Namespace
}

func (r *roundRobin) Push(p *QueuedPod) {
	if r.Update(p) {
		// Already present: the caller broke the Push contract; keep the
		// indexes consistent by treating it as an update.
		return
	}
	r.add(p)
}

// add puts p, which is in no queue, into its queue.
func (r *roundRobin) add(p *QueuedPod) {
	name := r.queueName(p)
	q := r.queues[name]
	if q == nil {
		q = &rrQueue{name: name, pods: newPolicyHeap(fcfsLess)}
		r.queues[name] = q
		r.ring = append(r.ring, q)
	}
	q.pods.push(p, fcfsKeyOf(p))
	r.podQ[p.Key] = q
	r.n++
}

func (r *roundRobin) Pop() *QueuedPod {
	for r.head < len(r.ring) {
		q := r.ring[r.head]
		r.ring[r.head] = nil
		r.head++
		if q.dead {
			r.stale--
			continue
		}
		p := q.pods.pop()
		delete(r.podQ, p.Key)
		r.n--
		if q.pods.Len() == 0 {
			// Taken off the ring above, so no stale entry remains.
			q.dead = true
			delete(r.queues, q.name)
		} else {
			r.ring = append(r.ring, q)
		}
		r.compact()
		return p
	}
	return nil
}

// compact reclaims ring space: the consumed front once it is at least half
// of the slice, and the entries of dead queues once they are at least half
// of the ring. Each costs O(len(ring)) after Ω(len(ring)) operations, so
// O(1) amortized, and the ring stays O(number of non-empty queues).
func (r *roundRobin) compact() {
	live := len(r.ring) - r.head
	switch {
	case live == 0:
		clear(r.ring)
		r.ring, r.head, r.stale = r.ring[:0], 0, 0
	case r.stale >= 16 && 2*r.stale >= live:
		n := 0
		for _, q := range r.ring[r.head:] {
			if !q.dead {
				r.ring[n] = q
				n++
			}
		}
		clear(r.ring[n:])
		r.ring, r.head, r.stale = r.ring[:n], 0, 0
	case r.head >= 16 && 2*r.head >= len(r.ring):
		n := copy(r.ring, r.ring[r.head:])
		clear(r.ring[n:])
		r.ring, r.head = r.ring[:n], 0
	}
}

func (r *roundRobin) Update(p *QueuedPod) bool {
	q, ok := r.podQ[p.Key]
	if !ok {
		return false
	}
	if r.queueName(p) == q.name {
		q.pods.update(p, fcfsKeyOf(p))
		return true
	}
	r.removeFrom(q, p.Key)
	r.add(p)
	return true
}

func (r *roundRobin) Delete(key string) bool {
	q, ok := r.podQ[key]
	if !ok {
		return false
	}
	r.removeFrom(q, key)
	return true
}

// removeFrom removes the pod with key from q.
func (r *roundRobin) removeFrom(q *rrQueue, key string) {
	q.pods.remove(key)
	delete(r.podQ, key)
	r.n--
	if q.pods.Len() == 0 {
		// Its ring entry goes stale; Pop skips it and compact drops it.
		q.dead = true
		delete(r.queues, q.name)
		r.stale++
		r.compact()
	}
}
