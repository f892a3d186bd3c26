package bench

import (
	"fmt"
	"io"
	"slices"
	"text/tabwriter"
	"time"
)

// SchedulerResult holds the figures of one `berth bench scheduler` run.
// Its JSON form is the last output line. Times are measured by the
// benchmark's clock: a pod's create starts just before its create call,
// and it is bound when the benchmark's watch first delivers it with
// spec.nodeName set.
type SchedulerResult struct {
	// Bench is always "scheduler".
	Bench string `json:"bench"`
	// Nodes and Pods repeat the configuration: fake nodes registered and
	// pods created.
	Nodes int `json:"nodes"`
	Pods  int `json:"pods"`
	// Clients is the number of goroutines that created the pods.
	Clients int `json:"clients"`
	// StartToReadyMs is the time from spawning `berth server` to /readyz 200.
	StartToReadyMs float64 `json:"start_to_ready_ms"`
	// RegisterNodesS is the wall time of registering the fake nodes.
	RegisterNodesS float64 `json:"register_nodes_s"`
	// CreateS is the wall time of creating every pod.
	CreateS float64 `json:"create_s"`
	// CreatePodsPerSecond is Pods / CreateS: the create rate achieved.
	CreatePodsPerSecond float64 `json:"create_pods_per_second"`
	// AllBoundS is the time from the first create start to the last bind.
	AllBoundS float64 `json:"all_bound_s"`
	// PodsPerSecond is Pods / AllBoundS, the figure compared with the
	// target.
	PodsPerSecond float64 `json:"pods_per_second"`
	// ThroughputMedianPodsPerSecond and ThroughputMaxPodsPerSecond
	// summarise the binds per second sampled every second, as Kubernetes'
	// scheduler_perf samples SchedulingThroughput (see
	// throughputSamples); 0 when the run was too short for a sample.
	ThroughputMedianPodsPerSecond float64 `json:"throughput_median_pods_per_second"`
	ThroughputMaxPodsPerSecond    float64 `json:"throughput_max_pods_per_second"`
	// ThroughputSamples is the number of 1 s samples.
	ThroughputSamples int `json:"throughput_samples"`
	// P50Ms, P90Ms and P99Ms are percentiles of the create-to-bound
	// latency of the pods: first seen bound − create start, in ms.
	P50Ms float64 `json:"p50_ms"`
	P90Ms float64 `json:"p90_ms"`
	P99Ms float64 `json:"p99_ms"`
	// NodesUsed is how many nodes hold at least one benchmark pod.
	NodesUsed int `json:"nodes_used"`
	// MaxPodsPerNode is the most benchmark pods bound to one node.
	MaxPodsPerNode int `json:"max_pods_per_node"`
	// RSSMB is the server's VmRSS in MiB with every pod bound.
	RSSMB float64 `json:"rss_mb"`
	// PeakRSSMB is the server's VmHWM (peak RSS) in MiB at the same time.
	PeakRSSMB float64 `json:"peak_rss_mb"`
	// OtherCPUPct is the CPU other processes used from the first create
	// until every pod was bound, in percent of one CPU (-1 when unknown).
	OtherCPUPct float64 `json:"other_cpu_pct"`
	// CPUSeconds splits the CPU time of the same window between the
	// benchmark (client) and the server (API server, etcd, scheduler,
	// controllers).
	CPUSeconds CPUSeconds `json:"cpu_seconds"`
	// TargetPodsPerSecond is the goal for PodsPerSecond.
	TargetPodsPerSecond float64 `json:"target_pods_per_second"`
	// Met says whether PodsPerSecond reached TargetPodsPerSecond.
	Met bool `json:"met"`
	// Machine describes where the benchmark ran.
	Machine Machine `json:"machine"`

	// CreatedAt and BoundAt are, sorted, the seconds since the first
	// create start at which each create call returned and each pod was
	// first seen bound; for the plot, not in the JSON.
	CreatedAt []float64 `json:"-"`
	BoundAt   []float64 `json:"-"`
}

// setTimings fills the timing fields from the per-pod times: create start
// (sent), create returned (created) and first seen bound (bound), all of
// len(r.Pods) and non-zero.
func (r *SchedulerResult) setTimings(sent, created, bound []time.Time) {
	if len(sent) == 0 {
		return
	}
	t0 := slices.MinFunc(sent, func(a, b time.Time) int { return a.Compare(b) })
	since := func(ts []time.Time) []float64 {
		out := make([]float64, len(ts))
		for i, t := range ts {
			out[i] = t.Sub(t0).Seconds()
		}
		slices.Sort(out)
		return out
	}
	r.CreatedAt, r.BoundAt = since(created), since(bound)
	lat := make([]time.Duration, len(sent))
	for i := range sent {
		lat[i] = bound[i].Sub(sent[i])
	}
	ms := SortedMillis(lat)
	r.P50Ms, r.P90Ms, r.P99Ms = round(Percentile(ms, 50), 3), round(Percentile(ms, 90), 3), round(Percentile(ms, 99), 3)
	r.AllBoundS = round(r.BoundAt[len(r.BoundAt)-1], 3)
	samples := throughputSamples(r.BoundAt)
	r.ThroughputSamples = len(samples)
	if len(samples) > 0 {
		slices.Sort(samples)
		r.ThroughputMedianPodsPerSecond = round(Median(samples), 1)
		r.ThroughputMaxPodsPerSecond = round(samples[len(samples)-1], 1)
	}
}

// throughputSamples turns the sorted bind times (seconds since the first
// create) into binds-per-second samples the way Kubernetes' scheduler_perf
// samples SchedulingThroughput: a tick every second from the first create;
// ticks before the first bind are ignored and the first tick with a bind
// only starts the sampling; a tick with no new bind is merged into the
// next one with binds, which then counts once per merged tick (so the
// percentiles stay time-weighted); the interval after the last tick is
// not sampled. A run of less than about two seconds has no sample.
func throughputSamples(boundAt []float64) []float64 {
	if len(boundAt) == 0 {
		return nil
	}
	var samples []float64
	started := false
	last, lastTick, skipped, j := 0, 0.0, 0, 0
	for k := 1; float64(k) <= boundAt[len(boundAt)-1]; k++ {
		tick := float64(k)
		for j < len(boundAt) && boundAt[j] <= tick {
			j++
		}
		switch {
		case j == 0:
			continue
		case !started:
			started, last, lastTick = true, j, tick
			continue
		case j == last:
			skipped++
			continue
		}
		rate := float64(j-last) / (tick - lastTick)
		for range skipped + 1 {
			samples = append(samples, rate)
		}
		last, lastTick, skipped = j, tick, 0
	}
	return samples
}

// bindsPerSecond counts the binds in each 1 s window [k, k+1) since the
// first create, up to the window of the last bind.
func bindsPerSecond(boundAt []float64) []int {
	if len(boundAt) == 0 {
		return nil
	}
	out := make([]int, int(boundAt[len(boundAt)-1])+1)
	for _, s := range boundAt {
		out[max(0, int(s))]++
	}
	return out
}

// summarize fills the rates and the verdict.
func (r *SchedulerResult) summarize() {
	r.CreatePodsPerSecond = round(perSecond(r.Pods, r.CreateS), 1)
	r.PodsPerSecond = round(perSecond(r.Pods, r.AllBoundS), 1)
	r.Met = r.PodsPerSecond > 0 && r.PodsPerSecond >= r.TargetPodsPerSecond
}

// writeTable prints the human-readable summary.
func (r *SchedulerResult) writeTable(w io.Writer) {
	writeMachine(w, "scheduler", r.Machine, "spawned")
	fmt.Fprintf(w, "load: %d pods (cpu 100m, memory 500Mi) created by %d clients; %d fake nodes (32 CPUs, 128 GiB, %d pods each)\n",
		r.Pods, r.Clients, r.Nodes, schedulerNodeMaxPods)
	writeCPU(w, "from first create to all bound", r.CPUSeconds, r.OtherCPUPct)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "  start → ready\t%.0f ms\n", r.StartToReadyMs)
	fmt.Fprintf(tw, "  register %d nodes\t%.2f s\n", r.Nodes, r.RegisterNodesS)
	fmt.Fprintf(tw, "  create %d pods\t%.2f s\t%.0f pods/s\n", r.Pods, r.CreateS, r.CreatePodsPerSecond)
	fmt.Fprintf(tw, "  all pods bound (first create → last bind)\t%.2f s\t%.0f pods/s\n", r.AllBoundS, r.PodsPerSecond)
	if r.ThroughputSamples > 0 {
		fmt.Fprintf(tw, "  binds per second, %d samples of 1 s\tmedian %.0f, max %.0f pods/s\n", r.ThroughputSamples, r.ThroughputMedianPodsPerSecond, r.ThroughputMaxPodsPerSecond)
	} else {
		fmt.Fprintf(tw, "  binds per second, sampled every 1 s\tno sample: the run was too short\n")
	}
	fmt.Fprintf(tw, "  create → bound latency p50 / p90 / p99\t%.1f / %.1f / %.1f ms\n", r.P50Ms, r.P90Ms, r.P99Ms)
	fmt.Fprintf(tw, "  placement checked by LIST: nodes used, most pods on one\t%d, %d; none overcommitted\n", r.NodesUsed, r.MaxPodsPerNode)
	fmt.Fprintf(tw, "  server RSS with all pods / peak\t%.1f / %.1f MiB\n", r.RSSMB, r.PeakRSSMB)
	tw.Flush()
	fmt.Fprintln(w, "\ntarget:")
	fmt.Fprintf(tw, "  pods bound per second\t%.0f/s\t≥ %.0f/s\t%s\n", r.PodsPerSecond, r.TargetPodsPerSecond, verdict(r.Met))
	tw.Flush()
}
