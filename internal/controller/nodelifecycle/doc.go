// Package nodelifecycle is the node lifecycle controller, after
// Kubernetes' node lifecycle and taint eviction controllers.
//
// It watches Nodes and their Leases in kube-node-lease. A node whose
// heartbeat (a new renewTime of its Lease, or a new lastHeartbeatTime of
// its Ready condition) is older than the grace period (default 40 s) gets
// its Ready, MemoryPressure, DiskPressure and PIDPressure conditions set to
// Unknown (reason NodeStatusUnknown, message "Kubelet stopped posting node
// status."). Heartbeats are timed by when the controller saw them change,
// not by the node's clock, and a node seen for the first time (also after
// a controller restart) gets a full grace period, as in Kubernetes.
//
// The taints node.kubernetes.io/unreachable (Ready Unknown) and
// node.kubernetes.io/not-ready (Ready False), each with effects NoExecute
// and NoSchedule, follow the Ready condition; they are removed once the
// node's agent reports Ready True again (after its Lease is renewed). When
// a node turns not ready, the Ready condition of its pods is set to False
// once, as Kubernetes does.
//
// Pods on a node with NoExecute taints (any, not only the controller's)
// are evicted — given the DisruptionTarget condition and deleted
// gracefully — when their toleration runs out: at once without a
// toleration, never with a toleration without tolerationSeconds, else
// tolerationSeconds after the taint appeared. The API server gives every
// pod 300 s tolerations of the not-ready and unreachable taints unless it
// has its own. Timers are work-queue requeues (no polling loops): each
// node is re-checked every monitor period (default 5 s) and right when
// its heartbeat would expire, each pod when its toleration would run out.
//
// The decisions are the pure functions PlanNode and EvictionDeadline.
package nodelifecycle
