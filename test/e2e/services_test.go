package e2e

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestServices: the agent's service proxy with the real kubectl and the
// example app — the load-balancing policies (round-robin, weighted,
// random, least-connections and p2c-ewma against a slow replica), session
// affinity, ClusterIP, NodePort and LoadBalancer addresses, cluster DNS
// from a pod, and a replica deleted under load without failed requests.
func TestServices(t *testing.T) {
	bin := rootWebapp(t) // also ClusterIPs and the cluster DNS need root
	c := startClusterWith(t, true)
	// Pods a, b, c (weights 1, 2, 3) form set=w; a, b and the slow s
	// (200 ms per request) form set=p.
	pod := func(name, labels, weight, delay string) string {
		return fmt.Sprintf(`apiVersion: v1
kind: Pod
metadata:
  name: %s
  labels: {%s}
  annotations: {berth.io/lb-weight: "%s"}
spec:
  terminationGracePeriodSeconds: 5
  containers:
  - name: web
    image: my-web-app
    command: [%q]
    env:
    - {name: POD_NAME, value: %s}
    - {name: PORT, value: "3000"}
    - {name: DELAY, value: "%s"}
    ports: [{containerPort: 3000}]
    readinessProbe: {httpGet: {path: /healthz, port: 3000}, periodSeconds: 1}
---
`, name, labels, weight, bin, name, delay)
	}
	svc := func(name, selector, typ, annotations string, extra string) string {
		return fmt.Sprintf(`apiVersion: v1
kind: Service
metadata:
  name: %s
  annotations: {berth.io/lb-mode: http%s}
spec:
  type: %s
  selector: {%s}
  ports: [{name: http, port: 80, targetPort: 3000}]
%s---
`, name, annotations, typ, selector, extra)
	}
	manifest := pod("a", "set: w, p: x", "1", "0s") + pod("b", "set: w, p: x", "2", "0s") + pod("c", "set: w", "3", "0s") + pod("s", "p: x", "1", "200ms") +
		svc("w-rr", "set: w", "ClusterIP", "", "") +
		svc("w-weighted", "set: w", "ClusterIP", ", berth.io/lb-policy: weighted", "") +
		svc("w-random", "set: w", "ClusterIP", ", berth.io/lb-policy: random", "") +
		svc("w-sticky", "set: w", "ClusterIP", "", "  sessionAffinity: ClientIP\n") +
		svc("p-rr", "p: x", "ClusterIP", "", "") +
		svc("p-lc", "p: x", "ClusterIP", ", berth.io/lb-policy: least-connections", "") +
		svc("p-p2c", "p: x", "ClusterIP", ", berth.io/lb-policy: p2c-ewma", "") +
		svc("w-lb", "set: w", "LoadBalancer", "", "")
	c.mustKubectl("apply", "-f", c.writeManifest(t, "services.yaml", manifest))
	t.Cleanup(func() { _, _ = c.kubectl("delete", "pods", "--all", "--wait=true", "--timeout=60s") })
	waitFor(t, 90*time.Second, "4 pods Ready", func() bool {
		out, err := c.kubectl("get", "pods", "-o", `jsonpath={range .items[*]}{.status.conditions[?(@.type=="Ready")].status}{"\n"}{end}`)
		return err == nil && strings.Count(out, "True") == 4
	})
	ip := func(name string) string {
		return strings.TrimSpace(c.mustKubectl("get", "svc", name, "-o", "jsonpath={.spec.clusterIP}"))
	}
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	hit := func(url string) (string, error) {
		resp, err := client.Get(url)
		if err != nil {
			return "", err
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != 200 {
			return "", fmt.Errorf("%s: %s %s", url, resp.Status, b)
		}
		return strings.TrimPrefix(strings.TrimSpace(string(b)), "hello from "), nil
	}
	count := func(url string, n int) map[string]int {
		t.Helper()
		got := map[string]int{}
		for range n {
			name, err := hit(url)
			if err != nil {
				t.Fatal(err)
			}
			got[name]++
		}
		return got
	}
	// The proxy serves each Service once its endpoints are known.
	for _, s := range []string{"w-rr", "w-weighted", "w-random", "w-sticky", "p-rr", "p-lc", "p-p2c"} {
		url := "http://" + ip(s) + "/"
		want := 3
		if s == "w-sticky" {
			want = 1 // one client stays on one pod
		}
		waitFor(t, 30*time.Second, s+" answers from its pods", func() bool {
			got := map[string]bool{}
			for range 12 {
				name, err := hit(url)
				if err != nil {
					return false
				}
				got[name] = true
			}
			return len(got) == want
		})
	}

	t.Run("round-robin", func(t *testing.T) {
		got := count("http://"+ip("w-rr")+"/", 300)
		for _, p := range []string{"a", "b", "c"} {
			if got[p] < 99 || got[p] > 101 {
				t.Errorf("300 requests: %v, want 100±1 each", got)
			}
		}
	})
	t.Run("weighted 1:2:3", func(t *testing.T) {
		got := count("http://"+ip("w-weighted")+"/", 600)
		for p, want := range map[string]float64{"a": 100, "b": 200, "c": 300} {
			if d := float64(got[p]) - want; d > 0.05*want || d < -0.05*want {
				t.Errorf("600 requests: %v, want 100/200/300 within 5 %%", got)
			}
		}
	})
	t.Run("random", func(t *testing.T) {
		got := count("http://"+ip("w-random")+"/", 300)
		chi2 := 0.0
		for _, p := range []string{"a", "b", "c"} {
			d := float64(got[p]) - 100
			chi2 += d * d / 100
		}
		if chi2 > 13.82 { // 2 degrees of freedom, p = 0.001
			t.Errorf("300 requests: %v, chi-square %.1f: not uniform", got, chi2)
		}
	})
	t.Run("session affinity", func(t *testing.T) {
		got := count("http://"+ip("w-sticky")+"/", 30)
		if len(got) != 1 {
			t.Errorf("a ClientIP-affine client was spread: %v", got)
		}
	})
	t.Run("slow replica: least-connections and p2c-ewma beat round-robin at p99", func(t *testing.T) {
		p99 := map[string]time.Duration{}
		for _, s := range []string{"p-rr", "p-lc", "p-p2c"} {
			p99[s] = loadP99(t, "http://"+ip(s)+"/", 16, 4*time.Second)
		}
		t.Logf("p99 with one replica 200 ms slow: round-robin %v, least-connections %v, p2c-ewma %v", p99["p-rr"], p99["p-lc"], p99["p-p2c"])
		if p99["p-lc"] >= p99["p-rr"] || p99["p-p2c"] >= p99["p-rr"] {
			t.Errorf("p99: round-robin %v, least-connections %v, p2c-ewma %v", p99["p-rr"], p99["p-lc"], p99["p-p2c"])
		}
	})
	t.Run("ClusterIP, NodePort and LoadBalancer", func(t *testing.T) {
		nodePort := strings.TrimSpace(c.mustKubectl("get", "svc", "w-lb", "-o", "jsonpath={.spec.ports[0].nodePort}"))
		var ingress string
		waitFor(t, 30*time.Second, "w-lb has a load-balancer ingress", func() bool {
			out, err := c.kubectl("get", "svc", "w-lb", "-o", "jsonpath={.status.loadBalancer.ingress[0].ip}")
			ingress = strings.TrimSpace(out)
			return err == nil && ingress != ""
		})
		for _, addr := range []string{ip("w-lb") + ":80", "127.0.0.1:" + nodePort, ingress + ":" + nodePort, ingress + ":80", "127.0.0.1:80"} {
			if name, err := hit("http://" + addr + "/"); err != nil || !strings.Contains("abc", name) {
				t.Errorf("%s: %q %v", addr, name, err)
			}
		}
	})
	t.Run("cluster DNS from a pod", func(t *testing.T) {
		out, err := c.kubectl("exec", "a", "--", bin, "fetch", "http://w-rr.default.svc.cluster.local/")
		if err != nil || !strings.HasPrefix(out, "hello from ") {
			t.Errorf("fetch by service name from pod a: %v\n%s", err, out)
		}
		out, err = c.kubectl("exec", "a", "--", "getent", "hosts", "w-rr")
		if err != nil || !strings.HasPrefix(out, ip("w-rr")+" ") {
			t.Errorf("getent hosts w-rr (search path): %v %q", err, out)
		}
	})
	t.Run("proxy metrics through the API server", func(t *testing.T) {
		node := strings.TrimPrefix(strings.TrimSpace(c.mustKubectl("get", "nodes", "-o", "name")), "node/")
		out := c.mustKubectl("get", "--raw", "/api/v1/nodes/"+node+"/proxy/metrics")
		if !strings.Contains(out, `berth_proxy_requests_total{code="200"`) || !strings.Contains(out, `service="default/w-rr:http"`) {
			t.Errorf("agent metrics lack the requests of w-rr:\n%.2000s", out)
		}
	})
	t.Run("replica deleted under load", func(t *testing.T) {
		url := "http://" + ip("w-rr") + "/"
		ctx, cancel := context.WithCancel(context.Background())
		var wg sync.WaitGroup
		var mu sync.Mutex
		var failures []string
		served := 0
		for range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for ctx.Err() == nil {
					_, err := hit(url)
					mu.Lock()
					if err != nil {
						failures = append(failures, err.Error())
					} else {
						served++
					}
					mu.Unlock()
				}
			}()
		}
		time.Sleep(time.Second)
		c.mustKubectl("delete", "pod", "c", "--wait=true", "--timeout=60s")
		time.Sleep(time.Second)
		cancel()
		wg.Wait()
		if len(failures) > 0 {
			t.Errorf("%d of %d requests failed while a replica was deleted; first: %s", len(failures), served+len(failures), failures[0])
		}
		if served < 100 {
			t.Errorf("only %d requests served", served)
		}
	})
}

// loadP99 sends requests from n concurrent clients for d and returns the
// 99th percentile latency.
func loadP99(t *testing.T, url string, n int, d time.Duration) time.Duration {
	t.Helper()
	var mu sync.Mutex
	var lat []time.Duration
	var errs int
	deadline := time.Now().Add(d)
	var wg sync.WaitGroup
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DialContext: (&net.Dialer{}).DialContext, MaxIdleConnsPerHost: 1}}
			for time.Now().Before(deadline) {
				start := time.Now()
				resp, err := c.Get(url)
				if err == nil {
					_, _ = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
				}
				mu.Lock()
				if err != nil || resp.StatusCode != 200 {
					errs++
				} else {
					lat = append(lat, time.Since(start))
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if errs > 0 || len(lat) < 100 {
		t.Fatalf("%s: %d errors, %d answers", url, errs, len(lat))
	}
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	return lat[len(lat)*99/100]
}
