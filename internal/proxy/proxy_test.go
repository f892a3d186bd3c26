package proxy

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/berth-dev/berth/internal/proxy/lb"
	"github.com/berth-dev/berth/internal/proxy/proxyproto"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// tcpBackend answers each connection with its name and closes it; with
// readProxy it first reads a PROXY v2 header and answers the source.
func tcpBackend(t *testing.T, name string, readProxy bool) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				if readProxy {
					buf := make([]byte, 28)
					if _, err := io.ReadFull(c, buf); err != nil {
						return
					}
					src, _, _, err := proxyproto.Parse(buf)
					if err != nil {
						fmt.Fprintf(c, "bad header: %v", err)
						return
					}
					fmt.Fprintf(c, "%s from %s", name, src.Addr())
					return
				}
				fmt.Fprint(c, name)
			}()
		}
	}()
	return ln.Addr().String()
}

// refusingAddr is an address where nothing listens.
func refusingAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// serveLoopback runs serve on a loopback listener; stop (also run when
// the test ends) cancels its context and checks that it returns, without
// error, within 5 seconds.
func serveLoopback(t *testing.T, serve func(context.Context, net.Listener) error) (addr string, stop func()) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- serve(ctx, ln) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			select {
			case err := <-done:
				if err != nil {
					t.Error(err)
				}
			case <-time.After(5 * time.Second):
				t.Error("the listener did not stop within 5 s of its context's end")
			}
		})
	}
	t.Cleanup(stop)
	return ln.Addr().String(), stop
}

// startTCP runs the forwarder for p on a loopback listener.
func startTCP(t *testing.T, p *Port) (string, *Metrics) {
	t.Helper()
	addr, m, _ := startMode(t, p, (*Forwarder).ServeTCP)
	return addr, m
}

// startMode runs serve (a Forwarder's ServeTCP or ServeHTTPMode) for p on
// a loopback listener.
func startMode(t *testing.T, p *Port, serve func(*Forwarder, context.Context, net.Listener, func() *Port) error) (addr string, m *Metrics, stop func()) {
	t.Helper()
	f := &Forwarder{Metrics: NewMetrics()}
	addr, stop = serveLoopback(t, func(ctx context.Context, ln net.Listener) error {
		return serve(f, ctx, ln, func() *Port { return p })
	})
	return addr, f.Metrics, stop
}

func balancer(t *testing.T, policy string, eps ...lb.Endpoint) *lb.Balancer {
	t.Helper()
	b, err := lb.New(lb.Config{Policy: policy})
	if err != nil {
		t.Fatal(err)
	}
	b.Update(eps)
	return b
}

func readAll(t *testing.T, addr string) string {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	b, err := io.ReadAll(c)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestTCPRoundRobinRetryAndProxyProtocol(t *testing.T) {
	a, b, c := tcpBackend(t, "a", false), tcpBackend(t, "b", false), tcpBackend(t, "c", false)
	p := &Port{Service: "default/web:80", Mode: ModeTCP, Balancer: balancer(t, lb.RoundRobin, lb.Endpoint{Addr: a}, lb.Endpoint{Addr: b}, lb.Endpoint{Addr: c})}
	addr, m := startTCP(t, p)
	got := map[string]int{}
	for range 30 {
		got[readAll(t, addr)]++
	}
	if got["a"] != 10 || got["b"] != 10 || got["c"] != 10 {
		t.Errorf("round-robin over 30 connections: %v", got)
	}
	if n := counterValue(t, m.connections.WithLabelValues("default/web:80", a)); n != 10 {
		t.Errorf("connections metric for %s: %v", a, n)
	}

	// An endpoint that refuses: every connection still succeeds.
	dead := refusingAddr(t)
	p.Balancer.Update([]lb.Endpoint{{Addr: a}, {Addr: dead}})
	for i := range 10 {
		if s := readAll(t, addr); s != "a" {
			t.Fatalf("connection %d got %q", i, s)
		}
	}
	if n := counterValue(t, m.failures.WithLabelValues("default/web:80", "connect")); n < 1 {
		t.Errorf("connect failures metric %v", n)
	}

	// PROXY protocol v2: the backend learns the client's address.
	pp := tcpBackend(t, "pp", true)
	p2 := &Port{Service: "default/pp:80", Mode: ModeTCP, ProxyProtocol: true, Balancer: balancer(t, "", lb.Endpoint{Addr: pp})}
	addr2, _ := startTCP(t, p2)
	if s := readAll(t, addr2); s != "pp from 127.0.0.1" {
		t.Errorf("PROXY protocol backend answered %q", s)
	}

	// No endpoints: the connection is closed at once.
	p.Balancer.Update(nil)
	if s := readAll(t, addr); s != "" {
		t.Errorf("no endpoints: got %q", s)
	}
}

// httpBackend answers its name and the forwarding headers.
func httpBackend(t *testing.T, name string, delay time.Duration) (string, func()) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(delay)
		fmt.Fprintf(w, "%s|%s|%s", name, r.Header.Get("X-Forwarded-For"), r.Header.Get("X-Forwarded-Proto"))
	})}
	go srv.Serve(ln)
	stop := func() { srv.Close() }
	t.Cleanup(stop)
	return ln.Addr().String(), stop
}

// startHTTP runs an HTTP-mode listener for p on a loopback address.
func startHTTP(t *testing.T, p *Port) (string, *Metrics) {
	t.Helper()
	addr, m, _ := startMode(t, p, (*Forwarder).ServeHTTPMode)
	return "http://" + addr, m
}

func get(t *testing.T, c *http.Client, url string) (int, string) {
	t.Helper()
	resp, err := c.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestHTTPModeBalancesPerRequest(t *testing.T) {
	a, _ := httpBackend(t, "a", 0)
	b, stopB := httpBackend(t, "b", 0)
	c, _ := httpBackend(t, "c", 0)
	p := &Port{Service: "default/web:80", Mode: ModeHTTP, Balancer: balancer(t, lb.RoundRobin, lb.Endpoint{Addr: a}, lb.Endpoint{Addr: b}, lb.Endpoint{Addr: c})}
	url, m := startHTTP(t, p)
	client := &http.Client{Timeout: 5 * time.Second} // one keep-alive connection: per-request balancing
	got := map[string]int{}
	for range 300 {
		code, body := get(t, client, url)
		if code != 200 {
			t.Fatalf("status %d %q", code, body)
		}
		f := strings.Split(body, "|")
		if f[1] != "127.0.0.1" || f[2] != "http" {
			t.Fatalf("forwarding headers %q", body)
		}
		got[f[0]]++
	}
	for _, name := range []string{"a", "b", "c"} {
		if got[name] != 100 {
			t.Errorf("round-robin over 300 requests: %v", got)
		}
	}
	if n := counterValue(t, m.requests.WithLabelValues("default/web:80", a, "200")); n != 100 {
		t.Errorf("requests metric %v", n)
	}
	// The in-process counts agree with the Prometheus ones.
	if c := m.Counts(); len(c.Services) != 1 || c.Services[0].Name != "web" || c.Services[0].Requests != 300 ||
		len(c.Services[0].Endpoints) != 3 || c.Services[0].Connections != 0 {
		t.Errorf("counts %+v", c)
	} else {
		for _, e := range c.Services[0].Endpoints {
			if e.IP != "127.0.0.1" || e.Requests != 100 {
				t.Errorf("endpoint counts %+v", e)
			}
		}
	}
	// An endpoint goes away: idempotent requests are retried elsewhere.
	stopB()
	for range 30 {
		if code, body := get(t, client, url); code != 200 || strings.HasPrefix(body, "b|") {
			t.Fatalf("after b stopped: %d %q", code, body)
		}
	}
	// A POST that cannot connect to its only endpoint gets 502.
	p.Balancer.Update([]lb.Endpoint{{Addr: b}})
	resp, err := client.Post(url, "text/plain", strings.NewReader("payload"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadGateway {
		t.Errorf("POST to a dead endpoint: %d, want 502", resp.StatusCode)
	}
	p.Balancer.Update(nil)
	if code, _ := get(t, client, url); code != http.StatusServiceUnavailable {
		t.Errorf("no endpoints: %d, want 503", code)
	}
}

func TestHTTPWeightedAndRemovalUnderLoad(t *testing.T) {
	var eps []lb.Endpoint
	for i, w := range []int{1, 2, 3} {
		addr, _ := httpBackend(t, fmt.Sprint(i), 0)
		eps = append(eps, lb.Endpoint{Addr: addr, Weight: w})
	}
	p := &Port{Service: "default/w:80", Mode: ModeHTTP, Balancer: balancer(t, lb.Weighted, eps...)}
	url, _ := startHTTP(t, p)
	client := &http.Client{Timeout: 5 * time.Second}
	got := map[string]int{}
	for range 600 {
		_, body := get(t, client, url)
		got[strings.Split(body, "|")[0]]++
	}
	for i, want := range []int{100, 200, 300} {
		if n := got[fmt.Sprint(i)]; n < want*95/100 || n > want*105/100 {
			t.Errorf("weighted 1:2:3 over 600: %v", got)
		}
	}
	// Remove an endpoint while 8 clients send requests: none fails.
	var wg sync.WaitGroup
	var mu sync.Mutex
	failures := 0
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := &http.Client{Timeout: 5 * time.Second}
			for ctx.Err() == nil {
				resp, err := c.Get(url)
				if err == nil {
					_, _ = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
				}
				if err != nil || resp.StatusCode != 200 {
					mu.Lock()
					failures++
					mu.Unlock()
				}
			}
		}()
	}
	time.Sleep(500 * time.Millisecond)
	p.Balancer.Update(eps[:2])
	wg.Wait()
	if failures != 0 {
		t.Errorf("%d failed requests while an endpoint was removed", failures)
	}
}

func TestUDP(t *testing.T) {
	echo, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { echo.Close() })
	go func() {
		buf := make([]byte, 1500)
		for {
			n, from, err := echo.ReadFrom(buf)
			if err != nil {
				return
			}
			_, _ = echo.WriteTo(append([]byte("echo "), buf[:n]...), from)
		}
	}()
	m := NewMetrics()
	f := &Forwarder{Metrics: m}
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &Port{Service: "default/dns:53", Balancer: balancer(t, "", lb.Endpoint{Addr: echo.LocalAddr().String()})}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- f.ServeUDP(ctx, pc, func() *Port { return p }) }()
	defer func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Error(err)
			}
		case <-time.After(5 * time.Second):
			t.Error("ServeUDP did not stop")
		}
	}()
	c, err := net.Dial("udp", pc.LocalAddr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	r := bufio.NewReader(c)
	for i := range 3 {
		fmt.Fprintf(c, "ping %d", i)
		_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
		buf := make([]byte, 100)
		n, err := r.Read(buf)
		if err != nil || string(buf[:n]) != fmt.Sprintf("echo ping %d", i) {
			t.Fatalf("datagram %d: %q %v", i, buf[:n], err)
		}
	}
	if n := counterValue(t, m.connections.WithLabelValues("default/dns:53", echo.LocalAddr().String())); n != 1 {
		t.Errorf("flows %v, want 1", n)
	}
}

func TestMetricsRegister(t *testing.T) {
	m := NewMetrics()
	reg := prometheus.NewRegistry()
	if err := m.Register(reg); err != nil {
		t.Fatal(err)
	}
	m.connections.WithLabelValues("a/b:1", "x").Inc()
	m.Forget("a/b:1")
	ch := make(chan prometheus.Metric, 10)
	m.connections.Collect(ch)
	close(ch)
	if n := len(ch); n != 0 {
		t.Errorf("%d series left after Forget", n)
	}
}

// counterValue reads a counter.
func counterValue(t *testing.T, c prometheus.Counter) float64 {
	t.Helper()
	var d dto.Metric
	if err := c.Write(&d); err != nil {
		t.Fatal(err)
	}
	return d.GetCounter().GetValue()
}
