package bench

import (
	"fmt"
	"io"
	"text/tabwriter"
)

// ControllersTargets are the goals of `berth bench controllers`, in the
// units their names say.
type ControllersTargets struct {
	// PodsPerS is the minimum pod creation rate: pods divided by the time
	// from the first Deployment create until every ReplicaSet reports all
	// its pods.
	PodsPerS float64 `json:"pods_per_s"`
	// RSSMB bounds the server's VmRSS with every pod created.
	RSSMB float64 `json:"rss_mb"`
}

// ControllerTargets are Berth's goals for the workload controllers on a
// 2-core machine (see docs/benchmarks.md).
var ControllerTargets = ControllersTargets{PodsPerS: 500, RSSMB: 400}

// ControllersResult holds the figures of one `berth bench controllers` run.
// Its JSON form is the last output line.
type ControllersResult struct {
	// Bench is always "controllers".
	Bench string `json:"bench"`
	// Deployments, Replicas and Nodes repeat the configuration.
	Deployments int `json:"deployments"`
	Replicas    int `json:"replicas"`
	Nodes       int `json:"nodes"`
	// Clients is the number of goroutines that created the Deployments.
	Clients int `json:"clients"`
	// Pods is Deployments × Replicas, the pods the controllers must create.
	Pods int `json:"pods"`
	// StartToReadyMs is the time from spawning `berth server` to /readyz 200.
	StartToReadyMs float64 `json:"start_to_ready_ms"`
	// CreateDeploymentsS is the wall time of creating every Deployment.
	CreateDeploymentsS float64 `json:"create_deployments_s"`
	// AllPodsCreatedS is the time from the first create until every
	// ReplicaSet reported status.replicas == Replicas (seen by a watch).
	AllPodsCreatedS float64 `json:"all_pods_created_s"`
	// PodsPerS is Pods / AllPodsCreatedS.
	PodsPerS float64 `json:"pods_per_s"`
	// DeploymentsSyncedS is the time from the first create until every
	// Deployment reported status.replicas == Replicas.
	DeploymentsSyncedS float64 `json:"deployments_synced_s"`
	// PodsCounted is the number of pods a LIST of the namespace returned
	// after the run; it equals Pods unless pods were duplicated or lost.
	PodsCounted int `json:"pods_counted"`
	// ReplicaSetsCounted is the number of ReplicaSets a LIST returned; one
	// per Deployment.
	ReplicaSetsCounted int `json:"replicasets_counted"`
	// IdleRSSMB is the server's VmRSS in MiB once its controllers ran idle.
	IdleRSSMB float64 `json:"idle_rss_mb"`
	// RSSMB is the server's VmRSS in MiB with every pod created.
	RSSMB float64 `json:"rss_mb"`
	// PeakRSSMB is the server's VmHWM (peak RSS) in MiB at the same time.
	PeakRSSMB float64 `json:"peak_rss_mb"`
	// OtherCPUPct is the CPU other processes used from the first create
	// until everything was synced, in percent of one CPU (-1 when unknown).
	OtherCPUPct float64 `json:"other_cpu_pct"`
	// CPUSeconds splits the CPU time of the same window between the
	// benchmark (client) and the server (API server, etcd, controllers).
	CPUSeconds CPUSeconds `json:"cpu_seconds"`
	// Targets are the goals the figures are compared with.
	Targets ControllersTargets `json:"targets"`
	// TargetsMet says, per target key, whether it was met.
	TargetsMet map[string]bool `json:"targets_met"`
	// Machine describes where the benchmark ran.
	Machine Machine `json:"machine"`
	// Samples is the progress over time, for the plot; not in the JSON.
	Samples []ProgressSample `json:"-"`
}

// ProgressSample is the state of the load at one moment.
type ProgressSample struct {
	// Seconds is the time since the first Deployment create.
	Seconds float64
	// Requested is the pods asked for so far: Deployments created ×
	// replicas.
	Requested int
	// Created is the sum of status.replicas over the ReplicaSets.
	Created int
}

// summarize fills PodsPerS and TargetsMet.
func (r *ControllersResult) summarize() {
	if r.AllPodsCreatedS > 0 {
		r.PodsPerS = round(float64(r.Pods)/r.AllPodsCreatedS, 1)
	}
	r.TargetsMet = map[string]bool{
		"pods_per_s": r.PodsPerS >= r.Targets.PodsPerS,
		"rss_mb":     r.RSSMB > 0 && r.RSSMB <= r.Targets.RSSMB,
	}
}

// writeTable prints the human-readable summary.
func (r *ControllersResult) writeTable(w io.Writer) {
	writeMachine(w, "controllers", r.Machine, "spawned")
	fmt.Fprintf(w, "load: %d Deployments × %d replicas = %d pods, created by %d clients; %d fake nodes (pods stay unbound: no scheduler)\n",
		r.Deployments, r.Replicas, r.Pods, r.Clients, r.Nodes)
	writeCPU(w, "from first create to synced", r.CPUSeconds, r.OtherCPUPct)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "  start → ready\t%.0f ms\n", r.StartToReadyMs)
	fmt.Fprintf(tw, "  create %d Deployments\t%.2f s\t%.0f/s\n", r.Deployments, r.CreateDeploymentsS, perSecond(r.Deployments, r.CreateDeploymentsS))
	fmt.Fprintf(tw, "  all pods created (every ReplicaSet)\t%.2f s\t%.0f pods/s\n", r.AllPodsCreatedS, r.PodsPerS)
	fmt.Fprintf(tw, "  every Deployment synced\t%.2f s\n", r.DeploymentsSyncedS)
	check := "exact"
	if r.PodsCounted != r.Pods || r.ReplicaSetsCounted != r.Deployments {
		check = "MISMATCH"
	}
	fmt.Fprintf(tw, "  pods / ReplicaSets counted by LIST\t%d / %d\t%s (want %d / %d)\n", r.PodsCounted, r.ReplicaSetsCounted, check, r.Pods, r.Deployments)
	fmt.Fprintf(tw, "  server RSS idle / with all pods / peak\t%.1f / %.1f / %.1f MiB\n", r.IdleRSSMB, r.RSSMB, r.PeakRSSMB)
	tw.Flush()
	fmt.Fprintln(w, "\ntargets:")
	fmt.Fprintf(tw, "  pods created per second\t%.0f/s\t≥ %.0f/s\t%s\n", r.PodsPerS, r.Targets.PodsPerS, verdict(r.TargetsMet["pods_per_s"]))
	fmt.Fprintf(tw, "  server RSS with %d pods\t%.1f MiB\t≤ %.0f MiB\t%s\n", r.Pods, r.RSSMB, r.Targets.RSSMB, verdict(r.TargetsMet["rss_mb"]))
	tw.Flush()
}

// perSecond is n / seconds, 0 when seconds is not positive.
func perSecond(n int, seconds float64) float64 {
	if seconds <= 0 {
		return 0
	}
	return float64(n) / seconds
}
