package proxy

import (
	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the proxy's Prometheus metrics; register them with
// Register. The zero value is not usable: call NewMetrics.
type Metrics struct {
	connections *prometheus.CounterVec
	requests    *prometheus.CounterVec
	bytes       *prometheus.CounterVec
	latency     *prometheus.HistogramVec
	inflight    *prometheus.GaugeVec
	failures    *prometheus.CounterVec
}

// NewMetrics creates the metrics.
func NewMetrics() *Metrics {
	return &Metrics{
		connections: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "berth_proxy_connections_total", Help: "Connections (TCP) or flows (UDP) forwarded, by service and endpoint.",
		}, []string{"service", "endpoint"}),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "berth_proxy_requests_total", Help: "HTTP-mode requests forwarded, by service, endpoint and status code.",
		}, []string{"service", "endpoint", "code"}),
		bytes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "berth_proxy_bytes_total", Help: "Bytes forwarded, by service and direction (in: from clients, out: to clients).",
		}, []string{"service", "direction"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "berth_proxy_latency_seconds", Help: "Time to the endpoint's connection (TCP) or response headers (HTTP), by service.",
			Buckets: []float64{0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5},
		}, []string{"service"}),
		inflight: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "berth_proxy_inflight", Help: "Open connections (TCP, UDP) or requests in progress (HTTP), by service and endpoint.",
		}, []string{"service", "endpoint"}),
		failures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "berth_proxy_failures_total", Help: "Forwarding failures by service and reason (no_endpoints, connect, upstream).",
		}, []string{"service", "reason"}),
	}
}

// Register registers the metrics with r.
func (m *Metrics) Register(r prometheus.Registerer) error {
	for _, c := range []prometheus.Collector{m.connections, m.requests, m.bytes, m.latency, m.inflight, m.failures} {
		if err := r.Register(c); err != nil {
			return err
		}
	}
	return nil
}

// Forget drops the series of a service that is gone.
func (m *Metrics) Forget(service string) {
	l := prometheus.Labels{"service": service}
	m.connections.DeletePartialMatch(l)
	m.requests.DeletePartialMatch(l)
	m.bytes.DeletePartialMatch(l)
	m.latency.DeletePartialMatch(l)
	m.inflight.DeletePartialMatch(l)
	m.failures.DeletePartialMatch(l)
}
