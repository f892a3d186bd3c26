// Package replicaset is Berth's ReplicaSet controller: it keeps
// spec.replicas active pods running for every apps/v1 ReplicaSet, the way
// Kubernetes' ReplicaSet controller does.
//
// A reconcile reads the ReplicaSet and its pods from the shared informers,
// adopts orphan pods that match the selector and releases owned pods that no
// longer match (ownerReference patches), creates the missing pods in
// slow-start batches (1, 2, 4, … with bounded concurrency inside a batch) or
// deletes the surplus pods chosen by a Kubernetes-like ranking, and writes
// the status (replicas, fullyLabeledReplicas, readyReplicas,
// availableReplicas, observedGeneration, the ReplicaFailure condition) when
// it changed.
//
// Expectations remember, per ReplicaSet, how many pod creations and which
// pod deletions are still to be seen through the pod informer, so that a
// reconcile never acts twice on a stale cache; they expire after five
// minutes (package expectations).
//
// The decisions live in pure functions (planClaims, planScale,
// rankForDeletion, computeStatus) that are table-tested; the rest reads
// listers and writes through the client.
package replicaset
