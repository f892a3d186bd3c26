// Package controller holds what every Berth controller shares: a
// level-triggered work queue (handlers only enqueue keys; Reconcile runs
// with rate-limited retries, panics recovered and logged with the stack),
// the Context controllers are built from (clientset, shared informers,
// event recorder, logger), and the Manager that runs all controllers inside
// `berth server` under a coordination.k8s.io Lease, so that several servers
// on one etcd cluster run them exactly once.
//
// Each controller lives in its own package under internal/controller/ and
// keeps its decisions in pure planning functions, separate from the code
// that reads informers and writes to the API.
package controller
