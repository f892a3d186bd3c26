package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
)

// Real output of wrk 4.1.0 (Debian), against examples/webapp.
const (
	// wrk -t2 -c64 -d2s --latency: ms latencies, k in Req/Sec.
	wrkOutMs = `Running 2s test @ http://127.0.0.1:18081/
  2 threads and 64 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     2.91ms    6.00ms  53.90ms   92.23%
    Req/Sec    25.75k    10.77k   41.85k    60.00%
  Latency Distribution
     50%    0.97ms
     75%    2.24ms
     90%    6.17ms
     99%   31.96ms
  103432 requests in 2.05s, 12.82MB read
Requests/sec:  50402.54
Transfer/sec:      6.25MB
`
	// wrk -t1 -c1 -d1s --latency: us latencies.
	wrkOutUs = `Running 1s test @ http://127.0.0.1:18081/
  1 threads and 1 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency    70.39us  231.22us   4.26ms   98.37%
    Req/Sec    21.00k     1.74k   24.48k    63.64%
  Latency Distribution
     50%   44.00us
     75%   54.00us
     90%   70.00us
     99%    0.92ms
  22930 requests in 1.10s, 2.84MB read
Requests/sec:  20857.06
Transfer/sec:      2.59MB
`
	// wrk -t1 -c2 -d3s --latency '...?delay=1100ms': s latencies (with
	// wrk's trailing blanks).
	wrkOutS = "Running 3s test @ http://127.0.0.1:18081/?delay=1100ms\n" +
		"  1 threads and 2 connections\n" +
		"  Thread Stats   Avg      Stdev     Max   +/- Stdev\n" +
		"    Latency     1.10s    51.61us   1.10s    50.00%\n" +
		"    Req/Sec     1.00      0.00     1.00    100.00%\n" +
		"  Latency Distribution\n" +
		"     50%    1.10s \n" +
		"     75%    1.10s \n" +
		"     90%    1.10s \n" +
		"     99%    1.10s \n" +
		"  4 requests in 3.00s, 520.00B read\n" +
		"Requests/sec:      1.33\n" +
		"Transfer/sec:     173.05B\n"
	// wrk -t2 -c4 -d1s --latency .../healthz after /healthz/fail.
	wrkOutNon2xx = `Running 1s test @ http://127.0.0.1:18081/healthz
  2 threads and 4 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency   190.83us  337.46us   5.42ms   92.96%
    Req/Sec    15.94k     2.04k   19.05k    54.55%
  Latency Distribution
     50%   98.00us
     75%  173.00us
     90%  413.00us
     99%    1.56ms
  34856 requests in 1.10s, 5.88MB read
  Non-2xx or 3xx responses: 34856
Requests/sec:  31679.38
Transfer/sec:      5.35MB
`
	// wrk -t2 -c8 -d2s --latency, the web app killed during the run.
	wrkOutSocketErrors = `Running 2s test @ http://127.0.0.1:18081/
  2 threads and 8 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency   269.56us  600.13us  10.27ms   93.60%
    Req/Sec    17.30k     7.07k   26.01k    75.00%
  Latency Distribution
     50%  125.00us
     75%  184.00us
     90%  575.00us
     99%    3.15ms
  27509 requests in 2.06s, 3.41MB read
  Socket errors: connect 0, read 16, write 42370, timeout 0
Requests/sec:  13358.59
Transfer/sec:      1.66MB
`
	// Without --latency.
	wrkOutNoLatency = `Running 1s test @ http://127.0.0.1:18081/
  1 threads and 1 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency    70.39us  231.22us   4.26ms   98.37%
    Req/Sec    21.00k     1.74k   24.48k    63.64%
  22930 requests in 1.10s, 2.84MB read
Requests/sec:  20857.06
Transfer/sec:      2.59MB
`
)

func TestParseWrkOutput(t *testing.T) {
	for _, tc := range []struct {
		name, out string
		want      WrkResult
		wantErr   string
	}{
		{"ms", wrkOutMs, WrkResult{RPS: 50402.54, P50Ms: 0.97, P99Ms: 31.96, Requests: 103432}, ""},
		{"us", wrkOutUs, WrkResult{RPS: 20857.06, P50Ms: 0.044, P99Ms: 0.92, Requests: 22930}, ""},
		{"s", wrkOutS, WrkResult{RPS: 1.33, P50Ms: 1100, P99Ms: 1100, Requests: 4}, ""},
		{"non-2xx", wrkOutNon2xx, WrkResult{RPS: 31679.38, P50Ms: 0.098, P99Ms: 1.56, Requests: 34856, Non2xx: 34856}, ""},
		{"socket errors", wrkOutSocketErrors, WrkResult{RPS: 13358.59, P50Ms: 0.125, P99Ms: 3.15, Requests: 27509, SocketErrors: 42386}, ""},
		{"k suffix", "  1.50k requests in 1.00s, 1MB read\nRequests/sec: 1.50k\n  Latency Distribution\n 50% 1m\n 99% 0.5h\n",
			WrkResult{RPS: 1500, P50Ms: 60000, P99Ms: 1800000, Requests: 1500}, ""},
		{"M suffix", "Requests/sec: 1.2M\n 50% 1.00ms\n 99% 2.00ms\n", WrkResult{RPS: 1.2e6, P50Ms: 1, P99Ms: 2}, ""},
		{"no latency distribution", wrkOutNoLatency, WrkResult{}, "--latency"},
		{"empty", "", WrkResult{}, "no Requests/sec"},
		{"bad unit", "Requests/sec: 10\n 50% 1.00xs\n 99% 2ms\n", WrkResult{}, "not a number of s"},
		{"no unit", "Requests/sec: 10\n 50% 1.00\n 99% 2ms\n", WrkResult{}, "no unit"},
		{"bad number", "Requests/sec: fast\n 50% 1ms\n 99% 2ms\n", WrkResult{}, "not a number"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseWrkOutput(tc.out)
			if tc.wantErr != "" {
				checkOutcome(t, got, err, tc.want, tc.wantErr)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			// Float units conversions: compare rounded to the nanosecond.
			got.P50Ms, got.P99Ms = round(got.P50Ms, 6), round(got.P99Ms, 6)
			got.RPS = round(got.RPS, 6)
			if got != tc.want {
				t.Fatalf("got %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestWrkArgs(t *testing.T) {
	got := strings.Join(wrkArgs(2, 64, 10*time.Second, "http://127.0.0.1:1/"), " ")
	if want := "-t2 -c64 -d10s --latency http://127.0.0.1:1/"; got != want {
		t.Fatalf("wrk args %q, want %q", got, want)
	}
}

func TestHAProxyConfig(t *testing.T) {
	p := HAProxyParams{TCPAddr: "127.0.0.1:1001", HTTPAddr: "127.0.0.1:1002", Backends: []string{"127.0.0.1:2001", "127.0.0.1:2002", "127.0.0.1:2003"},
		Threads: 2, MaxConn: 4096}
	cfg := HAProxyConfig(p)
	sections := map[string]string{}
	var cur string
	for _, line := range strings.Split(cfg, "\n") {
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if !strings.HasPrefix(line, " ") {
			cur = line
			continue
		}
		sections[cur] += strings.Join(strings.Fields(line), " ") + "\n"
	}
	servers := "server b1 127.0.0.1:2001\nserver b2 127.0.0.1:2002\nserver b3 127.0.0.1:2003\n"
	for _, tc := range []struct {
		section string
		want    []string
		not     []string
	}{
		{"global", []string{"nbthread 2\n", "maxconn 4096\n"}, []string{"log"}},
		{"defaults", []string{"timeout connect 2s\n", "timeout client 1m\n", "timeout server 1m\n", "retries 2\n", "option redispatch"}, []string{"log"}},
		{"frontend berth_bench_tcp", []string{"mode tcp\n", "bind 127.0.0.1:1001\n", "default_backend berth_bench_tcp\n"}, []string{"mode http"}},
		{"backend berth_bench_tcp", []string{"mode tcp\n", "balance roundrobin\n", servers}, []string{"check"}},
		{"frontend berth_bench_http", []string{"mode http\n", "bind 127.0.0.1:1002\n", "option http-keep-alive\n", "option forwardfor\n",
			"X-Forwarded-Proto http\n", "X-Forwarded-Host %[req.hdr(host)]\n", "default_backend berth_bench_http\n"}, nil},
		{"backend berth_bench_http", []string{"mode http\n", "balance roundrobin\n", "option http-keep-alive\n", servers}, []string{"check"}},
	} {
		body, ok := sections[tc.section]
		if !ok {
			t.Fatalf("no section %q in\n%s", tc.section, cfg)
		}
		for _, w := range tc.want {
			if !strings.Contains(body, w) {
				t.Errorf("section %q lacks %q:\n%s", tc.section, w, body)
			}
		}
		for _, n := range tc.not {
			if strings.Contains(body, n) {
				t.Errorf("section %q has %q:\n%s", tc.section, n, body)
			}
		}
	}
	if len(sections) != 6 {
		t.Errorf("%d sections, want 6:\n%s", len(sections), cfg)
	}
	// haproxy itself accepts it, when installed.
	if bin, err := exec.LookPath("haproxy"); err == nil {
		file := filepath.Join(t.TempDir(), "haproxy.cfg")
		if err := os.WriteFile(file, []byte(cfg), 0o644); err != nil {
			t.Fatal(err)
		}
		if out, err := exec.Command(bin, "-c", "-f", file).CombinedOutput(); err != nil {
			t.Fatalf("haproxy -c: %v\n%s", err, out)
		}
	}
}

func TestParseLBArgs(t *testing.T) {
	checkDefaultsAndHelp(t, ParseLBArgs, DefaultLBConfig())
	for _, tc := range []struct {
		args    []string
		wantErr string
	}{
		{[]string{"--duration", "1500ms"}, "--duration"},
		{[]string{"--duration", "0s"}, "--duration"},
		{[]string{"--warmup", "-1s"}, "--warmup"},
		{[]string{"--rounds", "0"}, "--rounds"},
		{[]string{"--threads", "4", "--connections", "2"}, "--connections"},
		{[]string{"--threads", "0"}, "--threads"},
		{[]string{"--wrk", ""}, "--wrk"},
		{[]string{"extra"}, "unexpected arguments"},
		{[]string{"--duration", "2s", "--rounds", "5", "--connections", "16", "--warmup", "0s"}, ""},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			cfg, err := ParseLBArgs(tc.args, io.Discard)
			if tc.wantErr == "" {
				want := DefaultLBConfig()
				want.Duration, want.Rounds, want.Connections, want.Warmup = 2*time.Second, 5, 16, 0
				checkOutcome(t, cfg, err, want, "")
				return
			}
			checkOutcome(t, cfg, err, cfg, tc.wantErr)
		})
	}
}

// sampleLBResult is a result with made-up figures.
func sampleLBResult() *LBResult {
	run := func(rps, p50, p99 float64) []LBRun {
		return []LBRun{{rps * 1.1, p50, p99 * 2}, {rps, p50, p99}, {rps * 0.9, p50 * 3, p99 / 2}}
	}
	r := &LBResult{Bench: "lb", Connections: 64, BackendCount: 3, Rounds: 3, DurationS: 10, Backends: "in-process HTTP servers",
		Goals: DefaultLBGoals, Machine: Machine{CPUs: 2, Go: "go1.26", OS: "linux"},
		Targets: []LBTarget{
			{Name: LBDirect, Runs: run(60000, 0.8, 5)},
			{Name: LBBerthTCP, Runs: run(30000, 1.7, 6.5)},
			{Name: LBBerthHTTP, Runs: run(12000, 5, 14)},
			{Name: LBHAProxyTCP, Runs: run(28000, 1.9, 6)},
			{Name: LBHAProxyHTTP, Runs: run(29000, 1.9, 10)},
		}}
	r.summarize()
	return r
}

func TestLBSummarize(t *testing.T) {
	r := sampleLBResult()
	if d := r.target(LBDirect); d.RPS != 60000 || d.P50Ms != 0.8 || d.P99Ms != 5 {
		t.Fatalf("direct medians %+v", d)
	}
	want := map[string]bool{
		"tcp_rps_ratio": true, "tcp_p99_ratio": true, "tcp_added_p99_ms": false, // 30000/28000, 6.5/6, 6.5-5
		"http_rps_ratio": false, "http_p99_ratio": false, "http_added_p99_ms": false, // 12000/29000, 14/10, 14-5
	}
	for k, v := range want {
		if got, ok := r.GoalsMet[k]; !ok || got != v {
			t.Errorf("goal %s met = %v (present %v), want %v", k, got, ok, v)
		}
	}
	if r.TCP.AddedP99Ms != 1.5 || r.HTTP.HAProxyAddedP99Ms != 5 || r.HTTP.RPSRatio != 0.414 {
		t.Errorf("comparisons tcp %+v http %+v", r.TCP, r.HTTP)
	}
	var out bytes.Buffer
	r.writeTable(&out)
	for _, s := range []string{"berth-http", "share this machine's 2 CPUs", "NOT met", "TCP requests/s vs HAProxy"} {
		if !strings.Contains(out.String(), s) {
			t.Errorf("summary lacks %q:\n%s", s, out.String())
		}
	}
}

func TestWriteLBPlot(t *testing.T) {
	file := filepath.Join(t.TempDir(), "lb.png")
	if err := WriteLBPlot(file, sampleLBResult()); err != nil {
		t.Fatal(err)
	}
	checkPlotFile(t, file)
	if err := WriteLBPlot(file, &LBResult{}); err == nil {
		t.Fatal("plot of an empty result: want an error")
	}
}

func TestRunLBMissingTool(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  LBConfig
		want string
	}{
		{"wrk", LBConfig{Wrk: "/nonexistent/wrk"}, "install the Debian package wrk"},
		{"haproxy", LBConfig{Wrk: "/bin/true", HAProxy: "berth-no-such-haproxy"}, "install the Debian package haproxy"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.cfg.Logger = warnLogger(t)
			var out bytes.Buffer
			_, err := RunLB(context.Background(), tc.cfg, &out)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want one containing %q", err, tc.want)
			}
			if last := lastJSONLine(t, out.String()); last["bench"] != "lb" || !strings.Contains(last["error"].(string), tc.want) {
				t.Fatalf("last line %v: want the JSON error", last)
			}
		})
	}
}

// TestRunLB runs the whole benchmark briefly with in-process backends.
func TestRunLB(t *testing.T) {
	if testing.Short() {
		t.Skip("runs wrk and haproxy for about 10 s; runs without -short")
	}
	for _, tool := range []string{"wrk", "haproxy"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s is not installed (Debian package %s: apt-get install -y wrk haproxy; scripts/test.sh installs it)", tool, tool)
		}
	}
	before := runtime.NumGoroutine()
	plot := filepath.Join(t.TempDir(), "lb.png")
	cfg := LBConfig{Duration: time.Second, Rounds: 1, Connections: 16, PlotFile: plot, Logger: warnLogger(t)}
	var out bytes.Buffer
	res, err := RunLB(context.Background(), cfg, &out)
	if err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	t.Log(out.String())
	var got LBResult
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &got); err != nil {
		t.Fatalf("last line is not the JSON result: %v", err)
	}
	if len(got.Targets) != len(lbTargetNames) {
		t.Fatalf("%d targets, want %v", len(got.Targets), lbTargetNames)
	}
	for i, tg := range got.Targets {
		if tg.Name != lbTargetNames[i] || tg.RPS <= 0 || tg.P99Ms <= 0 || tg.P50Ms > tg.P99Ms || len(tg.Runs) != 1 {
			t.Errorf("target %d: %+v", i, tg)
		}
	}
	if len(got.GoalsMet) != 6 || got.Backends != "in-process HTTP servers" || res.TCP.RPSRatio <= 0 || res.HTTP.RPSRatio <= 0 {
		t.Errorf("result %+v", got)
	}
	checkPlotFile(t, plot)
	checkGoroutinesEnded(t, before, "RunLB")
}
