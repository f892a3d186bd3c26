package bench

import (
	"fmt"
	"io"
	"slices"
	"text/tabwriter"
)

// FailoverResult holds the figures of one `berth bench failover` run. Its
// JSON form is the last output line. Times are seconds from the SIGKILL of
// the second agent, by the benchmark's clock, as seen by polling the API
// every failoverPoll.
type FailoverResult struct {
	// Bench is always "failover".
	Bench string `json:"bench"`
	// Replicas repeats the configuration: the Deployment's replicas.
	Replicas int `json:"replicas"`
	// Workload is what the containers run.
	Workload string `json:"workload"`
	// GracePeriodS is the server's --node-monitor-grace-period in seconds.
	GracePeriodS float64 `json:"grace_period_s"`
	// TolerationS is the server's default not-ready and unreachable
	// toleration in seconds.
	TolerationS int `json:"toleration_s"`
	// PollMs is the resolution of the times: how often the API is polled.
	PollMs float64 `json:"poll_ms"`
	// Root says whether the pods had network namespaces of their own.
	Root bool `json:"root"`
	// Rounds are the node failures timed, in order.
	Rounds []FailoverRound `json:"rounds"`
	// NotReadyS, EvictedS and ReplacedS are the medians over the rounds
	// of the round's fields of the same names.
	NotReadyS float64 `json:"not_ready_s"`
	EvictedS  float64 `json:"evicted_s"`
	ReplacedS float64 `json:"replaced_s"`
	// BoundS is grace period + toleration: with a heartbeat just before
	// the failure, the latest the pods can be evicted (plus the node
	// lifecycle controller's 5 s monitor period at worst).
	BoundS float64 `json:"bound_s"`
	// LeftoverProcesses counts processes of the benchmark's pods still
	// alive once the Deployment was deleted and the agents stopped; they
	// are killed, and any is a bug.
	LeftoverProcesses int `json:"leftover_processes"`
	// Machine describes where the benchmark ran.
	Machine Machine `json:"machine"`
}

// FailoverRound is one node failure.
type FailoverRound struct {
	// FailedPods is how many replicas ran on the killed agent's node.
	FailedPods int `json:"failed_pods"`
	// LeaseAgeS is how long before the kill the node's Lease was last
	// renewed (the agent renews it every 10 s): the node turns NotReady
	// about GracePeriodS − LeaseAgeS after the kill.
	LeaseAgeS float64 `json:"lease_age_s"`
	// NotReadyS is when the node was first seen with Ready≠True and the
	// node.kubernetes.io/unreachable NoExecute taint.
	NotReadyS float64 `json:"not_ready_s"`
	// EvictedS is when the last of the failed node's pods was first seen
	// deleted (a deletionTimestamp, or gone).
	EvictedS float64 `json:"evicted_s"`
	// ReplacedS is when every replica was first seen Running and Ready on
	// the remaining node.
	ReplacedS float64 `json:"replaced_s"`
	// MinReady is the fewest replicas seen Ready at once.
	MinReady int `json:"min_ready"`
	// RecoveredS is how long the killed agent took, once started again,
	// until its node was Ready and untainted and the evicted pods and
	// their orphaned processes were gone.
	RecoveredS float64 `json:"recovered_s"`

	// Samples are the Ready replicas over the seconds since the kill;
	// for the plot, not in the JSON.
	Samples []ReadySample `json:"-"`
}

// ReadySample is a count of Ready replicas at a time.
type ReadySample struct {
	S     float64
	Ready int
}

// summarize fills the medians.
func (r *FailoverResult) summarize() {
	med := func(f func(FailoverRound) float64) float64 {
		v := make([]float64, len(r.Rounds))
		for i, rd := range r.Rounds {
			v[i] = f(rd)
		}
		slices.Sort(v)
		return round(Median(v), 2)
	}
	if len(r.Rounds) == 0 {
		return
	}
	r.NotReadyS = med(func(rd FailoverRound) float64 { return rd.NotReadyS })
	r.EvictedS = med(func(rd FailoverRound) float64 { return rd.EvictedS })
	r.ReplacedS = med(func(rd FailoverRound) float64 { return rd.ReplacedS })
}

// writeTable prints the human-readable summary.
func (r *FailoverResult) writeTable(w io.Writer) {
	writeMachine(w, "failover", r.Machine, "spawned, with two spawned agents (process driver)")
	network := "each in a network namespace of its own"
	if !r.Root {
		network = "in the host network"
	}
	fmt.Fprintf(w, "load: a Deployment of %d replicas (%s, %s) over two nodes; the second agent is killed (SIGKILL) in each round\n",
		r.Replicas, r.Workload, network)
	fmt.Fprintf(w, "timeouts: --node-monitor-grace-period %gs, --default-unreachable-toleration-seconds %d (bound %gs); times polled every %g ms\n",
		r.GracePeriodS, r.TolerationS, r.BoundS, r.PollMs)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "  round\tpods on the failed node\tLease age at the kill\tNotReady\tevicted\treplacements Ready\tfewest Ready\tnode back")
	for i, rd := range r.Rounds {
		fmt.Fprintf(tw, "  %d\t%d\t%.1f s\t%.1f s\t%.1f s\t%.1f s\t%d of %d\t%.1f s\n", i+1, rd.FailedPods, rd.LeaseAgeS, rd.NotReadyS, rd.EvictedS, rd.ReplacedS,
			rd.MinReady, r.Replicas, rd.RecoveredS)
	}
	fmt.Fprintf(tw, "  median\t\t\t%.1f s\t%.1f s\t%.1f s\t\t\n", r.NotReadyS, r.EvictedS, r.ReplacedS)
	tw.Flush()
	leftover := "none"
	if r.LeftoverProcesses > 0 {
		leftover = fmt.Sprintf("%d (killed; a bug)", r.LeftoverProcesses)
	}
	fmt.Fprintf(w, "pod processes left after the run: %s\n", leftover)
}
