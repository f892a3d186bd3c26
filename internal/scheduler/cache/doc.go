// Package cache is the scheduler's view of the cluster: every node with the
// pods bound to it and the pods the scheduler has assumed (reserved a node
// for, binding in flight), so that two decisions never overcommit a node
// while the API catches up. It also tracks nominated pods (preemptors
// waiting for their victims to leave).
package cache
