// Package noderesources holds the scheduler plugins that look at a node's
// resources: Fit, the filter that rejects nodes without room for the pod's
// requests (cpu, memory, ephemeral storage, pod count, extended resources),
// and the score plugins LeastAllocated, MostAllocated and
// BalancedAllocation, which rank nodes by how much of their cpu and memory
// would be requested once the pod is placed (spreading, packing, and
// balancing cpu against memory). The formulas are those of Kubernetes.
package noderesources
