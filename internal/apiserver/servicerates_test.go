package apiserver

import (
	"math"
	"testing"
	"time"

	"github.com/berth-dev/berth/internal/nodeapi"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

var (
	t0      = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	started = t0.Add(-time.Hour)
	web     = types.NamespacedName{Namespace: "shop", Name: "web"}
	db      = types.NamespacedName{Namespace: "shop", Name: "db"}
)

// doc is an agent's document at t0+at with web's requests split over two
// endpoints and db's connections.
func doc(at time.Duration, webA, webB, dbConns uint64) nodeapi.ServiceMetrics {
	return nodeapi.ServiceMetrics{Timestamp: t0.Add(at), StartTime: started, Services: []nodeapi.ServiceCount{
		{Namespace: "shop", Name: "db", Connections: dbConns, Endpoints: []nodeapi.EndpointCount{{IP: "10.0.0.3", Port: 5432, Connections: dbConns}}},
		{Namespace: "shop", Name: "web", Requests: webA + webB, Endpoints: []nodeapi.EndpointCount{
			{IP: "10.0.0.1", Port: 8080, Requests: webA}, {IP: "10.0.0.2", Port: 8080, Requests: webB}}},
	}}
}

func near(a, b float64) bool { return math.Abs(a-b) < 1e-9 }

func TestNodeRates(t *testing.T) {
	prev, cur := doc(0, 100, 50, 7), doc(2*time.Second, 120, 70, 11)
	svcs, eps, window, ok := nodeRates(prev, cur)
	if !ok || window != 2*time.Second {
		t.Fatalf("ok %v window %v", ok, window)
	}
	if r := svcs[web]; !near(r.requests, 20) || r.connections != 0 {
		t.Errorf("web %+v, want 20 requests/s", r)
	}
	if r := svcs[db]; !near(r.connections, 2) || r.requests != 0 {
		t.Errorf("db %+v, want 2 connections/s", r)
	}
	if r := eps["shop"][ipPort{"10.0.0.1", 8080}]; !near(r.requests, 10) {
		t.Errorf("endpoint 10.0.0.1:8080 %+v", r)
	}
	if r := eps["shop"][ipPort{"10.0.0.3", 5432}]; !near(r.connections, 2) {
		t.Errorf("endpoint 10.0.0.3:5432 %+v", r)
	}

	t.Run("new service counts from zero", func(t *testing.T) {
		p := doc(0, 100, 50, 7)
		p.Services = p.Services[1:] // no db before
		svcs, _, _, ok := nodeRates(p, cur)
		if r := svcs[db]; !ok || !near(r.connections, 5.5) {
			t.Errorf("db %+v", r)
		}
	})
	t.Run("agent restarted", func(t *testing.T) {
		c := doc(2*time.Second, 1, 1, 1)
		c.StartTime = t0.Add(time.Second)
		if _, _, _, ok := nodeRates(prev, c); ok {
			t.Error("rates across a restart")
		}
		// Even with counts that grew past the old ones.
		c = doc(2*time.Second, 500, 500, 500)
		c.StartTime = t0.Add(time.Second)
		if _, _, _, ok := nodeRates(prev, c); ok {
			t.Error("rates across a restart with higher counts")
		}
	})
	t.Run("a counter went down", func(t *testing.T) {
		c := doc(2*time.Second, 10, 70, 11) // web's total and endpoint A went down
		svcs, eps, _, ok := nodeRates(prev, c)
		if !ok {
			t.Fatal("no rates")
		}
		if _, has := svcs[web]; has {
			t.Errorf("web has a rate: %+v", svcs[web])
		}
		if _, has := eps["shop"][ipPort{"10.0.0.1", 8080}]; has {
			t.Error("endpoint A has a rate")
		}
		if r := eps["shop"][ipPort{"10.0.0.2", 8080}]; !near(r.requests, 10) {
			t.Errorf("endpoint B %+v", r)
		}
		if r := svcs[db]; !near(r.connections, 2) {
			t.Errorf("db %+v", r)
		}
	})
	t.Run("time did not advance", func(t *testing.T) {
		if _, _, _, ok := nodeRates(cur, cur); ok {
			t.Error("rates over no time")
		}
		if _, _, _, ok := nodeRates(nodeapi.ServiceMetrics{}, cur); ok {
			t.Error("rates from nothing")
		}
	})
}

// TestServiceRatesAcrossNodes: a pass sums the nodes' rates; a node's
// first scrape, or its first after a restart, adds nothing; a node that
// failed one scrape yields a rate over the longer time; removed nodes are
// forgotten.
func TestServiceRatesAcrossNodes(t *testing.T) {
	var r serviceRates
	known := map[string]bool{"a": true, "b": true}
	r.observe(t0, map[string]nodeapi.ServiceMetrics{"a": doc(0, 0, 0, 0), "b": doc(0, 0, 0, 0)}, known)
	if s := r.snapshot(); s.ok {
		t.Fatal("rates after one scrape")
	}
	r.observe(t0.Add(time.Second), map[string]nodeapi.ServiceMetrics{"a": doc(time.Second, 6, 4, 0), "b": doc(time.Second, 5, 0, 2)}, known)
	s := r.snapshot()
	if !s.ok || s.window != time.Second || !s.at.Equal(t0.Add(time.Second)) {
		t.Fatalf("snapshot %+v", s)
	}
	if v := s.services[web]; !near(v.requests, 15) {
		t.Errorf("web %+v, want 15 requests/s (10 on a, 5 on b)", v)
	}
	if v := s.endpoints["shop"][ipPort{"10.0.0.1", 8080}]; !near(v.requests, 11) {
		t.Errorf("endpoint A %+v, want 11", v)
	}
	if v := s.services[db]; !near(v.connections, 2) {
		t.Errorf("db %+v", v)
	}

	// b restarts (new start time, counts from zero), a's scrape fails.
	restarted := doc(2*time.Second, 1, 0, 0)
	restarted.StartTime = t0.Add(1500 * time.Millisecond)
	r.observe(t0.Add(2*time.Second), map[string]nodeapi.ServiceMetrics{"b": restarted}, known)
	if s := r.snapshot(); s.ok || len(s.services) != 0 {
		t.Errorf("rates from a restarted agent: %+v", s)
	}
	// Next pass: a over 2s, b over 1s.
	bNext := doc(3*time.Second, 4, 0, 0)
	bNext.StartTime = restarted.StartTime
	r.observe(t0.Add(3*time.Second), map[string]nodeapi.ServiceMetrics{"a": doc(3*time.Second, 26, 4, 0), "b": bNext}, known)
	s = r.snapshot()
	if v := s.services[web]; !s.ok || !near(v.requests, 10+3) || s.window != 2*time.Second {
		t.Errorf("web %+v window %v, want 13 requests/s over 2s", v, s.window)
	}
	// Node b is deleted: its previous document goes.
	r.observe(t0.Add(4*time.Second), nil, map[string]bool{"a": true})
	if _, ok := r.prev["b"]; ok {
		t.Error("a deleted node's counts are kept")
	}
	if _, ok := r.prev["a"]; !ok {
		t.Error("a node that was not scraped lost its counts")
	}
}

func pod(name, ip string, phase corev1.PodPhase, ports ...int32) *corev1.Pod {
	p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "shop"}, Status: corev1.PodStatus{Phase: phase, PodIP: ip}}
	c := corev1.Container{Name: "main"}
	for _, port := range ports {
		c.Ports = append(c.Ports, corev1.ContainerPort{ContainerPort: port})
	}
	p.Spec.Containers = []corev1.Container{c}
	return p
}

func TestPodRates(t *testing.T) {
	pods := []*corev1.Pod{
		pod("web-1", "10.0.0.1", corev1.PodRunning),
		pod("web-2", "10.0.0.2", corev1.PodRunning),
		pod("old", "10.0.0.2", corev1.PodSucceeded), // finished: its IP was reused
		pod("pending", "", corev1.PodPending),
		// Two pods on the host network of one node: told apart by port.
		pod("host-a", "192.168.1.5", corev1.PodRunning, 8080),
		pod("host-b", "192.168.1.5", corev1.PodRunning, 9090),
		// Two more on another node declaring the same port: ambiguous.
		pod("twin-1", "192.168.1.6", corev1.PodRunning, 7000),
		pod("twin-2", "192.168.1.6", corev1.PodRunning, 7000),
	}
	pods[1].Status.PodIPs = []corev1.PodIP{{IP: "10.0.0.2"}, {IP: "fd00::2"}}
	eps := map[ipPort]rate{
		{"10.0.0.1", 8080}:    {requests: 3},
		{"10.0.0.1", 9000}:    {connections: 1}, // another Service's port on the same pod
		{"10.0.0.2", 8080}:    {requests: 2},
		{"fd00::2", 8080}:     {requests: 0.5},
		{"192.168.1.5", 8080}: {requests: 7},
		{"192.168.1.5", 9090}: {requests: 8},
		{"192.168.1.6", 7000}: {requests: 9},
		{"10.9.9.9", 80}:      {requests: 100}, // no such pod
	}
	got := podRates(pods, eps)
	want := map[string]rate{
		"web-1": {requests: 3, connections: 1}, "web-2": {requests: 2.5},
		"host-a": {requests: 7}, "host-b": {requests: 8}, "twin-1": {}, "twin-2": {},
	}
	if len(got) != len(want) {
		t.Errorf("pods with figures %v, want %v", got, want)
	}
	for name, w := range want {
		if g, ok := got[name]; !ok || !near(g.requests, w.requests) || !near(g.connections, w.connections) {
			t.Errorf("%s: %+v (%v), want %+v", name, g, ok, w)
		}
	}
}

func TestAdaptiveInterval(t *testing.T) {
	for _, tc := range []struct {
		configured time.Duration
		values     []string
		want       time.Duration
	}{
		{15 * time.Second, nil, 15 * time.Second},
		{15 * time.Second, []string{"5s", "2s", "10s"}, 2 * time.Second},
		{15 * time.Second, []string{"100ms"}, time.Second}, // floor
		{15 * time.Second, []string{"1m"}, 15 * time.Second},
		{15 * time.Second, []string{"soon", "-1s", "0s", ""}, 15 * time.Second}, // ignored
		{300 * time.Millisecond, []string{"1s"}, 300 * time.Millisecond},        // the configured one is not floored
	} {
		if got := adaptiveInterval(tc.configured, tc.values); got != tc.want {
			t.Errorf("adaptiveInterval(%v, %q) = %v, want %v", tc.configured, tc.values, got, tc.want)
		}
	}
}

func TestScrapeTimeout(t *testing.T) {
	for in, want := range map[time.Duration]time.Duration{time.Second: 5 * time.Second, 7 * time.Second: 7 * time.Second, time.Minute: 10 * time.Second} {
		if got := scrapeTimeout(in); got != want {
			t.Errorf("scrapeTimeout(%v) = %v, want %v", in, got, want)
		}
	}
}

func TestQuantity(t *testing.T) {
	for v, want := range map[float64]string{12.5: "12500m", 12: "12", 0: "0", 0.0004: "0", 1.0006: "1001m"} {
		q := quantity(v)
		if got := q.String(); got != want {
			t.Errorf("quantity(%v) = %s, want %s", v, got, want)
		}
	}
}
