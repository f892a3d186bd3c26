package sim

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/berth-dev/berth/internal/autoscale/predict"
	"github.com/berth-dev/berth/internal/sim/trace"
)

// AutoscaleCommand is `berth sim autoscale`'s configuration.
type AutoscaleCommand struct {
	// Config is the simulation (Policy is set per run).
	Config AutoscaleConfig
	// Policies are the policies to run on the same trace.
	Policies []string
	// Plot is the PNG to write ("" for none).
	Plot string
	// PlotFrom and PlotTo bound the plotted window (from the trace start;
	// PlotTo 0: the end).
	PlotFrom, PlotTo time.Duration
}

// AutoscaleReport is the last output line of `berth sim autoscale`.
type AutoscaleReport struct {
	// Sim is always "autoscale".
	Sim string `json:"sim"`
	// Trace names the trace; Capacity, TargetUtilization, StartUpS,
	// SyncPeriodS, MetricResolutionS and WarmupH are the settings.
	Trace             string  `json:"trace"`
	Capacity          float64 `json:"capacity_rps_per_replica"`
	TargetUtilization float64 `json:"target_utilization"`
	StartUpS          float64 `json:"start_up_s"`
	SyncPeriodS       float64 `json:"sync_period_s"`
	MetricResolutionS float64 `json:"metric_resolution_s"`
	WarmupH           float64 `json:"warmup_h"`
	// Model, Step and History describe the predictive setting.
	Model    string  `json:"model"`
	StepS    float64 `json:"step_s"`
	HistoryS float64 `json:"history_s"`
	// Results has one entry per policy.
	Results []*AutoscaleResult `json:"results"`
	// ViolationReductionPct and ReplicaHoursIncreasePct compare predictive
	// with hpa when both ran: (hpa − predictive)/hpa SLO-violation minutes
	// and (predictive − hpa)/hpa replica-hours, in percent.
	ViolationReductionPct   *float64 `json:"violation_reduction_pct,omitempty"`
	ReplicaHoursIncreasePct *float64 `json:"replica_hours_increase_pct,omitempty"`
	// Plot is the PNG written, if any.
	Plot string `json:"plot,omitempty"`
	// Error says why the simulation failed.
	Error string `json:"error,omitempty"`
}

// ParseAutoscaleArgs parses `berth sim autoscale`'s flags; usage and flag
// errors go to stderr.
func ParseAutoscaleArgs(args []string, stderr io.Writer) (AutoscaleCommand, error) {
	fs := flag.NewFlagSet("berth sim autoscale", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var c AutoscaleCommand
	file := fs.String("trace", "", "load trace: CSV `time,rps` (seconds or RFC 3339), Wikipedia pageviews (JSON or CSV) or an Azure Functions 2019 invocations CSV")
	function := fs.String("function", "", "Azure Functions trace: only the rows whose HashFunction starts with this (default: the sum of all rows)")
	policy := fs.String("policy", "both", "hpa (Kubernetes' rule), predictive, or both (the same trace twice, compared)")
	scale := fs.Float64("scale", 1, "multiply the trace's requests/s by this")
	fs.BoolVar(&c.Config.Step, "step-demand", false, "replay the trace as a step function (default: interpolate between points, each point being its interval's mean)")
	warmup := fs.String("warmup", "auto", "start of the trace replayed but not scored (a duration, or auto: two seasons when the trace is at least three seasons long)")
	fs.DurationVar(&c.Config.StartUp, "start-up", 30*time.Second, "time a new replica needs to become ready")
	fs.Float64Var(&c.Config.Capacity, "capacity", 100, "requests/s one ready replica serves")
	fs.Float64Var(&c.Config.TargetUtilization, "target-utilization", 0.8, "share of capacity the HPA targets per replica")
	min := fs.Int("min", 1, "HPA minReplicas")
	max := fs.Int("max", 1000, "HPA maxReplicas")
	fs.DurationVar(&c.Config.SyncPeriod, "sync-period", 15*time.Second, "HPA sync period (berth.io/hpa-sync-period)")
	fs.DurationVar(&c.Config.MetricResolution, "metric-resolution", 15*time.Second, "metric scrape interval (berth.io/hpa-metric-resolution)")
	model := fs.String("model", "linear", "predictive model: linear (short-term trend) or holt-winters (seasonal)")
	season := fs.String("season", "", "holt-winters season length (default 24h)")
	step := fs.String("step", "", "predictive history step (default 15s for linear, 1m for holt-winters)")
	history := fs.String("history", "", "predictive history kept (default 1m for linear, three seasons for holt-winters)")
	horizon := fs.String("horizon", "", "predictive forecast horizon (default: the start-up time)")
	maxErr := fs.String("max-error", "", "recent forecast error above which predictive falls back to the rule (default 0.3)")
	fs.StringVar(&c.Plot, "plot", "", "write a PNG plot of demand, capacity and replicas to this file")
	window := fs.String("plot-window", "", "plot only FROM:TO of the trace (durations from its start, e.g. 48h:54h; default all)")
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	if fs.NArg() > 0 {
		return c, fmt.Errorf("unexpected arguments %v", fs.Args())
	}
	if *file == "" {
		return c, fmt.Errorf("--trace FILE is required")
	}
	switch *policy {
	case PolicyHPA, PolicyPredictive:
		c.Policies = []string{*policy}
	case "both":
		c.Policies = []string{PolicyHPA, PolicyPredictive}
	default:
		return c, fmt.Errorf("--policy %q: want hpa, predictive or both", *policy)
	}
	if *scale <= 0 {
		return c, fmt.Errorf("--scale %g is not positive", *scale)
	}
	if *min < 0 || *max < 1 || *min > *max {
		return c, fmt.Errorf("--min %d / --max %d: want 0 <= min <= max, max >= 1", *min, *max)
	}
	c.Config.MinReplicas, c.Config.MaxReplicas = int32(*min), int32(*max)
	t, err := trace.LoadOptions(*file, trace.Options{Function: *function})
	if err != nil {
		return c, err
	}
	if *scale != 1 {
		t = t.Scale(*scale)
	}
	c.Config.Trace = t
	c.Config.Predictive = map[string]string{predict.AnnotationModel: *model}
	for k, v := range map[string]string{predict.AnnotationSeason: *season, predict.AnnotationStep: *step, predict.AnnotationHistory: *history,
		predict.AnnotationHorizon: *horizon, predict.AnnotationMaxError: *maxErr} {
		if v != "" {
			c.Config.Predictive[k] = v
		}
	}
	pcfg, err := predict.ParseAnnotations(c.Config.Predictive)
	if err != nil {
		return c, err
	}
	if *window != "" {
		from, to, ok := strings.Cut(*window, ":")
		f, err1 := time.ParseDuration(from)
		e, err2 := time.ParseDuration(to)
		if !ok || err1 != nil || err2 != nil || f < 0 || e <= f {
			return c, fmt.Errorf("--plot-window %q: want FROM:TO durations with FROM < TO, like 48h:54h", *window)
		}
		c.PlotFrom, c.PlotTo = f, e
	}
	if *warmup == "auto" {
		// Two days (or seasons) of learning, scored on the rest, when the
		// trace is long enough; both policies are scored on the same window.
		if seasons := t.Duration() / pcfg.Season.Seconds(); seasons >= 3 {
			c.Config.Warmup = 2 * pcfg.Season
		}
	} else if c.Config.Warmup, err = time.ParseDuration(*warmup); err != nil {
		return c, fmt.Errorf("--warmup %q: want a duration or auto", *warmup)
	}
	return c, nil
}

// RunAutoscaleCommand runs the simulations, writes a human summary and, as
// the last line, the AutoscaleReport as JSON to out.
func RunAutoscaleCommand(ctx context.Context, c AutoscaleCommand, out io.Writer) (*AutoscaleReport, error) {
	cfg := c.Config
	rep := &AutoscaleReport{Sim: "autoscale", Capacity: cfg.Capacity, TargetUtilization: cfg.TargetUtilization,
		StartUpS: cfg.StartUp.Seconds(), SyncPeriodS: cfg.SyncPeriod.Seconds(), MetricResolutionS: cfg.MetricResolution.Seconds(), WarmupH: cfg.Warmup.Hours()}
	if cfg.Trace != nil {
		rep.Trace = cfg.Trace.Name
	}
	if pcfg, err := predict.ParseAnnotations(cfg.Predictive); err == nil && pcfg != nil {
		rep.Model, rep.StepS, rep.HistoryS = pcfg.Model, pcfg.Step.Seconds(), pcfg.History.Seconds()
	}
	fail := func(err error) (*AutoscaleReport, error) {
		rep.Error = err.Error()
		writeJSON(out, rep)
		return rep, err
	}
	var runCfg AutoscaleConfig
	for _, p := range c.Policies {
		runCfg = cfg
		runCfg.Policy = p
		r, err := RunAutoscale(ctx, runCfg)
		if err != nil {
			return fail(err)
		}
		rep.Results = append(rep.Results, r)
	}
	if len(rep.Results) == 2 {
		h, p := rep.Results[0], rep.Results[1]
		red, inc := 0.0, 0.0
		if h.SLOViolationMinutes > 0 {
			red = 100 * (h.SLOViolationMinutes - p.SLOViolationMinutes) / h.SLOViolationMinutes
		}
		if h.ReplicaHours > 0 {
			inc = 100 * (p.ReplicaHours - h.ReplicaHours) / h.ReplicaHours
		}
		rep.ViolationReductionPct, rep.ReplicaHoursIncreasePct = &red, &inc
	}
	if c.Plot != "" {
		if err := WriteAutoscalePlot(c.Plot, runCfg, c.PlotFrom.Seconds(), c.PlotTo.Seconds(), rep.Results...); err != nil {
			return fail(err)
		}
		rep.Plot = c.Plot
	}
	fmt.Fprintf(out, "trace %s: %.1f h scored after %.1f h warm-up; capacity %g req/s per replica, target %.0f%%, start-up %s, sync %s, resolution %s\n",
		rep.Trace, rep.Results[0].EvaluatedHours, rep.WarmupH, cfg.Capacity, cfg.TargetUtilization*100, cfg.StartUp, cfg.SyncPeriod, cfg.MetricResolution)
	fmt.Fprintf(out, "%-11s %14s %14s %13s %6s %8s\n", "policy", "SLO-viol. min", "replica-hours", "scale events", "flaps", "forecast")
	for _, r := range rep.Results {
		fc := "-"
		if r.Policy == PolicyPredictive {
			fc = fmt.Sprintf("%.0f%%", r.ForecastUsedPct)
		}
		fmt.Fprintf(out, "%-11s %14.1f %14.1f %13d %6d %8s\n", r.Policy, r.SLOViolationMinutes, r.ReplicaHours, r.ScaleEvents, r.Flaps, fc)
	}
	if rep.ViolationReductionPct != nil {
		fmt.Fprintf(out, "predictive vs hpa: %.0f%% fewer SLO-violation minutes, %+.1f%% replica-hours\n", *rep.ViolationReductionPct, *rep.ReplicaHoursIncreasePct)
	}
	if rep.Plot != "" {
		fmt.Fprintf(out, "plot: %s\n", rep.Plot)
	}
	writeJSON(out, rep)
	return rep, nil
}

// writeJSON writes v as one line.
func writeJSON(out io.Writer, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		b = []byte(`{"sim":"autoscale","error":` + fmt.Sprintf("%q", err.Error()) + `}`)
	}
	fmt.Fprintln(out, strings.TrimSpace(string(b)))
}
