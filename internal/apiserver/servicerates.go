package apiserver

import (
	"sync"
	"time"

	"github.com/berth-dev/berth/internal/nodeapi"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
)

// Rates of the service proxies' traffic (the custom metrics API's
// source). Every agent reports cumulative counts per Service and endpoint
// (nodeapi.ServiceMetricsPath); a node's rates are the differences between
// two consecutive scrapes of its agent divided by the time between them.
// A Service's rate is the sum over nodes (each node's proxy carries the
// part of the traffic that enters there); an endpoint's is the sum over
// nodes and over the Services it serves.

// rate is a number of requests and connections per second.
type rate struct {
	requests, connections float64
}

func (r *rate) add(o rate) {
	r.requests += o.requests
	r.connections += o.connections
}

// ipPort is an endpoint address within a namespace.
type ipPort struct {
	ip   string
	port int32
}

// rateSnapshot is what one scrape pass computed.
type rateSnapshot struct {
	// ok is true when at least one agent's rates were computed in the
	// pass (it was scraped before, and did not restart in between).
	ok bool
	// at is when the pass ended; window the longest time between the two
	// scrapes of an agent whose rates count.
	at     time.Time
	window time.Duration
	// services are the rates per Service; a Service absent here had no
	// traffic.
	services map[types.NamespacedName]rate
	// endpoints are the rates per endpoint, by namespace.
	endpoints map[string]map[ipPort]rate
}

// serviceRates keeps each agent's previous counts and the latest rates.
type serviceRates struct {
	mu sync.RWMutex
	// prev is each node's latest document (kept across failed scrapes,
	// so the next success yields a rate over the longer time).
	prev   map[string]nodeapi.ServiceMetrics
	latest rateSnapshot
}

// nodeRates returns one agent's rates between two of its documents; ok is
// false when they do not follow each other (the agent restarted, or time
// did not advance). A Service or endpoint whose count went down (its
// counter was reset) has no rate in this pass.
func nodeRates(prev, cur nodeapi.ServiceMetrics) (svcs map[types.NamespacedName]rate, eps map[string]map[ipPort]rate, window time.Duration, ok bool) {
	window = cur.Timestamp.Sub(prev.Timestamp)
	if prev.Timestamp.IsZero() || window <= 0 || !cur.StartTime.Equal(prev.StartTime) {
		return nil, nil, 0, false
	}
	secs := window.Seconds()
	type counts struct{ requests, connections uint64 }
	before := map[types.NamespacedName]counts{}
	beforeEP := map[types.NamespacedName]map[ipPort]counts{}
	for _, s := range prev.Services {
		key := types.NamespacedName{Namespace: s.Namespace, Name: s.Name}
		before[key] = counts{s.Requests, s.Connections}
		m := make(map[ipPort]counts, len(s.Endpoints))
		for _, e := range s.Endpoints {
			m[ipPort{e.IP, e.Port}] = counts{e.Requests, e.Connections}
		}
		beforeEP[key] = m
	}
	// delta is the rate between two counts (absent before: zero then, as
	// counters start at zero), or false when a count went down.
	delta := func(b, c counts) (rate, bool) {
		if c.requests < b.requests || c.connections < b.connections {
			return rate{}, false
		}
		return rate{requests: float64(c.requests-b.requests) / secs, connections: float64(c.connections-b.connections) / secs}, true
	}
	svcs = map[types.NamespacedName]rate{}
	eps = map[string]map[ipPort]rate{}
	for _, s := range cur.Services {
		key := types.NamespacedName{Namespace: s.Namespace, Name: s.Name}
		if r, ok := delta(before[key], counts{s.Requests, s.Connections}); ok {
			svcs[key] = r
		}
		for _, e := range s.Endpoints {
			addr := ipPort{e.IP, e.Port}
			r, ok := delta(beforeEP[key][addr], counts{e.Requests, e.Connections})
			if !ok {
				continue
			}
			if eps[s.Namespace] == nil {
				eps[s.Namespace] = map[ipPort]rate{}
			}
			sum := eps[s.Namespace][addr]
			sum.add(r)
			eps[s.Namespace][addr] = sum
		}
	}
	return svcs, eps, window, true
}

// observe records one scrape pass: docs are the documents read by node;
// known are the nodes that exist (others are forgotten).
func (r *serviceRates) observe(at time.Time, docs map[string]nodeapi.ServiceMetrics, known map[string]bool) {
	snap := rateSnapshot{at: at, services: map[types.NamespacedName]rate{}, endpoints: map[string]map[ipPort]rate{}}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.prev == nil {
		r.prev = map[string]nodeapi.ServiceMetrics{}
	}
	for node, cur := range docs {
		prev, seen := r.prev[node]
		r.prev[node] = cur
		if !seen {
			continue
		}
		svcs, eps, window, ok := nodeRates(prev, cur)
		if !ok {
			continue
		}
		snap.ok = true
		snap.window = max(snap.window, window)
		for key, v := range svcs {
			sum := snap.services[key]
			sum.add(v)
			snap.services[key] = sum
		}
		for ns, m := range eps {
			if snap.endpoints[ns] == nil {
				snap.endpoints[ns] = map[ipPort]rate{}
			}
			for addr, v := range m {
				sum := snap.endpoints[ns][addr]
				sum.add(v)
				snap.endpoints[ns][addr] = sum
			}
		}
	}
	for node := range r.prev {
		if !known[node] {
			delete(r.prev, node)
		}
	}
	r.latest = snap
}

// snapshot returns the latest pass's rates (read-only).
func (r *serviceRates) snapshot() rateSnapshot {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.latest
}

// livePod reports whether a pod can receive traffic: it has an IP and
// has not finished.
func livePod(p *corev1.Pod) bool {
	return p.Status.PodIP != "" && p.Status.Phase != corev1.PodSucceeded && p.Status.Phase != corev1.PodFailed
}

// podIPs are a pod's addresses (status.podIPs, or status.podIP).
func podIPs(p *corev1.Pod) []string {
	if len(p.Status.PodIPs) == 0 {
		return []string{p.Status.PodIP}
	}
	ips := make([]string, 0, len(p.Status.PodIPs))
	for _, ip := range p.Status.PodIPs {
		ips = append(ips, ip.IP)
	}
	return ips
}

func declaresPort(p *corev1.Pod, port int32) bool {
	for _, c := range p.Spec.Containers {
		for _, cp := range c.Ports {
			if cp.ContainerPort == port {
				return true
			}
		}
	}
	return false
}

// podRates attributes a namespace's endpoint rates to its pods (all of
// them, so that shared addresses are resolved): an endpoint belongs to the
// live pod with its IP; when several live pods share the IP (pods on the
// host network), to the one that declares the endpoint's port as a
// container port. An endpoint no single pod claims counts for none. Every
// live pod gets an entry, zero without traffic.
func podRates(pods []*corev1.Pod, eps map[ipPort]rate) map[string]rate {
	out := map[string]rate{}
	byIP := map[string][]*corev1.Pod{}
	for _, p := range pods {
		if !livePod(p) {
			continue
		}
		out[p.Name] = rate{}
		for _, ip := range podIPs(p) {
			byIP[ip] = append(byIP[ip], p)
		}
	}
	for addr, v := range eps {
		owners := byIP[addr.ip]
		if len(owners) > 1 {
			var declaring []*corev1.Pod
			for _, p := range owners {
				if declaresPort(p, addr.port) {
					declaring = append(declaring, p)
				}
			}
			owners = declaring
		}
		if len(owners) != 1 {
			continue
		}
		sum := out[owners[0].Name]
		sum.add(v)
		out[owners[0].Name] = sum
	}
	return out
}
