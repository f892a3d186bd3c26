package nodeapi

import (
	"crypto/sha256"
	"encoding/hex"
	"net/url"
	"path"

	metricsv1beta1 "k8s.io/metrics/pkg/apis/metrics/v1beta1"
)

// DefaultPort is the agent's port when the node does not report one.
const DefaultPort = 10250

// LabelPodNetwork on a Node says how its pods are networked: PodNetworkPod
// (each pod its own network namespace and IP) or PodNetworkHost (pods
// share the node's network, so their container ports are host ports the
// scheduler must not give twice).
const LabelPodNetwork = "berth.io/pod-network"

// Values of LabelPodNetwork.
const (
	PodNetworkPod  = "pod"
	PodNetworkHost = "host"
)

// CertAnnotation on a Node holds the hex SHA-256 of the DER certificate
// its agent's endpoint serves with; the API server accepts no other.
const CertAnnotation = "berth.io/agent-cert-sha256"

// CertFingerprint is the value of CertAnnotation for a DER certificate.
func CertFingerprint(der []byte) string {
	sum := sha256.Sum256(der)
	return hex.EncodeToString(sum[:])
}

// Paths the agent serves.
const (
	// ContainerLogsPrefix is followed by <namespace>/<pod>/<container>;
	// the query carries the PodLogOptions parameters (follow, previous,
	// sinceSeconds, sinceTime, timestamps, tailLines, limitBytes).
	ContainerLogsPrefix = "/containerLogs/"
	// ExecPrefix is followed by <namespace>/<pod>/<container>; the query
	// carries the PodExecOptions parameters (command, stdin, stdout,
	// stderr, tty).
	ExecPrefix = "/exec/"
	// ResourceMetricsPath answers a ResourceMetrics document (JSON).
	ResourceMetricsPath = "/metrics/resource"
	// HealthzPath answers "ok".
	HealthzPath = "/healthz"
	// MetricsPath answers the agent's Prometheus metrics (text format).
	MetricsPath = "/metrics"
)

// ProxyPaths are the agent paths the API server's nodes/<name>/proxy/
// subresource forwards to (GET only), as kube-apiserver forwards to the
// kubelet: monitoring reaches the agents' metrics through the API server.
var ProxyPaths = []string{MetricsPath, ResourceMetricsPath, HealthzPath}

// ContainerPath is prefix + namespace/pod/container, each escaped.
func ContainerPath(prefix, namespace, pod, container string) string {
	return prefix + path.Join(url.PathEscape(namespace), url.PathEscape(pod), url.PathEscape(container))
}

// ResourceMetrics is a node's latest usage figures: the node's and those
// of each pod with at least one measured container.
type ResourceMetrics struct {
	Node metricsv1beta1.NodeMetrics  `json:"node"`
	Pods []metricsv1beta1.PodMetrics `json:"pods"`
}
