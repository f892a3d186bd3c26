// Package agent is Berth's node agent (its kubelet): it registers the node,
// renews the node's Lease, runs the pods bound to the node through a runtime
// driver and reports their status to the API server.
package agent
