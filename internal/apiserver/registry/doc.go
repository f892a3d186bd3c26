// Package registry describes every built-in resource Berth serves: its names
// and Go types (from k8s.io/api), and a Strategy that gives it Kubernetes
// semantics — defaulting, create/update preparation, validation with
// field-path errors, field selectors and server-side table columns.
//
// Everything in the package is pure: the generic HTTP handlers in package
// apiserver do all I/O and call these functions in the order
//
//	create: PrepareForCreate, Default, Validate
//	update: PrepareForUpdate (or PrepareForStatusUpdate), Default, ValidateUpdate
//
// All returns the resources in a stable order.
package registry
