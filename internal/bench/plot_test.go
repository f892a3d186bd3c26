package bench

import (
	"path/filepath"
	"testing"
)

func sampleResult() *APIResult {
	lvl := func(c int, f float64) LevelResult {
		s := func(p50, p99 float64) OpStats { return OpStats{P50Ms: p50 * f, P99Ms: p99 * f, OpsPerS: 1000 / f} }
		return LevelResult{Clients: c, Create: s(2, 6), Get: s(0.8, 2), Update: s(2.2, 7), List: s(3, 9), Delete: s(2, 5),
			WatchDelivery: WatchStats{P50Ms: 1.5 * f, P99Ms: 4 * f}}
	}
	r := &APIResult{Bench: "api", Levels: []LevelResult{lvl(1, 1), lvl(16, 4), lvl(64, 15)}, Targets: Targets,
		Machine: Machine{CPUs: 2, Go: "go1.26", OS: "linux"}, List10k: &ListResult{Objects: 10000, MedianMs: 800}}
	r.summarize()
	return r
}

func TestWritePlot(t *testing.T) {
	file := filepath.Join(t.TempDir(), "plot.png")
	if err := WritePlot(file, sampleResult()); err != nil {
		t.Fatal(err)
	}
	checkPlotFile(t, file)
	if err := WritePlot(file, &APIResult{}); err == nil {
		t.Fatal("WritePlot of an empty result: want an error")
	}
}

func TestSummarize(t *testing.T) {
	r := sampleResult()
	if r.MutatingP99MsAtMaxClients != 7*15 {
		t.Fatalf("mutating p99 at max clients = %v, want %v (update p99 at 64 clients)", r.MutatingP99MsAtMaxClients, 7*15)
	}
	if r.TargetsMet["mutating_p99_ms"] || !r.TargetsMet["list_10k_ms"] {
		t.Fatalf("targets met = %v", r.TargetsMet)
	}
	if _, ok := r.TargetsMet["idle_rss_mb"]; ok {
		t.Fatal("idle RSS was not measured but has a verdict")
	}
}
