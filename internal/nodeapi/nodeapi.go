package nodeapi

import (
	"crypto/sha256"
	"encoding/hex"
	"net/url"
	"path"
	"time"

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
	// ResourceMetricsPath answers a ResourceMetrics document (JSON). With
	// the query parameter MaxAgeParam the agent first reads the usage anew
	// when its latest figures are older than that.
	ResourceMetricsPath = "/metrics/resource"
	// ServiceMetricsPath answers a ServiceMetrics document (JSON): the
	// agent's service proxy's cumulative counts.
	ServiceMetricsPath = "/metrics/services"
	// HealthzPath answers "ok".
	HealthzPath = "/healthz"
	// MetricsPath answers the agent's Prometheus metrics (text format).
	MetricsPath = "/metrics"
)

// ProxyPaths are the agent paths the API server's nodes/<name>/proxy/
// subresource forwards to (GET only), as kube-apiserver forwards to the
// kubelet: monitoring reaches the agents' metrics through the API server.
var ProxyPaths = []string{MetricsPath, ResourceMetricsPath, ServiceMetricsPath, HealthzPath}

// MaxAgeParam is ResourceMetricsPath's query parameter giving the oldest
// acceptable figures as a Go duration ("1s", "15s"); values below
// MinMaxAge count as MinMaxAge. Without it the agent answers its latest
// figures, however old.
const MaxAgeParam = "maxAge"

// MinMaxAge is the smallest effective MaxAgeParam: CPU rates need a
// window between two readings.
const MinMaxAge = time.Second

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

// ServiceMetrics are a node's service proxy's cumulative counts since
// StartTime, per Service and endpoint. The API server turns consecutive
// documents of one agent into rates; a different StartTime, or a count
// lower than before, means the agent restarted in between.
type ServiceMetrics struct {
	// Timestamp is when the counts were read.
	Timestamp time.Time `json:"timestamp"`
	// StartTime is when counting began (the proxy started); zero for an
	// agent without the service proxy.
	StartTime time.Time `json:"startTime,omitzero"`
	// Services are the Services with traffic through this node's proxy
	// (never null; empty without the proxy).
	Services []ServiceCount `json:"services"`
}

// ServiceCount are one Service's counts on one node, all its ports
// together.
type ServiceCount struct {
	Namespace string `json:"namespace"`
	Name      string `json:"name"`
	// Requests are HTTP-mode requests answered by an endpoint.
	Requests uint64 `json:"requests"`
	// Connections are TCP-mode connections and UDP flows.
	Connections uint64 `json:"connections"`
	// Endpoints split the counts by endpoint address.
	Endpoints []EndpointCount `json:"endpoints,omitempty"`
}

// EndpointCount are one endpoint's counts within a Service on one node.
type EndpointCount struct {
	IP          string `json:"ip"`
	Port        int32  `json:"port"`
	Requests    uint64 `json:"requests"`
	Connections uint64 `json:"connections"`
}
