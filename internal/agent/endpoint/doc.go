// Package endpoint is the node agent's HTTPS endpoint (Berth's equivalent
// of the kubelet's port 10250): container logs, exec over WebSocket,
// resource metrics (read anew on demand with ?maxAge=) and the service
// proxy's counts, for the API server only.
//
// Every request must present a client certificate signed by the cluster
// CA with the common name pki.AgentClientName; the API server proxies
// users' `kubectl logs` and `kubectl exec` here after authenticating them.
// Errors are metav1.Status documents, so the API server passes them to
// kubectl unchanged. Exec speaks the WebSocket remote-command protocols
// v5.channel.k8s.io and v4.channel.k8s.io (what kubectl 1.30 and later
// use) without a TTY; SPDY is not spoken.
package endpoint
