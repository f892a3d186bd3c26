package queue

import (
	"time"

	corev1 "k8s.io/api/core/v1"
)

// QueuedPod is a pod waiting in a scheduling queue.
type QueuedPod struct {
	// Pod is the latest version of the pod.
	Pod *corev1.Pod
	// Key is namespace/name.
	Key string
	// Seq orders pods by first arrival in the queue (creation order for
	// pods created while the scheduler runs); it never changes.
	Seq uint64
	// Added is when the pod first entered the queue; it never changes.
	Added time.Time
	// Attempts counts scheduling attempts that failed.
	Attempts int
	// LastAttempt is when the pod was last tried.
	LastAttempt time.Time
}

// Policy orders the pods that are ready to be tried (the active queue) of
// one scheduler profile. Implementations are not safe for concurrent use;
// SchedulingQueue serializes calls.
type Policy interface {
	// Name is the policy's configuration name (fcfs, sjf, round-robin, priority).
	Name() string
	// Push adds p; a pod with the same Key must not be in the policy.
	Push(p *QueuedPod)
	// Pop removes and returns the pod to try next, nil when empty.
	Pop() *QueuedPod
	// Update replaces the pod with p.Key (its object changed) and
	// repositions it; it reports whether the pod was present.
	Update(p *QueuedPod) bool
	// Delete removes the pod with key; it reports whether it was present.
	Delete(key string) bool
	// Len is the number of pods.
	Len() int
}
