package sim

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/berth-dev/berth/internal/sim/trace"
)

// flat returns a trace of minutes one-minute points of rps(i).
func flat(minutes int, rps func(i int) float64) *trace.Trace {
	t := &trace.Trace{Name: "test"}
	for i := range minutes {
		t.Points = append(t.Points, trace.Point{At: float64(60 * i), RPS: rps(i)})
	}
	return t
}

func run(t *testing.T, cfg AutoscaleConfig) *AutoscaleResult {
	t.Helper()
	r, err := RunAutoscale(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestConstantDemandIsServed(t *testing.T) {
	r := run(t, AutoscaleConfig{Trace: flat(120, func(int) float64 { return 400 }), Policy: PolicyHPA, Capacity: 100, StartUp: 30 * time.Second})
	// 400 req/s at an 80 req/s target per replica: 5 replicas for 2 hours.
	if r.SLOViolationMinutes != 0 || math.Abs(r.ReplicaHours-10) > 0.01 || r.ScaleEvents != 0 {
		t.Fatalf("%+v: want no violation, 10 replica-hours, no scale event", r)
	}
}

func TestStepUpIsLateByTheStartUp(t *testing.T) {
	// 100 → 1000 req/s at minute 30: the rule needs a scrape, a sync and
	// the start-up before capacity is there; with the scale-up limit
	// (double or 4 per sync) it takes a few rounds.
	for _, startUp := range []time.Duration{10 * time.Second, 60 * time.Second} {
		r := run(t, AutoscaleConfig{Trace: flat(60, func(i int) float64 {
			if i < 30 {
				return 100
			}
			return 1000
		}), Policy: PolicyHPA, Capacity: 100, StartUp: startUp, Step: true})
		if r.SLOViolationMinutes < startUp.Minutes() || r.SLOViolationMinutes > startUp.Minutes()+3 {
			t.Errorf("start-up %s: %.2f SLO-violation minutes, want between the start-up and 3 minutes more", startUp, r.SLOViolationMinutes)
		}
		if r.ScaleUps == 0 || r.ScaleDowns != 0 {
			t.Errorf("start-up %s: %d ups, %d downs", startUp, r.ScaleUps, r.ScaleDowns)
		}
	}
}

// TestPredictiveOnTheShippedTraces is the acceptance: on the
// shipped diurnal + spikes trace with 30 s start-up, predictive mode has at
// least 50 % fewer SLO-violation minutes than Kubernetes' rule at no more
// than 10 % more replica-hours; on the smooth diurnal and trend traces it is
// never worse and costs at most 10 % more; and with 1 s sync and metric
// periods the rule does not flap on any of them.
func TestPredictiveOnTheShippedTraces(t *testing.T) {
	if testing.Short() {
		t.Skip("replays three days of trace several times (a few seconds); runs in the integration tier")
	}
	for _, tc := range []struct {
		trace        string
		minReduction float64 // fraction of the rule's SLO-violation minutes
	}{
		{"diurnal-spikes", 0.5},
		{"diurnal", 0},
		{"trend", 0},
	} {
		tr, err := trace.Load(filepath.Join("trace", "testdata", tc.trace+".csv"))
		if err != nil {
			t.Fatal(err)
		}
		cfg := AutoscaleConfig{Trace: tr, Capacity: 100, StartUp: 30 * time.Second, Warmup: 48 * time.Hour,
			Predictive: map[string]string{"berth.io/predictive-model": "linear"}}
		cfg.Policy = PolicyHPA
		h := run(t, cfg)
		cfg.Policy = PolicyPredictive
		p := run(t, cfg)
		t.Logf("%s: hpa %.1f min, %.1f replica-h, %d flaps; predictive %.1f min, %.1f replica-h, %d flaps",
			tc.trace, h.SLOViolationMinutes, h.ReplicaHours, h.Flaps, p.SLOViolationMinutes, p.ReplicaHours, p.Flaps)
		switch {
		case tc.minReduction > 0 && h.SLOViolationMinutes == 0:
			t.Errorf("%s: the rule had no SLO violation: nothing to compare", tc.trace)
		case tc.minReduction > 0 && 1-p.SLOViolationMinutes/h.SLOViolationMinutes < tc.minReduction:
			t.Errorf("%s: predictive has %.0f%% fewer SLO-violation minutes, want at least %.0f%%", tc.trace,
				100*(1-p.SLOViolationMinutes/h.SLOViolationMinutes), 100*tc.minReduction)
		case p.SLOViolationMinutes > h.SLOViolationMinutes:
			t.Errorf("%s: predictive has more SLO-violation minutes (%.1f) than the rule (%.1f)", tc.trace, p.SLOViolationMinutes, h.SLOViolationMinutes)
		}
		if inc := p.ReplicaHours/h.ReplicaHours - 1; inc > 0.10 {
			t.Errorf("%s: predictive uses %.1f%% more replica-hours, want at most 10%%", tc.trace, 100*inc)
		}
		// Reacting in seconds does not make the rule flap.
		fast := cfg
		fast.Policy, fast.SyncPeriod, fast.MetricResolution = PolicyHPA, time.Second, time.Second
		if f := run(t, fast); f.Flaps != 0 {
			t.Errorf("%s: with 1 s periods the rule reversed %d rescales within %s", tc.trace, f.Flaps, FlapWindow)
		}
	}
}

func TestAutoscaleConfigErrors(t *testing.T) {
	tr := flat(10, func(int) float64 { return 1 })
	for _, tc := range []struct {
		cfg  AutoscaleConfig
		want string
	}{
		{AutoscaleConfig{Policy: PolicyHPA, Capacity: 1}, "no trace"},
		{AutoscaleConfig{Trace: tr, Policy: "magic", Capacity: 1}, `unknown policy "magic"`},
		{AutoscaleConfig{Trace: tr, Policy: PolicyHPA}, "capacity 0"},
		{AutoscaleConfig{Trace: tr, Policy: PolicyHPA, Capacity: 1, TargetUtilization: 2}, "outside (0, 1]"},
		{AutoscaleConfig{Trace: tr, Policy: PolicyHPA, Capacity: 1, Warmup: time.Hour}, "leaves nothing"},
		{AutoscaleConfig{Trace: tr, Policy: PolicyPredictive, Capacity: 1, Predictive: map[string]string{"berth.io/predictive-model": "arima"}}, "predictive-model"},
	} {
		if _, err := RunAutoscale(context.Background(), tc.cfg); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: err %v, want %q", tc.cfg, err, tc.want)
		}
	}
}

func TestAutoscaleCommand(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "t.csv")
	var csv strings.Builder
	csv.WriteString("time,rps\n")
	for i := range 180 {
		rps := 200.0
		if i%60 >= 30 {
			rps = 900
		}
		fmt.Fprintf(&csv, "%d,%g\n", 60*i, rps)
	}
	if err := os.WriteFile(file, []byte(csv.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	png := filepath.Join(dir, "p.png")
	c, err := ParseAutoscaleArgs([]string{"--trace", file, "--plot", png, "--start-up", "20s"}, &stderr)
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if _, err := RunAutoscaleCommand(context.Background(), c, &out); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	var rep AutoscaleReport
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &rep); err != nil {
		t.Fatalf("last line is not JSON: %v\n%s", err, out.String())
	}
	if rep.Sim != "autoscale" || len(rep.Results) != 2 || rep.ViolationReductionPct == nil || rep.Plot != png || rep.StartUpS != 20 || rep.Model != "linear" {
		t.Fatalf("report %+v", rep)
	}
	if st, err := os.Stat(png); err != nil || st.Size() == 0 {
		t.Fatalf("plot: %v", err)
	}
	for _, bad := range [][]string{
		{},
		{"--trace", file, "--policy", "magic"},
		{"--trace", file, "--scale", "0"},
		{"--trace", file, "--min", "5", "--max", "2"},
		{"--trace", filepath.Join(dir, "missing.csv")},
		{"--trace", file, "--model", "arima"},
		{"--trace", file, "--warmup", "soon"},
		{"--trace", file, "--plot-window", "2h:1h"},
	} {
		if _, err := ParseAutoscaleArgs(bad, &stderr); err == nil {
			t.Errorf("%v: accepted", bad)
		}
	}
}
