// Package nodeapi is the contract between the API server and the node
// agents' HTTPS endpoint: the paths the agent serves, the port it listens
// on by default, and the resource-metrics document it returns.
//
// The API server reaches an agent at the node's InternalIP and the port
// in status.daemonEndpoints.kubeletEndpoint, presenting the client
// certificate named pki.AgentClientName; the agent accepts no other
// caller. It proxies `kubectl logs` to ContainerLogsPath, `kubectl exec`
// (WebSocket, v4/v5.channel.k8s.io) to ExecPath, and scrapes
// ResourceMetricsPath for metrics.k8s.io and ServiceMetricsPath for
// custom.metrics.k8s.io.
package nodeapi
