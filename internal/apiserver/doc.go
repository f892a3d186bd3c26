// Package apiserver serves the Kubernetes REST API over Berth's etcd store.
//
// It is a small, generic implementation: every resource is described by a
// registry.Resource (names, Go types from k8s.io/api, pure strategy
// functions), and one set of handlers implements get, list, watch, create,
// update, patch and delete for all of them, plus the status, scale and
// binding subresources. Around the handlers sit discovery (aggregated and
// legacy), a minimal OpenAPI v3 document that lets kubectl rely on
// server-side field validation, server-side Tables, bearer-token
// authentication and Prometheus metrics.
//
// Objects are stored as JSON of their k8s.io/api type under
// /registry/<group>/<resource>/[<namespace>/]<name>; resourceVersion is the
// etcd mod revision of the key and is never stored inside the value.
// Requests are answered as JSON only (Berth does not speak protobuf).
package apiserver
