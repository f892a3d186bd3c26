// Package nodeipam is the node IPAM controller: it gives every Node
// without spec.podCIDR a free range of the cluster CIDR (default
// 10.42.0.0/16, /24 per node), setting spec.podCIDR and spec.podCIDRs,
// like the range allocator of Kubernetes' node IPAM controller.
//
// The ranges in use are rebuilt from the nodes' spec.podCIDRs when the
// controller starts and kept up to date from the node informer; a range
// is freed when its node is deleted. Allocation is serialized by a mutex
// across the controller's workers, and a range reserved for a node stays
// reserved for it across retries of a failed write, so no range is handed
// out twice. When the cluster CIDR is exhausted the node gets a Warning
// event (reason CIDRNotAvailable, once) and is retried when a range is
// freed.
//
// The API server lets a client set spec.podCIDR and spec.podCIDRs once,
// from empty (the node strategy in internal/apiserver/registry forbids
// changing them afterwards), which is all this controller does.
//
// The range bookkeeping is the CIDRSet type, independent of the API.
package nodeipam
