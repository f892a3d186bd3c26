// Package nodeunschedulable holds two scheduler filters about a node's own
// state: Unschedulable keeps pods off cordoned nodes (spec.unschedulable)
// and Ready keeps them off nodes whose Ready condition is not True. A pod
// passes either if it tolerates the NoSchedule taint Kubernetes puts on
// such nodes: node.kubernetes.io/unschedulable, node.kubernetes.io/not-ready
// or, when the node's status is unknown, node.kubernetes.io/unreachable.
package nodeunschedulable
