// Package bench measures Berth the way a user sees it: from outside, over
// the network, with the same client library (client-go) users run.
//
// RunAPI benchmarks the API server. Unless APIConfig.Kubeconfig names an
// already running server, it spawns "berth server" as a child process in a
// fresh temporary data directory, measures start→ready and the child's
// resident memory from /proc, drives create/get/update/list/delete of
// ConfigMaps at each concurrency level while a watch measures event
// delivery, lists a namespace holding many pods, and finally stops the child
// and removes its data directory (also on error and on cancellation).
//
// The output is a human-readable table followed, as the very last line, by
// one JSON object (APIResult, or {"bench":"api","error":"..."} on failure),
// so scripts can read the figures with `tail -n1`. The field names are
// documented in docs/benchmarks.md.
//
// Latency percentiles use the nearest-rank method (see Percentile).
package bench
