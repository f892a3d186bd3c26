// Package store is Berth's typed access to etcd: reads, conditional writes,
// watches and compaction of the objects the API server persists, plus an
// embedded single-member etcd for servers that do not point at an external
// cluster.
//
// # Keys
//
// A Store is created with a key prefix (Options.Prefix, e.g. "/registry/").
// Every key passed to a Store method, and every key it returns in a KV or an
// Event, is relative to that prefix: with Prefix "/registry/", the key
// "pods/default/web" is stored in etcd as "/registry/pods/default/web". Keys
// are compared as byte strings, so List returns them in lexical order.
//
// # Revisions
//
// etcd keeps one cluster-wide revision counter that every successful write
// (a put, a delete or a multi-key transaction) increments once. Each key
// carries the revision of its last write, its ModRevision; callers use it as
// the object's resourceVersion. Writes are conditional on it: Create succeeds
// only for an absent key, Update and Delete only while the key still has the
// ModRevision the caller read, so lost updates surface as ErrConflict rather
// than silently overwriting. Create, Update and Delete return the revision of
// their write.
//
// Reads can be pinned to a past revision (ListOptions.Revision), which gives
// a consistent snapshot across several paged List calls. Watch streams every
// change strictly after a given revision, in revision order. Old revisions
// are discarded by compaction (RunCompactor); reading or watching from a
// compacted revision gives ErrCompacted, and the caller must list afresh.
//
// # Reservations
//
// Create, Update and Delete can also create ("reserve") or delete ("release")
// additional keys in the same transaction. The API server uses this to claim
// unique values such as service cluster IPs and node ports: the reservation
// key exists exactly while the object that holds it exists, and a second
// claim fails with ErrExists without writing anything.
//
// # Failures
//
// Every call is bounded by Options.CallTimeout. When etcd cannot answer in
// that time (down, unreachable, or without a leader) the call returns
// ErrUnavailable, which the API server reports as 503 with Retry-After. A
// write that fails this way may still have been applied; reading the key
// again tells.
package store
