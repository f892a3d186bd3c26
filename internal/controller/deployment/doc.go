// Package deployment is the Deployment controller: it rolls a Deployment's
// pod template out through ReplicaSets named <deployment>-<pod-template-hash>,
// like Kubernetes does, so that kubectl rollout status, history, undo,
// restart, pause and resume work unchanged.
//
// Each sync adopts matching orphan ReplicaSets and releases owned ones that
// no longer match, finds the ReplicaSet whose template equals the
// Deployment's (ignoring the pod-template-hash label), keeps the revision
// annotations in step (a reused old ReplicaSet gets the next revision and
// remembers its previous one in revision-history), and then either scales
// proportionally (the Deployment was resized mid-rollout, or it is paused),
// or takes one RollingUpdate or Recreate step. The Deployment's status and
// its Available / Progressing / ReplicaFailure conditions are recomputed
// from the ReplicaSets and written only when they change; a rollout that
// makes no progress for spec.progressDeadlineSeconds is marked
// ProgressDeadlineExceeded. Old ReplicaSets scaled to zero beyond
// spec.revisionHistoryLimit are deleted once a rollout completes.
//
// All decisions live in pure functions (hash.go, revision.go, rolling.go,
// recreate.go, scale.go, history.go, status.go, and Claim in claim.go);
// controller.go, sync.go and newrs.go read the informers, call them and
// apply their plans.
package deployment
