package proxy

import (
	"net"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

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
	// counts are the cumulative requests and connections per Service
	// port and endpoint, readable in-process (Counts).
	counts counters
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
		counts: counters{since: time.Now(), retired: map[string]*retiredCounts{}},
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
	m.counts.forget(service)
	l := prometheus.Labels{"service": service}
	m.connections.DeletePartialMatch(l)
	m.requests.DeletePartialMatch(l)
	m.bytes.DeletePartialMatch(l)
	m.latency.DeletePartialMatch(l)
	m.inflight.DeletePartialMatch(l)
	m.failures.DeletePartialMatch(l)
}

// request counts one HTTP-mode request answered by endpoint.
func (m *Metrics) request(service, endpoint string, code int) {
	m.requests.WithLabelValues(service, endpoint, strconv.Itoa(code)).Inc()
	pc, ec := m.counts.of(service, endpoint)
	pc.requests.Add(1)
	ec.requests.Add(1)
}

// connection counts one connection (TCP) or flow (UDP) to endpoint.
func (m *Metrics) connection(service, endpoint string) {
	m.connections.WithLabelValues(service, endpoint).Inc()
	pc, ec := m.counts.of(service, endpoint)
	pc.connections.Add(1)
	ec.connections.Add(1)
}

// endpointMetrics are the metric handles of one Service port and
// endpoint, resolved once so that forwarding a request needs no label
// lookups (the HTTP-mode fast path caches them per client connection).
type endpointMetrics struct {
	m                 *Metrics
	service, endpoint string
	inflight          prometheus.Gauge
	latency           prometheus.Observer
	bytesOut          prometheus.Counter
	ok                prometheus.Counter // requests answered 200 (nil until the first)
	pc                *portCounts
	ec                *endpointCounts
}

// endpoint returns the handles of service's endpoint.
func (m *Metrics) endpoint(service, endpoint string) *endpointMetrics {
	pc, ec := m.counts.of(service, endpoint)
	return &endpointMetrics{
		m: m, service: service, endpoint: endpoint,
		inflight: m.inflight.WithLabelValues(service, endpoint),
		latency:  m.latency.WithLabelValues(service),
		bytesOut: m.bytes.WithLabelValues(service, "out"),
		pc:       pc, ec: ec,
	}
}

// request counts one request answered with code (as Metrics.request).
func (e *endpointMetrics) request(code int) {
	if code == 200 {
		if e.ok == nil {
			e.ok = e.m.requests.WithLabelValues(e.service, e.endpoint, "200")
		}
		e.ok.Inc()
	} else {
		e.m.requests.WithLabelValues(e.service, e.endpoint, strconv.Itoa(code)).Inc()
	}
	e.pc.requests.Add(1)
	e.ec.requests.Add(1)
}

// failure counts a forwarding failure of the Service for reason.
func (e *endpointMetrics) failure(reason string) {
	e.m.failures.WithLabelValues(e.service, reason).Inc()
}

// Counts are the proxy's cumulative forwarding counts per Service.
type Counts struct {
	// Since is when counting began (NewMetrics).
	Since time.Time
	// Services are the Services with at least one request or connection,
	// sorted by namespace and name.
	Services []ServiceCounts
}

// ServiceCounts are one Service's cumulative counts, all its ports
// together.
type ServiceCounts struct {
	Namespace, Name string
	// Requests are HTTP-mode requests answered by an endpoint.
	Requests uint64
	// Connections are TCP-mode connections and UDP flows.
	Connections uint64
	// Endpoints are the counts per endpoint address, sorted.
	Endpoints []EndpointCounts
}

// EndpointCounts are one endpoint's cumulative counts within a Service.
type EndpointCounts struct {
	IP                    string
	Port                  int32
	Requests, Connections uint64
}

// Counts returns a snapshot of the cumulative counts. They never
// decrease while the Service is served: the counts of a port that goes
// away stay with its Service until the Service's last counted port goes.
func (m *Metrics) Counts() Counts { return m.counts.snapshot() }

// counters keeps the in-process counts: lock-free on the forwarding path
// (sync.Map of atomic counters), a mutex for the rare changes.
type counters struct {
	since time.Time
	ports sync.Map // port name ("ns/name:port") → *portCounts

	mu sync.Mutex
	// retired holds, by Service ("ns/name"), the counts of its forgotten
	// ports while other ports of it are still counted.
	retired map[string]*retiredCounts
}

type portCounts struct {
	requests, connections atomic.Uint64
	endpoints             sync.Map // "ip:port" → *endpointCounts
}

type endpointCounts struct {
	requests, connections atomic.Uint64
}

type retiredCounts struct {
	requests, connections uint64
	endpoints             map[string][2]uint64 // "ip:port" → requests, connections
}

// of returns the counters of a port and one of its endpoints.
func (c *counters) of(port, endpoint string) (*portCounts, *endpointCounts) {
	v, ok := c.ports.Load(port)
	if !ok {
		v, _ = c.ports.LoadOrStore(port, &portCounts{})
	}
	pc := v.(*portCounts)
	e, ok := pc.endpoints.Load(endpoint)
	if !ok {
		e, _ = pc.endpoints.LoadOrStore(endpoint, &endpointCounts{})
	}
	return pc, e.(*endpointCounts)
}

// serviceOf is the "ns/name" of a port name "ns/name:port".
func serviceOf(port string) string {
	if i := strings.LastIndexByte(port, ':'); i >= 0 {
		return port[:i]
	}
	return port
}

// forget drops a port's counters, keeping its counts with its Service
// while another port of the Service is counted.
func (c *counters) forget(port string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	v, ok := c.ports.LoadAndDelete(port)
	svc := serviceOf(port)
	others := false
	c.ports.Range(func(k, _ any) bool {
		others = serviceOf(k.(string)) == svc
		return !others
	})
	if !others {
		delete(c.retired, svc)
		return
	}
	if !ok {
		return
	}
	pc := v.(*portCounts)
	r := c.retired[svc]
	if r == nil {
		r = &retiredCounts{endpoints: map[string][2]uint64{}}
		c.retired[svc] = r
	}
	r.requests += pc.requests.Load()
	r.connections += pc.connections.Load()
	pc.endpoints.Range(func(k, v any) bool {
		ec := v.(*endpointCounts)
		cur := r.endpoints[k.(string)]
		r.endpoints[k.(string)] = [2]uint64{cur[0] + ec.requests.Load(), cur[1] + ec.connections.Load()}
		return true
	})
}

// snapshot sums the ports' and retired counts per Service.
func (c *counters) snapshot() Counts {
	type acc struct {
		requests, connections uint64
		endpoints             map[string][2]uint64
	}
	bySvc := map[string]*acc{}
	get := func(svc string) *acc {
		a := bySvc[svc]
		if a == nil {
			a = &acc{endpoints: map[string][2]uint64{}}
			bySvc[svc] = a
		}
		return a
	}
	c.mu.Lock()
	c.ports.Range(func(k, v any) bool {
		pc := v.(*portCounts)
		a := get(serviceOf(k.(string)))
		a.requests += pc.requests.Load()
		a.connections += pc.connections.Load()
		pc.endpoints.Range(func(k, v any) bool {
			ec := v.(*endpointCounts)
			cur := a.endpoints[k.(string)]
			a.endpoints[k.(string)] = [2]uint64{cur[0] + ec.requests.Load(), cur[1] + ec.connections.Load()}
			return true
		})
		return true
	})
	for svc, r := range c.retired {
		a := get(svc)
		a.requests += r.requests
		a.connections += r.connections
		for addr, n := range r.endpoints {
			cur := a.endpoints[addr]
			a.endpoints[addr] = [2]uint64{cur[0] + n[0], cur[1] + n[1]}
		}
	}
	c.mu.Unlock()
	out := Counts{Since: c.since, Services: make([]ServiceCounts, 0, len(bySvc))}
	for svc, a := range bySvc {
		ns, name, _ := strings.Cut(svc, "/")
		sc := ServiceCounts{Namespace: ns, Name: name, Requests: a.requests, Connections: a.connections}
		for addr, n := range a.endpoints {
			host, port, err := net.SplitHostPort(addr)
			if err != nil {
				continue
			}
			p, err := strconv.ParseInt(port, 10, 32)
			if err != nil {
				continue
			}
			sc.Endpoints = append(sc.Endpoints, EndpointCounts{IP: host, Port: int32(p), Requests: n[0], Connections: n[1]})
		}
		sort.Slice(sc.Endpoints, func(i, j int) bool {
			if sc.Endpoints[i].IP != sc.Endpoints[j].IP {
				return sc.Endpoints[i].IP < sc.Endpoints[j].IP
			}
			return sc.Endpoints[i].Port < sc.Endpoints[j].Port
		})
		out.Services = append(out.Services, sc)
	}
	sort.Slice(out.Services, func(i, j int) bool {
		if out.Services[i].Namespace != out.Services[j].Namespace {
			return out.Services[i].Namespace < out.Services[j].Namespace
		}
		return out.Services[i].Name < out.Services[j].Name
	})
	return out
}
