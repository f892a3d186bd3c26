// Package namespace is Berth's namespace controller: it empties a deleted
// namespace and lets it go, the way Kubernetes' namespace controller does.
//
// Deleting a Namespace only marks it (deletionTimestamp, phase Terminating,
// spec.finalizers still ["kubernetes"]); from then on the API server
// refuses new content in it. For such a namespace the controller discovers
// every namespaced resource the API serves (preferred versions, no
// subresources), deletes the objects of each one (a DELETE on the
// collection with propagationPolicy Background, or one DELETE per object
// for resources without deletecollection) and polls every second until
// every list is empty: bound pods terminate gracefully and objects with
// finalizers wait for their owners (then it polls every five seconds).
// Meanwhile the namespace's status carries the deletion conditions
// Kubernetes reports (NamespaceDeletionDiscoveryFailure,
// NamespaceDeletionGroupVersionParsingFailure,
// NamespaceDeletionContentFailure, NamespaceContentRemaining,
// NamespaceFinalizersRemaining). Then it removes "kubernetes" from
// spec.finalizers with an Update and, once no spec or metadata finalizer is
// left, deletes the Namespace again, which removes it.
//
// The namespaces every cluster needs (default, kube-system, kube-public)
// are never emptied, even if marked for deletion. The decisions (what to
// do with a namespace, which resources to empty, how long to wait, the
// conditions) are pure functions in plan.go and conditions.go.
package namespace
