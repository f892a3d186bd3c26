package bench

import (
	"fmt"
	"io"
	"slices"
	"text/tabwriter"
	"time"
)

// PodsResult holds the figures of one `berth bench pods` run. Its JSON
// form is the last output line. Times are measured by the benchmark's
// clock: a pod's create starts just before its create call, and it is
// Ready when the benchmark's watch first delivers it with condition
// Ready=True.
type PodsResult struct {
	// Bench is always "pods".
	Bench string `json:"bench"`
	// Pods repeats the configuration: pods created.
	Pods int `json:"pods"`
	// Clients is the number of goroutines that created (and deleted) the
	// pods.
	Clients int `json:"clients"`
	// RatePerS repeats the configuration: pods created per second (0: all
	// at once).
	RatePerS float64 `json:"rate_per_s"`
	// Driver is the agent's runtime driver (process or docker).
	Driver string `json:"driver"`
	// StartToReadyMs is the time from spawning `berth server` to /readyz 200.
	StartToReadyMs float64 `json:"start_to_ready_ms"`
	// AgentReadyMs is the time from spawning `berth agent` until its Node
	// is Ready (with a podCIDR when the agent runs as root) and its Lease
	// exists, which the agent creates once it serves pods.
	AgentReadyMs float64 `json:"agent_ready_ms"`
	// P50Ms, P90Ms, P99Ms and MaxMs are percentiles and the maximum of
	// the pods' create → Ready latency: first seen Ready − create start,
	// in ms.
	P50Ms float64 `json:"p50_ms"`
	P90Ms float64 `json:"p90_ms"`
	P99Ms float64 `json:"p99_ms"`
	MaxMs float64 `json:"max_ms"`
	// AllReadyS is the time from the first create start until the last
	// pod was seen Ready.
	AllReadyS float64 `json:"all_ready_s"`
	// DeleteAllS is the time from the first delete call until every pod
	// was seen deleted and no process of the benchmark's pods was left.
	DeleteAllS float64 `json:"delete_all_s"`
	// AgentIdleRSSMB is the agent's VmRSS in MiB after idling once its
	// node was ready; AgentIdleRSSAnonMB and AgentIdleRSSFileMB split it
	// into anonymous memory (RssAnon: heap, stacks) and file-backed pages
	// (RssFile: mostly the mapped executable).
	AgentIdleRSSMB     float64 `json:"agent_idle_rss_mb"`
	AgentIdleRSSAnonMB float64 `json:"agent_idle_rss_anon_mb"`
	AgentIdleRSSFileMB float64 `json:"agent_idle_rss_file_mb"`
	// AgentRSSWithPodsMB is the agent's VmRSS in MiB with every pod Ready.
	AgentRSSWithPodsMB float64 `json:"agent_rss_with_pods_mb"`
	// TargetP99Ms is the goal for P99Ms.
	TargetP99Ms float64 `json:"target_p99_ms"`
	// TargetAgentRSSMB is the goal for AgentIdleRSSMB.
	TargetAgentRSSMB float64 `json:"target_agent_rss_mb"`
	// Met says whether P99Ms stayed within TargetP99Ms.
	Met bool `json:"met"`
	// RSSMet says whether AgentIdleRSSMB stayed within TargetAgentRSSMB.
	RSSMet bool `json:"rss_met"`
	// Root says whether every pod had a network namespace of its own (an
	// IP other than its node's), as the agent gives them when it runs as
	// root with the CNI plugins; otherwise pods shared the host network.
	Root bool `json:"root"`
	// HostNetworkReason is why the agent ran pods in the host network, as
	// its node's Ready condition says; absent when it did not.
	HostNetworkReason string `json:"host_network_reason,omitempty"`
	// LeftoverProcesses counts processes of the benchmark's pods still
	// alive after the pods were deleted and the agent stopped; they are
	// killed, and any is a bug of the agent.
	LeftoverProcesses int `json:"leftover_processes"`
	// OtherCPUPct is the CPU processes other than the benchmark, the
	// server and the agent (with the children it waited for) used from the
	// first create until every pod was gone, in percent of one CPU (-1
	// when unknown).
	OtherCPUPct float64 `json:"other_cpu_pct"`
	// CPUSeconds splits the CPU time of the same window between the
	// benchmark (client), the server and the agent.
	CPUSeconds PodsCPUSeconds `json:"cpu_seconds"`
	// ReadyCPUSeconds and ReadyOtherCPUPct are CPUSeconds and OtherCPUPct
	// of the start-up alone: from the first create until every pod was
	// seen Ready.
	ReadyCPUSeconds  PodsCPUSeconds `json:"ready_cpu_seconds"`
	ReadyOtherCPUPct float64        `json:"ready_other_cpu_pct"`
	// Machine describes where the benchmark ran.
	Machine Machine `json:"machine"`

	// LatenciesMs are the create → Ready latencies in ms, sorted; for the
	// plot, not in the JSON.
	LatenciesMs []float64 `json:"-"`
}

// PodsCPUSeconds is the CPU time used during the pods benchmark's load.
type PodsCPUSeconds struct {
	CPUSeconds
	// Agent is the agent process and the children it waited for: the CNI
	// plugins it ran and the containers' processes.
	Agent float64 `json:"agent"`
}

// setLatencies fills the latency fields from the per-pod create starts
// (sent) and first-seen-Ready times (ready), both of len(r.Pods) and
// non-zero.
func (r *PodsResult) setLatencies(sent, ready []time.Time) {
	if len(sent) == 0 {
		return
	}
	lat := make([]time.Duration, len(sent))
	for i := range sent {
		lat[i] = ready[i].Sub(sent[i])
	}
	r.LatenciesMs = SortedMillis(lat)
	ms := r.LatenciesMs
	r.P50Ms, r.P90Ms, r.P99Ms = round(Percentile(ms, 50), 3), round(Percentile(ms, 90), 3), round(Percentile(ms, 99), 3)
	r.MaxMs = round(ms[len(ms)-1], 3)
	first := slices.MinFunc(sent, func(a, b time.Time) int { return a.Compare(b) })
	last := slices.MaxFunc(ready, func(a, b time.Time) int { return a.Compare(b) })
	r.AllReadyS = round(last.Sub(first).Seconds(), 3)
}

// perPodMs is secs spread over pods, in ms.
func perPodMs(secs float64, pods int) float64 {
	if pods <= 0 {
		return 0
	}
	return secs * 1000 / float64(pods)
}

// summarize fills the verdicts.
func (r *PodsResult) summarize() {
	r.Met = r.P99Ms > 0 && r.P99Ms <= r.TargetP99Ms
	r.RSSMet = r.AgentIdleRSSMB > 0 && r.AgentIdleRSSMB <= r.TargetAgentRSSMB
}

// writeTable prints the human-readable summary.
func (r *PodsResult) writeTable(w io.Writer) {
	writeMachine(w, "pods", r.Machine, "spawned, with one spawned agent ("+driverOr(r.Driver)+" driver)")
	network := "each in a network namespace of its own"
	if !r.Root {
		network = "in the host network"
		if r.HostNetworkReason != "" {
			network += " (" + r.HostNetworkReason + ")"
		}
	}
	what := "/bin/sleep 3600"
	if r.Driver == "docker" {
		what = "a local image's entrypoint (pull policy IfNotPresent)"
	}
	pace := "all at once"
	if r.RatePerS > 0 {
		pace = fmt.Sprintf("at %g/s", r.RatePerS)
	}
	fmt.Fprintf(w, "load: %d bare pods running %s (cpu 1m, memory 1Mi), created %s by %d clients, %s\n", r.Pods, what, pace, r.Clients, network)
	writeCPU(w, "from first create to all deleted", r.CPUSeconds.CPUSeconds, r.OtherCPUPct)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "  server start → ready\t%.0f ms\n", r.StartToReadyMs)
	fmt.Fprintf(tw, "  agent spawn → node Ready\t%.0f ms\n", r.AgentReadyMs)
	fmt.Fprintf(tw, "  agent RSS idle\t%.1f MiB\t(anon %.1f, file %.1f)\n", r.AgentIdleRSSMB, r.AgentIdleRSSAnonMB, r.AgentIdleRSSFileMB)
	fmt.Fprintf(tw, "  agent RSS with %d pods\t%.1f MiB\n", r.Pods, r.AgentRSSWithPodsMB)
	fmt.Fprintf(tw, "  agent CPU (with the CNI plugins and containers)\t%.1f s\t(%.1f s until all Ready: %.1f ms per pod; server %.1f s; other processes %.1f%% of one CPU)\n",
		r.CPUSeconds.Agent, r.ReadyCPUSeconds.Agent, perPodMs(r.ReadyCPUSeconds.Agent, r.Pods), r.ReadyCPUSeconds.Server, r.ReadyOtherCPUPct)
	fmt.Fprintf(tw, "  create → Ready p50 / p90 / p99 / max\t%.1f / %.1f / %.1f / %.1f ms\n", r.P50Ms, r.P90Ms, r.P99Ms, r.MaxMs)
	fmt.Fprintf(tw, "  all Ready (first create → last Ready)\t%.2f s\n", r.AllReadyS)
	fmt.Fprintf(tw, "  delete all (first delete → pods and processes gone)\t%.2f s\n", r.DeleteAllS)
	leftover := "none"
	if r.LeftoverProcesses > 0 {
		leftover = fmt.Sprintf("%d (killed; a bug of the agent)", r.LeftoverProcesses)
	}
	fmt.Fprintf(tw, "  pod processes left after deletion and agent stop\t%s\n", leftover)
	tw.Flush()
	fmt.Fprintln(w, "\ntargets:")
	fmt.Fprintf(tw, "  create → Ready p99\t%.1f ms\t≤ %.0f ms\t%s\n", r.P99Ms, r.TargetP99Ms, verdict(r.Met))
	fmt.Fprintf(tw, "  agent idle RSS\t%.1f MiB\t≤ %.0f MiB\t%s\n", r.AgentIdleRSSMB, r.TargetAgentRSSMB, verdict(r.RSSMet))
	tw.Flush()
}
