// Package nodeaffinity is the NodeAffinity scheduler plugin: a filter that
// keeps a pod off nodes that do not match its spec.nodeSelector and its
// required node affinity, and a score that favours nodes matching its
// preferred node affinity terms. The semantics are those of Kubernetes
// (k8s.io/component-helpers/scheduling/corev1/nodeaffinity): nodeSelector
// labels must all match; required terms are ORed, the expressions and
// fields of a term ANDed; a term without expressions and fields, or with an
// invalid expression, matches no node; matchFields know metadata.name only.
//
// The pod's selectors are parsed once per scheduling attempt (PreFilter,
// PreScore) into matchers that evaluate a node without allocating.
package nodeaffinity
