// Package gc is Berth's garbage collector: it deletes objects whose owners
// are gone and runs the foreground and orphan deletion protocols, the way
// Kubernetes' garbage collector does, for every kind the API server serves
// with list, watch and delete (events excepted), found through discovery.
//
// The owner→dependents graph is an index on the informer caches: every
// watched resource's informer indexes its objects by their UID and by the
// UIDs of their ownerReferences, so the dependents of an owner are one
// index lookup per resource and always agree with the caches.
//
// The work queue carries owner UIDs. Informer events enqueue an object's
// owners (old and new references), the object itself when it is deleted or
// carries the foregroundDeletion or orphan finalizer, and a resync every 30
// seconds enqueues them all again. A reconcile of one UID:
//
//   - owner gone (missing from the caches and confirmed by a live GET by
//     name that answers NotFound or another UID): each dependent whose
//     every owner is gone is deleted with propagationPolicy Background, or
//     Foreground when one of its owners is itself waiting on a foreground
//     deletion; a dependent that still has a live owner only loses the
//     references to the gone (and waiting) owners, by a strategic-merge
//     PATCH keyed on the owner UID;
//   - owner with deletionTimestamp and the orphan finalizer: the reference
//     is removed from every dependent, then the finalizer from the owner;
//   - owner with deletionTimestamp and the foregroundDeletion finalizer: its
//     dependents are deleted with propagationPolicy Foreground (or lose the
//     reference when another owner is alive), and the finalizer is removed
//     once no dependent with blockOwnerDeletion=true remains in the caches
//     (a terminating dependent counts until it is gone).
//
// A DELETE carries a UID precondition; the UIDs deleted successfully are
// remembered for 30 seconds so that reconciles on caches that lag behind
// do not send the same DELETE again.
//
// The decisions are pure functions (planOwner, planDependent,
// selectResources) that are table-tested; the rest reads the caches and
// writes through the API.
//
// Two factories exist. NewWithConfig builds metadata-only informers
// (k8s.io/client-go/metadata) from a rest.Config, started and synced by the
// collector itself. New needs no configuration: it takes the shared typed
// informers of the controller Context for every discovered resource the
// typed informer factory knows (all of Berth's kinds). Both issue their
// GETs, DELETEs and PATCHes through the clientset's REST client, asking for
// metadata-only answers.
package gc
