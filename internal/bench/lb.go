package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/berth-dev/berth/internal/proxy"
	"github.com/berth-dev/berth/internal/proxy/lb"
)

// lbService names the benchmark's Service ports in the proxy's metrics.
const lbService = "bench-lb/webapp"

// RunLB benchmarks Berth's service proxy against HAProxy: three backends
// answering as examples/webapp does (its processes with cfg.WebApp, else
// HTTP servers in this process) on loopback; Berth's forwarding code (a
// proxy.Forwarder with a round-robin lb.Balancer over the backends) in
// this process with one listener in TCP mode and one in HTTP mode, as the
// agent serves a Service port; HAProxy as a child process configured the
// same way (HAProxyConfig). wrk measures each target — a backend
// directly, Berth TCP, Berth HTTP, HAProxy TCP, HAProxy HTTP — for
// cfg.Duration, the targets interleaved, in each of cfg.Rounds rounds;
// the figures are the medians per target. It writes the summary (unless
// cfg.JSONOnly) and, as the last line, the JSON result to out; on error
// the last line is {"bench":"lb","error":"..."}. Everything it started is
// stopped before it returns, also on error and when ctx ends.
func RunLB(ctx context.Context, cfg LBConfig, out io.Writer) (*LBResult, error) {
	res, err := runLB(ctx, cfg)
	return finishRun(out, "lb", res, err, cfg.JSONOnly, cfg.PlotFile, WriteLBPlot, cfg.Logger)
}

// lbRun is the state of one run of the lb benchmark.
type lbRun struct {
	cfg      LBConfig
	log      *slog.Logger
	wrk      string
	backends []string // host:port
	procs    []*childProc
	haproxy  *childProc
	targets  []LBTarget // URLs filled in, in lbTargetNames order
}

func runLB(ctx context.Context, cfg LBConfig) (*LBResult, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	log := cfg.Logger
	r := &lbRun{cfg: cfg, log: log}
	if r.wrk, err = lookTool(cfg.Wrk, "wrk"); err != nil {
		return nil, err
	}
	haproxyBin, err := lookTool(cfg.HAProxy, "haproxy")
	if err != nil {
		return nil, err
	}
	res := &LBResult{Bench: "lb", BackendCount: lbBackends, Policy: lb.RoundRobin, Connections: cfg.Connections, Threads: cfg.Threads,
		DurationS: cfg.Duration.Seconds(), Rounds: cfg.Rounds, WarmupS: cfg.Warmup.Seconds(), GoMaxProcs: runtime.GOMAXPROCS(0),
		HAProxyThreads: max(runtime.GOMAXPROCS(0), 1), HAProxyVersion: toolVersion(ctx, haproxyBin, "-v"),
		WrkVersion: strings.TrimSuffix(toolVersion(ctx, r.wrk, "-v"), " Copyright (C) 2012 Will Glozer"),
		Goals:      DefaultLBGoals, Machine: thisMachine()}

	// Everything started below is stopped by these, in reverse order.
	bctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	defer wg.Wait()
	defer cancel()

	// Backends.
	if cfg.WebApp != "" {
		res.Backends = "examples/webapp processes"
		res.BackendProcesses = true
		defer r.stopBackends()
		if err := r.startWebApps(ctx); err != nil {
			return nil, err
		}
	} else {
		res.Backends = "in-process HTTP servers"
		if err := r.serveBackends(bctx, &wg); err != nil {
			return nil, err
		}
	}

	// Berth's proxy, as the agent runs it per Service port.
	tcpAddr, httpAddr, err := r.serveProxy(bctx, &wg)
	if err != nil {
		return nil, err
	}

	// HAProxy.
	dir, err := os.MkdirTemp("", "berth-bench-lb-*")
	if err != nil {
		return nil, fmt.Errorf("bench: temp dir: %w", err)
	}
	defer os.RemoveAll(dir)
	hp := HAProxyParams{Backends: r.backends, Threads: res.HAProxyThreads, MaxConn: max(4096, 4*cfg.Connections)}
	if hp.TCPAddr, err = freeAddr(); err != nil {
		return nil, err
	}
	if hp.HTTPAddr, err = freeAddr(); err != nil {
		return nil, err
	}
	if r.haproxy, err = startHAProxy(ctx, haproxyBin, dir, hp, log); err != nil {
		return nil, err
	}
	defer func() {
		r.haproxy.stop()
		if msg := r.haproxy.stderr.String(); msg != "" {
			log.Info("haproxy's output", "output", msg)
		}
	}()

	urls := map[string]string{
		LBDirect: "http://" + r.backends[0] + "/", LBBerthTCP: "http://" + tcpAddr + "/", LBBerthHTTP: "http://" + httpAddr + "/",
		LBHAProxyTCP: "http://" + hp.TCPAddr + "/", LBHAProxyHTTP: "http://" + hp.HTTPAddr + "/",
	}
	for _, name := range lbTargetNames {
		r.targets = append(r.targets, LBTarget{Name: name, URL: urls[name]})
	}
	if err := r.check(ctx); err != nil {
		return nil, err
	}
	if res.OtherCPUPct, err = r.measure(ctx); err != nil {
		return nil, err
	}
	res.Targets = r.targets
	res.summarize()
	return res, nil
}

// freeAddr is a free loopback address (host:port).
func freeAddr() (string, error) {
	port, err := freePort()
	if err != nil {
		return "", err
	}
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), nil
}

// startWebApps runs the examples/webapp executable lbBackends times.
func (r *lbRun) startWebApps(ctx context.Context) error {
	for i := range lbBackends {
		addr, err := freeAddr()
		if err != nil {
			return err
		}
		_, port, _ := net.SplitHostPort(addr)
		name := fmt.Sprintf("webapp-%d", i+1)
		cmd := exec.Command(r.cfg.WebApp)
		cmd.Env = append(os.Environ(), "PORT="+port, "POD_NAME="+name)
		p, err := startChild(name, cmd)
		if err != nil {
			return err
		}
		r.procs = append(r.procs, p)
		// The web app listens on all addresses; the benchmark uses
		// loopback only.
		if err := p.waitAccepting(ctx, 10*time.Second, addr); err != nil {
			return err
		}
		r.backends = append(r.backends, addr)
	}
	r.log.Info("backends started", "webapp", r.cfg.WebApp, "addrs", r.backends)
	return nil
}

// stopBackends stops the web app processes.
func (r *lbRun) stopBackends() {
	for _, p := range r.procs {
		p.stop()
	}
}

// webAppHandler answers as examples/webapp does: "hello from NAME\n" on /
// (after ?delay=D), "ok\n" on /healthz.
func webAppHandler(name string) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		if d, err := time.ParseDuration(r.URL.Query().Get("delay")); err == nil && d > 0 {
			select {
			case <-time.After(d):
			case <-r.Context().Done():
				return
			}
		}
		fmt.Fprintf(w, "hello from %s\n", name)
	})
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, r *http.Request) { fmt.Fprintln(w, "ok") })
	return mux
}

// serveBackends serves lbBackends in-process HTTP servers on loopback
// until ctx ends; wg tracks their goroutines.
func (r *lbRun) serveBackends(ctx context.Context, wg *sync.WaitGroup) error {
	for i := range lbBackends {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return fmt.Errorf("bench: backend listener: %w", err)
		}
		srv := &http.Server{Handler: webAppHandler(fmt.Sprintf("webapp-%d", i+1)), ReadHeaderTimeout: 10 * time.Second}
		r.backends = append(r.backends, ln.Addr().String())
		wg.Add(1)
		go func() {
			defer wg.Done()
			stop := context.AfterFunc(ctx, func() { srv.Close() })
			defer stop()
			if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				r.log.Warn("backend stopped", "addr", ln.Addr(), "err", err)
			}
		}()
	}
	r.log.Info("backends serving in-process", "addrs", r.backends)
	return nil
}

// serveProxy serves Berth's proxy on two loopback listeners until ctx
// ends, as the agent serves a Service port (internal/proxy Proxier.open):
// one in TCP mode (Forwarder.ServeTCP), one in HTTP mode
// (Forwarder.ServeHTTPMode); each port has a round-robin balancer over
// the backends. wg tracks the goroutines.
func (r *lbRun) serveProxy(ctx context.Context, wg *sync.WaitGroup) (tcpAddr, httpAddr string, err error) {
	fwd := &proxy.Forwarder{Metrics: proxy.NewMetrics(), Logger: r.log}
	eps := make([]lb.Endpoint, len(r.backends))
	for i, b := range r.backends {
		eps[i] = lb.Endpoint{Addr: b, Weight: 1}
	}
	newPort := func(mode string) (*atomic.Pointer[proxy.Port], error) {
		b, err := lb.New(lb.Config{Policy: lb.RoundRobin})
		if err != nil {
			return nil, fmt.Errorf("bench: balancer: %w", err)
		}
		b.Update(eps)
		var p atomic.Pointer[proxy.Port]
		p.Store(&proxy.Port{Service: lbService + ":" + mode, Mode: mode, Balancer: b})
		return &p, nil
	}
	tcpPort, err := newPort(proxy.ModeTCP)
	if err != nil {
		return "", "", err
	}
	httpPort, err := newPort(proxy.ModeHTTP)
	if err != nil {
		return "", "", err
	}
	tcpLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", "", fmt.Errorf("bench: proxy listener: %w", err)
	}
	httpLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tcpLn.Close()
		return "", "", fmt.Errorf("bench: proxy listener: %w", err)
	}
	wg.Add(2)
	go func() {
		defer wg.Done()
		if err := fwd.ServeTCP(ctx, tcpLn, tcpPort.Load); err != nil {
			r.log.Warn("proxy TCP listener stopped", "err", err)
		}
	}()
	go func() {
		defer wg.Done()
		if err := fwd.ServeHTTPMode(ctx, httpLn, httpPort.Load); err != nil {
			r.log.Warn("proxy HTTP listener stopped", "err", err)
		}
	}()
	r.log.Info("Berth's proxy serving", "tcp", tcpLn.Addr(), "http", httpLn.Addr(), "policy", lb.RoundRobin)
	return tcpLn.Addr().String(), httpLn.Addr().String(), nil
}

// check requests every target a few times on new connections: each must
// answer 200 "hello from ...", and the proxies must reach every backend.
func (r *lbRun) check(ctx context.Context) error {
	tr := &http.Transport{DisableKeepAlives: true}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: 5 * time.Second}
	for _, t := range r.targets {
		seen := map[string]bool{}
		for range 2 * lbBackends {
			req, err := http.NewRequestWithContext(ctx, http.MethodGet, t.URL, nil)
			if err != nil {
				return fmt.Errorf("bench: check %s: %w", t.Name, err)
			}
			resp, err := client.Do(req)
			if err != nil {
				return fmt.Errorf("bench: check %s (%s): %w", t.Name, t.URL, err)
			}
			body, err := io.ReadAll(io.LimitReader(resp.Body, 1024))
			resp.Body.Close()
			if err != nil {
				return fmt.Errorf("bench: check %s (%s): %w", t.Name, t.URL, err)
			}
			name, ok := strings.CutPrefix(strings.TrimSpace(string(body)), "hello from ")
			if resp.StatusCode != http.StatusOK || !ok {
				return fmt.Errorf("bench: check %s (%s): %s %q, want 200 \"hello from ...\"", t.Name, t.URL, resp.Status, body)
			}
			seen[name] = true
		}
		want := lbBackends
		if t.Name == LBDirect {
			want = 1
		}
		if len(seen) != want {
			return fmt.Errorf("bench: check %s (%s): answered by %d backends in %d requests, want %d", t.Name, t.URL, len(seen), 2*lbBackends, want)
		}
	}
	return nil
}

// lbCPUSample is a reading of the CPU counters the runs are split by, in
// clock ticks: the machine's busy time outside interrupts, its interrupt
// time (mostly loopback networking: softirq), this process's, HAProxy's
// and the backend processes'.
type lbCPUSample struct {
	busy, irq, self, haproxy, backends uint64
	ok                                 bool
}

// cpuNow reads the counters from /proc.
func (r *lbRun) cpuNow() lbCPUSample {
	var s lbCPUSample
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return s
	}
	line, _, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(line)
	if len(f) < 9 || f[0] != "cpu" {
		return s
	}
	// user nice system idle iowait irq softirq steal
	for i, v := range f[1:9] {
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			return s
		}
		switch i {
		case 0, 1, 2, 7:
			s.busy += n
		case 5, 6:
			s.irq += n
		}
	}
	ok1, ok2 := false, false
	s.self, ok1 = procCPU(os.Getpid())
	s.haproxy, ok2 = procCPU(r.haproxy.pid())
	s.ok = ok1 && ok2
	for _, p := range r.procs {
		n, ok := procCPU(p.pid())
		s.ok = s.ok && ok
		s.backends += n
	}
	return s
}

// measure runs the optional warm-up, then the rounds, filling r.targets'
// runs and CPU. It returns the CPU other processes used meanwhile, in
// percent of one CPU (-1 when unknown).
func (r *lbRun) measure(ctx context.Context) (float64, error) {
	cfg := r.cfg
	if cfg.Warmup > 0 {
		for _, t := range r.targets {
			r.log.Info("warm-up", "target", t.Name, "duration", cfg.Warmup)
			if _, err := runWrk(ctx, r.wrk, cfg.Threads, cfg.Connections, cfg.Warmup, t.URL); err != nil {
				return -1, fmt.Errorf("warm-up: %w", err)
			}
		}
	}
	var otherTicks, wallS float64
	known := true
	n := len(r.targets)
	for rd := range cfg.Rounds {
		// Rotate the order so that no target always follows the same one.
		for k := range n {
			t := &r.targets[(rd+k)%n]
			c0 := r.cpuNow()
			start := time.Now()
			run, err := runWrk(ctx, r.wrk, cfg.Threads, cfg.Connections, cfg.Duration, t.URL)
			if err != nil {
				return -1, fmt.Errorf("round %d: %w", rd+1, err)
			}
			secs := time.Since(start).Seconds()
			c1 := r.cpuNow()
			t.Runs = append(t.Runs, LBRun{RPS: round(run.RPS, 1), P50Ms: round(run.P50Ms, 3), P99Ms: round(run.P99Ms, 3)})
			t.Requests += run.Requests
			t.SocketErrors += run.SocketErrors
			t.Non2xx += run.Non2xx
			wrkTicks := run.cpu.Seconds() * clockTicks
			if c0.ok && c1.ok {
				per := float64(cfg.Rounds) * secs * clockTicks
				t.CPU.Wrk += wrkTicks / per
				t.CPU.Bench += float64(c1.self-c0.self) / per
				t.CPU.HAProxy += float64(c1.haproxy-c0.haproxy) / per
				t.CPU.Backends += float64(c1.backends-c0.backends) / per
				t.CPU.Interrupts += float64(c1.irq-c0.irq) / per
				own := float64(c1.self-c0.self) + float64(c1.haproxy-c0.haproxy) + float64(c1.backends-c0.backends) + wrkTicks
				otherTicks += max(0, float64(c1.busy-c0.busy)-own)
				wallS += secs
			} else {
				known = false
			}
			if run.Requests == 0 {
				return -1, fmt.Errorf("bench: round %d: %s (%s) completed no request in %v", rd+1, t.Name, t.URL, cfg.Duration)
			}
			if run.Non2xx > 0 {
				return -1, fmt.Errorf("bench: round %d: %s (%s) answered %d of %d requests with a status other than 2xx/3xx", rd+1, t.Name, t.URL, run.Non2xx, run.Requests)
			}
			if run.SocketErrors > 0 {
				r.log.Warn("wrk saw socket errors", "target", t.Name, "socketErrors", run.SocketErrors)
			}
			r.log.Info("measured", "round", rd+1, "target", t.Name, "rps", run.RPS, "p50ms", run.P50Ms, "p99ms", run.P99Ms)
		}
	}
	for i := range r.targets {
		t := &r.targets[i]
		t.CPU = LBCPU{Wrk: round(t.CPU.Wrk, 2), Bench: round(t.CPU.Bench, 2), HAProxy: round(t.CPU.HAProxy, 2), Backends: round(t.CPU.Backends, 2),
			Interrupts: round(t.CPU.Interrupts, 2)}
	}
	if !known || wallS <= 0 {
		return -1, nil
	}
	other := round(otherTicks/clockTicks/wallS*100, 1)
	if other > noisyCPUPct {
		r.log.Warn("other processes used CPU during the measurements; the figures are disturbed", "otherCPUPercentOfOneCPU", other)
	}
	return other, nil
}
