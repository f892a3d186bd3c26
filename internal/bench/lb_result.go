package bench

import (
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
)

// The targets of `berth bench lb`, in the order of the table and plot.
const (
	LBDirect      = "direct"
	LBBerthTCP    = "berth-tcp"
	LBBerthHTTP   = "berth-http"
	LBHAProxyTCP  = "haproxy-tcp"
	LBHAProxyHTTP = "haproxy-http"
)

// lbTargetNames lists the targets in order.
var lbTargetNames = []string{LBDirect, LBBerthTCP, LBBerthHTTP, LBHAProxyTCP, LBHAProxyHTTP}

// DefaultLBGoals are the goals of issue 7 for the service proxy.
var DefaultLBGoals = LBGoals{MinRPSRatio: 0.8, MaxP99Ratio: 1.2, MaxAddedP99Ms: 1}

// LBGoals are the goals Berth's proxy is measured against, per mode.
type LBGoals struct {
	// MinRPSRatio bounds requests/s of Berth's proxy over HAProxy's from
	// below.
	MinRPSRatio float64 `json:"min_rps_ratio"`
	// MaxP99Ratio bounds p99 of Berth's proxy over HAProxy's from above.
	MaxP99Ratio float64 `json:"max_p99_ratio"`
	// MaxAddedP99Ms bounds p99 through Berth's proxy minus p99 direct.
	MaxAddedP99Ms float64 `json:"max_added_p99_ms"`
}

// LBResult holds the figures of one `berth bench lb` run. Its JSON form is
// the last output line.
type LBResult struct {
	// Bench is always "lb".
	Bench string `json:"bench"`
	// Backends says what served the requests: "examples/webapp processes"
	// or "in-process HTTP servers" (answering as examples/webapp does).
	Backends string `json:"backends"`
	// BackendProcesses says whether the backends were processes of their
	// own (examples/webapp) rather than servers in this process.
	BackendProcesses bool `json:"backend_processes"`
	// BackendCount is how many backends the proxies balance over.
	BackendCount int `json:"backend_count"`
	// Policy is the balancing policy of both proxies.
	Policy string `json:"policy"`
	// Connections, Threads and DurationS are wrk's -c, -t and -d.
	Connections int     `json:"connections"`
	Threads     int     `json:"threads"`
	DurationS   float64 `json:"duration_s"`
	// Rounds is how many times every target was measured.
	Rounds int `json:"rounds"`
	// WarmupS is the unrecorded run per target before the first round.
	WarmupS float64 `json:"warmup_s"`
	// GoMaxProcs is GOMAXPROCS of this process (Berth's proxy).
	GoMaxProcs int `json:"gomaxprocs"`
	// HAProxyThreads is HAProxy's nbthread.
	HAProxyThreads int `json:"haproxy_threads"`
	// HAProxyVersion and WrkVersion are the first lines the tools print
	// for their version.
	HAProxyVersion string `json:"haproxy_version"`
	WrkVersion     string `json:"wrk_version"`
	// Targets are the figures per target, in the order direct, berth-tcp,
	// berth-http, haproxy-tcp, haproxy-http.
	Targets []LBTarget `json:"targets"`
	// TCP compares berth-tcp with haproxy-tcp, HTTP berth-http with
	// haproxy-http.
	TCP  LBComparison `json:"tcp"`
	HTTP LBComparison `json:"http"`
	// Goals are the goals; GoalsMet says per goal whether it was met
	// ("tcp_rps_ratio", "tcp_p99_ratio", "tcp_added_p99_ms" and the same
	// with "http_").
	Goals    LBGoals         `json:"goals"`
	GoalsMet map[string]bool `json:"goals_met"`
	// OtherCPUPct is the CPU time processes other than wrk, this process,
	// HAProxy and the backend processes used while wrk ran (interrupt time
	// not counted: see LBCPU.Interrupts), in percent of one CPU (-1 when
	// unknown).
	OtherCPUPct float64 `json:"other_cpu_pct"`
	// Machine describes where the benchmark ran.
	Machine Machine `json:"machine"`
}

// LBTarget holds the figures of one target: medians over the rounds
// (the lower middle one for an even count).
type LBTarget struct {
	// Name is one of direct, berth-tcp, berth-http, haproxy-tcp,
	// haproxy-http.
	Name string `json:"name"`
	// URL is what wrk requested.
	URL string `json:"url"`
	// RPS is requests per second; P50Ms and P99Ms the latency percentiles
	// in milliseconds, as wrk reports them.
	RPS   float64 `json:"rps"`
	P50Ms float64 `json:"p50_ms"`
	P99Ms float64 `json:"p99_ms"`
	// Requests, SocketErrors and Non2xx are totals over the rounds.
	Requests     int64 `json:"requests"`
	SocketErrors int64 `json:"socket_errors"`
	Non2xx       int64 `json:"non_2xx"`
	// CPU is the CPU used while wrk ran against the target, in cores
	// (CPU seconds per second), averaged over the rounds.
	CPU LBCPU `json:"cpu_cores"`
	// ProxyCPUUsPerRequest is the CPU time the proxy (this process for
	// Berth's targets, haproxy for HAProxy's) used per request, in
	// microseconds; only with backend processes (in-process backends share
	// this process's CPU time), else 0.
	ProxyCPUUsPerRequest float64 `json:"proxy_cpu_us_per_request,omitempty"`
	// Runs are the figures of each round, in order.
	Runs []LBRun `json:"runs"`
}

// LBRun is one wrk run.
type LBRun struct {
	RPS   float64 `json:"rps"`
	P50Ms float64 `json:"p50_ms"`
	P99Ms float64 `json:"p99_ms"`
}

// LBCPU splits the CPU used during a run between the processes sharing
// the machine, in cores.
type LBCPU struct {
	// Wrk is the load generator.
	Wrk float64 `json:"wrk"`
	// Bench is this process: Berth's proxy, and the backends when they
	// run in-process.
	Bench float64 `json:"bench"`
	// HAProxy is the haproxy process (idle but for the haproxy targets).
	HAProxy float64 `json:"haproxy"`
	// Backends are the examples/webapp processes (0 when in-process).
	Backends float64 `json:"backends"`
	// Interrupts is the machine's interrupt time (irq and softirq in
	// /proc/stat: mostly the kernel's loopback networking), which no
	// process is charged with.
	Interrupts float64 `json:"interrupts"`
}

// LBComparison compares Berth's proxy with HAProxy in one mode.
type LBComparison struct {
	// RPSRatio is requests/s of Berth over HAProxy's.
	RPSRatio float64 `json:"rps_ratio"`
	// P99Ratio is p99 of Berth over HAProxy's.
	P99Ratio float64 `json:"p99_ratio"`
	// AddedP99Ms is p99 through Berth minus p99 direct.
	AddedP99Ms float64 `json:"added_p99_ms"`
	// HAProxyAddedP99Ms is p99 through HAProxy minus p99 direct.
	HAProxyAddedP99Ms float64 `json:"haproxy_added_p99_ms"`
}

// target returns the target named name, or nil.
func (r *LBResult) target(name string) *LBTarget {
	for i := range r.Targets {
		if r.Targets[i].Name == name {
			return &r.Targets[i]
		}
	}
	return nil
}

// summarize fills the medians of every target, the comparisons and the
// verdicts.
func (r *LBResult) summarize() {
	for i := range r.Targets {
		t := &r.Targets[i]
		med := func(f func(LBRun) float64) float64 {
			v := make([]float64, len(t.Runs))
			for j, run := range t.Runs {
				v[j] = f(run)
			}
			slices.Sort(v)
			return Median(v)
		}
		t.RPS = round(med(func(x LBRun) float64 { return x.RPS }), 1)
		t.P50Ms = round(med(func(x LBRun) float64 { return x.P50Ms }), 3)
		t.P99Ms = round(med(func(x LBRun) float64 { return x.P99Ms }), 3)
	}
	for i := range r.Targets {
		t := &r.Targets[i]
		t.ProxyCPUUsPerRequest = 0
		if r.BackendProcesses && t.RPS > 0 {
			switch t.Name {
			case LBBerthTCP, LBBerthHTTP:
				t.ProxyCPUUsPerRequest = round(t.CPU.Bench/t.RPS*1e6, 1)
			case LBHAProxyTCP, LBHAProxyHTTP:
				t.ProxyCPUUsPerRequest = round(t.CPU.HAProxy/t.RPS*1e6, 1)
			}
		}
	}
	r.GoalsMet = map[string]bool{}
	direct := r.target(LBDirect)
	for _, m := range []struct {
		mode         string
		cmp          *LBComparison
		berth, haprx string
	}{{"tcp", &r.TCP, LBBerthTCP, LBHAProxyTCP}, {"http", &r.HTTP, LBBerthHTTP, LBHAProxyHTTP}} {
		b, h := r.target(m.berth), r.target(m.haprx)
		if b == nil || h == nil || direct == nil || h.RPS <= 0 || h.P99Ms <= 0 {
			continue
		}
		*m.cmp = LBComparison{
			RPSRatio:          round(b.RPS/h.RPS, 3),
			P99Ratio:          round(b.P99Ms/h.P99Ms, 3),
			AddedP99Ms:        round(b.P99Ms-direct.P99Ms, 3),
			HAProxyAddedP99Ms: round(h.P99Ms-direct.P99Ms, 3),
		}
		r.GoalsMet[m.mode+"_rps_ratio"] = m.cmp.RPSRatio >= r.Goals.MinRPSRatio
		r.GoalsMet[m.mode+"_p99_ratio"] = m.cmp.P99Ratio <= r.Goals.MaxP99Ratio
		r.GoalsMet[m.mode+"_added_p99_ms"] = m.cmp.AddedP99Ms <= r.Goals.MaxAddedP99Ms
	}
}

// writeTable prints the human-readable summary.
func (r *LBResult) writeTable(w io.Writer) {
	writeMachine(w, "lb", r.Machine, fmt.Sprintf("Berth's proxy in-process (GOMAXPROCS %d), %s (nbthread %d)", r.GoMaxProcs, r.HAProxyVersion, r.HAProxyThreads))
	fmt.Fprintf(w, "load: %s, -t%d -c%d -d%gs --latency per target and round, %d rounds (targets interleaved), %gs warm-up per target\n",
		r.WrkVersion, r.Threads, r.Connections, r.DurationS, r.Rounds, r.WarmupS)
	fmt.Fprintf(w, "backends: %d %s on loopback, %s; direct = wrk to the first backend\n", r.BackendCount, r.Backends, r.Policy)
	fmt.Fprintf(w, "CPU: wrk, the proxy under test and the backends share this machine's %d CPUs (figures per target in cores); other processes %.1f%% of one CPU",
		r.Machine.CPUs, r.OtherCPUPct)
	if r.OtherCPUPct > noisyCPUPct {
		fmt.Fprint(w, " (DISTURBED: figures are pessimistic)")
	}
	fmt.Fprint(w, "\n\n")
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "target\trequests/s\tp50 ms\tp99 ms\terrors\tCPU wrk\tbench\thaproxy\tbackends\tirq\tproxy CPU/request\t")
	for _, t := range r.Targets {
		perReq := "-"
		if t.ProxyCPUUsPerRequest > 0 {
			perReq = fmt.Sprintf("%.1f µs", t.ProxyCPUUsPerRequest)
		}
		fmt.Fprintf(tw, "%s\t%.0f\t%.3f\t%.3f\t%d\t%.2f\t%.2f\t%.2f\t%.2f\t%.2f\t%s\t\n", t.Name, t.RPS, t.P50Ms, t.P99Ms, t.SocketErrors+t.Non2xx,
			t.CPU.Wrk, t.CPU.Bench, t.CPU.HAProxy, t.CPU.Backends, t.CPU.Interrupts, perReq)
	}
	tw.Flush()
	fmt.Fprintln(w, "(medians over the rounds; errors = socket errors + non-2xx responses, summed; CPU in cores, mean over the rounds;")
	fmt.Fprintln(w, " bench = this process: Berth's proxy, and the backends when in-process; irq = interrupts, mostly loopback networking)")
	fmt.Fprintln(w, "\ngoals (Berth's proxy vs HAProxy, same mode):")
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	g := r.Goals
	for _, m := range []struct {
		mode string
		c    LBComparison
	}{{"tcp", r.TCP}, {"http", r.HTTP}} {
		if _, ok := r.GoalsMet[m.mode+"_rps_ratio"]; !ok {
			continue
		}
		up := strings.ToUpper(m.mode)
		fmt.Fprintf(tw, "  %s requests/s vs HAProxy\t%.2f×\t≥ %.2f×\t%s\n", up, m.c.RPSRatio, g.MinRPSRatio, verdict(r.GoalsMet[m.mode+"_rps_ratio"]))
		fmt.Fprintf(tw, "  %s p99 vs HAProxy\t%.2f×\t≤ %.2f×\t%s\n", up, m.c.P99Ratio, g.MaxP99Ratio, verdict(r.GoalsMet[m.mode+"_p99_ratio"]))
		fmt.Fprintf(tw, "  %s p99 added to direct\t%+.3f ms\t≤ %g ms\t%s (HAProxy adds %+.3f ms)\n", up, m.c.AddedP99Ms, g.MaxAddedP99Ms,
			verdict(r.GoalsMet[m.mode+"_added_p99_ms"]), m.c.HAProxyAddedP99Ms)
	}
	tw.Flush()
}
