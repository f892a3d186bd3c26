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
// Objects are stored in Kubernetes' protobuf envelope (JSON written by older
// versions is still read) under /registry/<group>/<resource>/[<namespace>/]<name>;
// resourceVersion is the etcd mod revision of the key and is never stored
// inside the value. Request bodies may be JSON, YAML or protobuf; objects
// are answered as protobuf to clients that prefer it (client-go's typed
// clients), everything else (tables, watches, errors) as JSON.
package apiserver
