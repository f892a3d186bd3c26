package bench

import (
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
)

// Kubernetes' reaction to a load step, the comparison of `berth bench
// hpa`: metric resolution + metrics window + the 15 s sync period give
// about 27.5 s on average and 55 s at worst from the step to the scale
// request (kubernetes/kubernetes#110317).
const (
	KubernetesReactionMeanS = 27.5
	KubernetesReactionMaxS  = 55
)

// HPATargetFastMaxS is the goal for the fast setting: every reaction
// within 5 s.
const HPATargetFastMaxS = 5

// HPAResult holds the figures of one `berth bench hpa` run. Its JSON form
// is the last output line. Times are seconds by the benchmark's clock.
type HPAResult struct {
	// Bench is always "hpa".
	Bench string `json:"bench"`
	// TargetRPS is the HPA's target: requests per second per pod.
	TargetRPS float64 `json:"target_rps"`
	// LowRPS and HighRPS are the load's rates before and after the step.
	LowRPS  float64 `json:"low_rps"`
	HighRPS float64 `json:"high_rps"`
	// MinReplicas and MaxReplicas are the HPA's bounds; ExpectedReplicas
	// is what the high load needs: ceil(HighRPS / TargetRPS) within them.
	MinReplicas      int `json:"min_replicas"`
	MaxReplicas      int `json:"max_replicas"`
	ExpectedReplicas int `json:"expected_replicas"`
	// ScaleDownWindowS is the HPA's scale-down stabilization window.
	ScaleDownWindowS float64 `json:"scale_down_window_s"`
	// Root says whether the pods had network namespaces of their own.
	Root bool `json:"root"`
	// StartToReadyMs is the time from spawning `berth server` to /readyz
	// 200.
	StartToReadyMs float64 `json:"start_to_ready_ms"`
	// Settings are the settings measured, in order.
	Settings []HPASettingResult `json:"settings"`
	// Targets are the goals; Kubernetes is the comparison.
	Targets    HPATargets   `json:"targets"`
	Kubernetes HPAReference `json:"kubernetes"`
	// TargetsMet says, per target key, whether it was met (only targets
	// whose setting was measured).
	TargetsMet map[string]bool `json:"targets_met"`
	// LeftoverProcesses counts processes of the benchmark's pods still
	// alive once the Deployment was deleted and the agent stopped; they
	// are killed, and any is a bug.
	LeftoverProcesses int `json:"leftover_processes"`
	// Machine describes where the benchmark ran.
	Machine Machine `json:"machine"`
}

// HPATargets are the goals of `berth bench hpa`.
type HPATargets struct {
	// FastMaxS bounds the fast setting's slowest reaction.
	FastMaxS float64 `json:"fast_max_s"`
	// FastFlaps bounds the fast setting's flaps (none).
	FastFlaps int `json:"fast_flaps"`
}

// HPAReference is Kubernetes' reaction time to a load step.
type HPAReference struct {
	// MeanS is the average time from the step to the scale request.
	MeanS float64 `json:"mean_s"`
	// MaxS is the longest.
	MaxS float64 `json:"max_s"`
}

// HPASettingResult holds the figures of one setting.
type HPASettingResult struct {
	// Name is "default" or "fast".
	Name string `json:"name"`
	// SyncPeriodS and MetricResolutionS are the HPA's periods.
	SyncPeriodS       float64 `json:"sync_period_s"`
	MetricResolutionS float64 `json:"metric_resolution_s"`
	// HoldS is how long each steady phase lasted.
	HoldS float64 `json:"hold_s"`
	// Rounds are the load steps timed, in order.
	Rounds []HPARound `json:"rounds"`
	// ReactionS are the rounds' reaction times; MedianS (the lower middle
	// for an even count), MeanS and MaxS sum them up.
	ReactionS []float64 `json:"reaction_s"`
	MedianS   float64   `json:"median_s"`
	MeanS     float64   `json:"mean_s"`
	MaxS      float64   `json:"max_s"`
	// Flaps is the sum of the rounds' LowFlaps and HighFlaps.
	Flaps int `json:"flaps"`
	// Requests, Errors and Skipped count the load's requests during the
	// setting: sent, answered with an error or not at all, and not sent
	// because too many were in flight.
	Requests int64 `json:"requests"`
	Errors   int64 `json:"errors"`
	Skipped  int64 `json:"skipped"`
	// OtherCPUPct is the CPU other processes used during the setting, in
	// percent of one CPU (−1 unknown); CPUSeconds splits the benchmark's
	// (client), the server's and the agent's (with its reaped children).
	OtherCPUPct float64        `json:"other_cpu_pct"`
	CPUSeconds  PodsCPUSeconds `json:"cpu_seconds"`
}

// HPARound is one load step: low load held, stepped up at T0, held high,
// dropped back to low until the Deployment is back at its minimum.
type HPARound struct {
	// PhaseS is the random wait (0 to one sync period) before the step.
	PhaseS float64 `json:"phase_s"`
	// ReactionS is T1 − T0: from the step to the Deployment's first
	// spec.replicas change, as its watch delivered it.
	ReactionS float64 `json:"reaction_s"`
	// FirstReplicas is what that first change asked for.
	FirstReplicas int `json:"first_replicas"`
	// ExpectedS is from the step to spec.replicas at the expected count;
	// ReadyS to that many replicas Ready.
	ExpectedS float64 `json:"expected_s"`
	ReadyS    float64 `json:"ready_s"`
	// ScaleDownS is from the drop back to low load until spec.replicas is
	// back at the minimum (scale-down window included).
	ScaleDownS float64 `json:"scale_down_s"`
	// LowFlaps counts the scale changes while low load was held before
	// the step (any is one); HighFlaps those from the step to the drop
	// other than increases up to the expected count.
	LowFlaps  int `json:"low_flaps"`
	HighFlaps int `json:"high_flaps"`
	// Changes are the spec.replicas changes of the round, in seconds from
	// the step (negative before it).
	Changes []HPAChange `json:"changes"`
}

// HPAChange is a change of the Deployment's spec.replicas.
type HPAChange struct {
	S    float64 `json:"s"`
	From int     `json:"from"`
	To   int     `json:"to"`
}

// countFlaps counts the flaps among the changes of a round: every change
// before the step (s < 0, while low load was held) and every change after
// it other than an increase to at most expected.
func countFlaps(changes []HPAChange, expected int) (low, high int) {
	for _, c := range changes {
		switch {
		case c.S < 0:
			low++
		case c.To < c.From || c.To > expected:
			high++
		}
	}
	return low, high
}

// summarize fills the derived fields of the setting.
func (s *HPASettingResult) summarize() {
	s.ReactionS, s.Flaps = make([]float64, 0, len(s.Rounds)), 0
	for _, rd := range s.Rounds {
		s.ReactionS = append(s.ReactionS, rd.ReactionS)
		s.Flaps += rd.LowFlaps + rd.HighFlaps
	}
	if len(s.ReactionS) == 0 {
		s.MedianS, s.MeanS, s.MaxS = 0, 0, 0
		return
	}
	sorted := slices.Sorted(slices.Values(s.ReactionS))
	sum := 0.0
	for _, v := range sorted {
		sum += v
	}
	s.MedianS, s.MeanS, s.MaxS = round(Median(sorted), 2), round(sum/float64(len(sorted)), 2), sorted[len(sorted)-1]
}

// summarize fills the derived fields: each setting's, the targets and
// which were met.
func (r *HPAResult) summarize() {
	r.Targets = HPATargets{FastMaxS: HPATargetFastMaxS}
	r.Kubernetes = HPAReference{MeanS: KubernetesReactionMeanS, MaxS: KubernetesReactionMaxS}
	r.TargetsMet = map[string]bool{}
	for i := range r.Settings {
		s := &r.Settings[i]
		s.summarize()
		if s.Name == HPASettingFast && len(s.Rounds) > 0 {
			r.TargetsMet["fast_max_s"] = s.MaxS <= r.Targets.FastMaxS
			r.TargetsMet["fast_flaps"] = s.Flaps <= r.Targets.FastFlaps
		}
	}
}

// setting returns the result of the named setting, nil if not measured.
func (r *HPAResult) setting(name string) *HPASettingResult {
	for i := range r.Settings {
		if r.Settings[i].Name == name {
			return &r.Settings[i]
		}
	}
	return nil
}

// writeTable prints the human-readable summary.
func (r *HPAResult) writeTable(w io.Writer) {
	writeMachine(w, "hpa", r.Machine, "spawned, with a spawned agent (process driver)")
	network := "each in a network namespace of its own"
	if !r.Root {
		network = "in the host network"
	}
	fmt.Fprintf(w, "load: open loop from this process to the Service's ClusterIP (HTTP mode), %g req/s, stepped to %g req/s; examples/webapp pods %s\n",
		r.LowRPS, r.HighRPS, network)
	fmt.Fprintf(w, "HPA: Pods metric requests_per_second, target %g per pod, replicas %d..%d (the high load needs %d), scale-down window %gs\n",
		r.TargetRPS, r.MinReplicas, r.MaxReplicas, r.ExpectedReplicas, r.ScaleDownWindowS)
	fmt.Fprintln(w, "reaction = load step → the Deployment's spec.replicas changes (seen by a watch)")
	for _, s := range r.Settings {
		fmt.Fprintf(w, "\nsetting %s: sync period %gs, metric resolution %gs; steady phases %gs; %d requests, %d errors, %d not sent; CPU client %.1f s, server %.1f s, agent %.1f s; other processes %.1f%% of one CPU\n",
			s.Name, s.SyncPeriodS, s.MetricResolutionS, s.HoldS, s.Requests, s.Errors, s.Skipped, s.CPUSeconds.Client, s.CPUSeconds.Server, s.CPUSeconds.Agent, s.OtherCPUPct)
		if s.OtherCPUPct > noisyCPUPct {
			fmt.Fprintln(w, "  (DISTURBED: other processes used the CPU; the reaction times are set by periods more than by CPU, but may be pessimistic)")
		}
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "  round\tphase\treaction\tfirst to\texpected\tReady\tback to min\tflaps low/high\tchanges (s from the step: from→to)")
		for i, rd := range s.Rounds {
			changes := make([]string, len(rd.Changes))
			for j, c := range rd.Changes {
				changes[j] = fmt.Sprintf("%.1f: %d→%d", c.S, c.From, c.To)
			}
			fmt.Fprintf(tw, "  %d\t%.1f s\t%.2f s\t%d\t%.1f s\t%.1f s\t%.1f s\t%d/%d\t%s\n", i+1, rd.PhaseS, rd.ReactionS, rd.FirstReplicas,
				rd.ExpectedS, rd.ReadyS, rd.ScaleDownS, rd.LowFlaps, rd.HighFlaps, strings.Join(changes, ", "))
		}
		tw.Flush()
		fmt.Fprintf(w, "  reaction: median %.2f s, mean %.2f s, max %.2f s; flaps %d\n", s.MedianS, s.MeanS, s.MaxS, s.Flaps)
	}
	fmt.Fprintf(w, "\nKubernetes (15 s sync, metrics-server): %.1f s mean, %.0f s worst (kubernetes/kubernetes#110317)\n", r.Kubernetes.MeanS, r.Kubernetes.MaxS)
	if f := r.setting(HPASettingFast); f != nil && len(f.Rounds) > 0 {
		fmt.Fprintln(w, "targets:")
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		fmt.Fprintf(tw, "  fast: slowest reaction\t%.2f s\t≤ %g s\t%s\n", f.MaxS, r.Targets.FastMaxS, verdict(r.TargetsMet["fast_max_s"]))
		fmt.Fprintf(tw, "  fast: flaps\t%d\t≤ %d\t%s\n", f.Flaps, r.Targets.FastFlaps, verdict(r.TargetsMet["fast_flaps"]))
		tw.Flush()
	}
	leftover := "none"
	if r.LeftoverProcesses > 0 {
		leftover = fmt.Sprintf("%d (killed; a bug)", r.LeftoverProcesses)
	}
	fmt.Fprintf(w, "pod processes left after the run: %s\n", leftover)
}
