// Package expectations is the bookkeeping controllers use to avoid acting
// twice on a stale informer cache: per owner key (a ReplicaSet, a Job) it
// records the pod creations and deletions the controller issued but has
// not yet seen through the pod informer.
//
// A controller calls ExpectCreations or ExpectDeletions before it issues
// the requests, CreationObserved and DeletionObserved as the pod informer
// reports the results (or when a request failed or was skipped), and acts
// on its cache only while Satisfied holds. Deletions are tracked by pod key
// so that a graceful deletion, seen once as an update that sets
// deletionTimestamp and again as the final delete, counts once. A record
// expires after TTL, so that a lost watch event cannot stall its owner
// forever.
//
// By default a new expectation replaces the owner's record, and a record
// is trusted up to and including TTL; the Accumulate and ExpireAtTTL
// options change either.
package expectations
