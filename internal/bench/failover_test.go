package bench

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
)

func TestParseFailoverArgs(t *testing.T) {
	cfg := checkDefaultsAndHelp(t, ParseFailoverArgs, DefaultFailoverConfig())
	if cfg.Replicas != 10 || cfg.Rounds != 3 || cfg.GracePeriod != 20*time.Second || cfg.TolerationSeconds != 5 || cfg.Timeout != 2*time.Minute ||
		cfg.ClusterCIDR != "10.48.0.0/16" || cfg.Bridges != [2]string{"berthx0", "berthx1"} || cfg.WebApp != "" || cfg.Binary != "" || cfg.JSONOnly || cfg.PlotFile != "" {
		t.Fatalf("defaults: %+v", cfg)
	}
	with := func(change func(c *FailoverConfig)) FailoverConfig {
		c := DefaultFailoverConfig()
		change(&c)
		return c
	}
	for args, want := range map[string]FailoverConfig{
		"--replicas 4 --rounds 1 --json-only --plot f.png": with(func(c *FailoverConfig) {
			c.Replicas, c.Rounds, c.JSONOnly, c.PlotFile = 4, 1, true, "f.png"
		}),
		"--node-monitor-grace-period 20s --toleration-seconds 0 --timeout 5m": with(func(c *FailoverConfig) {
			c.GracePeriod, c.TolerationSeconds, c.Timeout = 20*time.Second, 0, 5*time.Minute
		}),
		"--binary /tmp/b --webapp /tmp/w --cluster-cidr 10.49.0.0/16 --cni-bridges br-a,br-b": with(func(c *FailoverConfig) {
			c.Binary, c.WebApp, c.ClusterCIDR, c.Bridges = "/tmp/b", "/tmp/w", "10.49.0.0/16", [2]string{"br-a", "br-b"}
		}),
		"--replicas 100": with(func(c *FailoverConfig) { c.Replicas = 100 }),
	} {
		t.Run(args, func(t *testing.T) {
			got, err := ParseFailoverArgs(strings.Fields(args), io.Discard)
			checkOutcome(t, got, err, want, "")
		})
	}
	// Each error names the flag.
	for args, wantErr := range map[string]string{
		"--replicas 1":                       "--replicas: 1 is out of range 2..100",
		"--replicas 101":                     "--replicas: 101",
		"--rounds 0":                         "--rounds: 0 is not positive",
		"--node-monitor-grace-period 10s":    "--node-monitor-grace-period: 10s is below 15s",
		"--toleration-seconds -1":            "--toleration-seconds: -1 is negative",
		"--timeout 0s":                       "--timeout: 0s is not positive",
		"--cluster-cidr 10.48.0.0":           "--cluster-cidr",
		"--cni-bridges berthx0":              "--cni-bridges \"berthx0\": want two bridge names",
		"--cni-bridges a,b,c":                "--cni-bridges",
		"--cni-bridges same,same":            "need two bridges",
		"--cni-bridges toolongbridgename0,b": "--cni-bridges",
		"--cni-bridges ,b":                   "--cni-bridges",
		"--rounds 2 extra":                   "unexpected arguments [extra]",
		"--replicas many":                    "-replicas",
	} {
		t.Run(args, func(t *testing.T) {
			_, err := ParseFailoverArgs(strings.Fields(args), io.Discard)
			checkOutcome(t, FailoverConfig{}, err, FailoverConfig{}, wantErr)
		})
	}
}

func TestFailoverConfigWithDefaults(t *testing.T) {
	cfg, err := FailoverConfig{Binary: "/bin/true", TolerationSeconds: 0}.withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	d := DefaultFailoverConfig()
	if cfg.Replicas != d.Replicas || cfg.Rounds != d.Rounds || cfg.GracePeriod != d.GracePeriod || cfg.Timeout != d.Timeout ||
		cfg.ClusterCIDR != d.ClusterCIDR || cfg.Bridges != d.Bridges || cfg.TolerationSeconds != 0 || cfg.Logger == nil {
		t.Fatalf("withDefaults: %+v", cfg)
	}
}

// sampleFailoverResult is a plausible run of three rounds.
func sampleFailoverResult() *FailoverResult {
	r := &FailoverResult{Bench: "failover", Replicas: 10, Workload: "/bin/sleep 3600", GracePeriodS: 20, TolerationS: 5, BoundS: 25, PollMs: 100,
		Root: true, Machine: Machine{CPUs: 2, Go: "go1.26", OS: "linux"}}
	for i, notReady := range []float64{19.5, 18.1, 21.2} {
		rd := FailoverRound{FailedPods: 5, NotReadyS: notReady, EvictedS: notReady + 5.1, ReplacedS: notReady + 6 + float64(i)/10, MinReady: 5, RecoveredS: 3}
		for s := 0.0; s < rd.ReplacedS+0.05; s += 0.1 {
			ready := 10
			switch {
			case s >= rd.EvictedS+0.2:
				ready = 5 + min(5, int((s-rd.EvictedS)*5))
			case s >= notReady:
				ready = 5
			}
			rd.Samples = append(rd.Samples, ReadySample{S: round(s, 2), Ready: ready})
		}
		r.Rounds = append(r.Rounds, rd)
	}
	r.summarize()
	return r
}

func TestFailoverSummarizeAndTable(t *testing.T) {
	r := sampleFailoverResult()
	if r.NotReadyS != 19.5 || r.EvictedS != 24.6 || r.ReplacedS != 25.5 {
		t.Fatalf("medians: not ready %v, evicted %v, replaced %v", r.NotReadyS, r.EvictedS, r.ReplacedS)
	}
	var b bytes.Buffer
	r.writeTable(&b)
	for _, want := range []string{"failover", "a Deployment of 10 replicas", "--node-monitor-grace-period 20s", "median", "19.5 s", "24.6 s", "25.5 s",
		"pod processes left after the run: none"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("table has no %q:\n%s", want, b.String())
		}
	}
	var empty FailoverResult
	empty.summarize()
	if empty.NotReadyS != 0 || empty.ReplacedS != 0 {
		t.Fatalf("no rounds: %+v", empty)
	}
}

func TestWriteFailoverPlot(t *testing.T) {
	file := filepath.Join(t.TempDir(), "failover.png")
	if err := WriteFailoverPlot(file, sampleFailoverResult()); err != nil {
		t.Fatal(err)
	}
	checkPlotFile(t, file)
	if err := WriteFailoverPlot(file, &FailoverResult{Replicas: 3}); err == nil {
		t.Fatal("plot of no rounds: no error")
	}
}

func TestRunFailoverServerFails(t *testing.T) {
	checkServerFails(t, "failover", func(binary string, log *slog.Logger, out io.Writer) error {
		_, err := RunFailover(context.Background(), FailoverConfig{Binary: binary, Logger: log}, out)
		return err
	})
}

// TestRunFailoverSmall kills one of two agents once, with a 15 s grace
// period and no toleration, through the prebuilt binary named by
// BERTH_BIN, as root (two agents on one machine need bridges of their
// own).
func TestRunFailoverSmall(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns a berth server and two berth agents for ~30 s; runs without -short")
	}
	if os.Geteuid() != 0 {
		t.Skip("two agents on one machine need root (pod networks on bridges of their own)")
	}
	bin := berthBin(t)
	goroutines := runtime.NumGoroutine()
	var out bytes.Buffer
	plot := filepath.Join(t.TempDir(), "failover.png")
	cfg := FailoverConfig{Replicas: 4, Rounds: 1, GracePeriod: 15 * time.Second, TolerationSeconds: 0, Timeout: 2 * time.Minute,
		Binary: bin, PlotFile: plot, Logger: warnLogger(t)}
	res, err := RunFailover(t.Context(), cfg, &out)
	t.Logf("output:\n%s", out.String())
	if err != nil {
		t.Fatalf("RunFailover: %v", err)
	}
	last := lastJSONLine(t, out.String())
	if last["bench"] != "failover" || last["replicas"] != 4.0 || last["grace_period_s"] != 15.0 || last["toleration_s"] != 0.0 {
		t.Fatalf("last line: %v", last)
	}
	for _, k := range []string{"rounds", "not_ready_s", "evicted_s", "replaced_s", "bound_s", "poll_ms", "root", "leftover_processes", "machine"} {
		if _, ok := last[k]; !ok {
			t.Errorf("last line has no %q", k)
		}
	}
	rd := res.Rounds[0]
	if rd.FailedPods == 0 || rd.NotReadyS <= 0 || rd.EvictedS < rd.NotReadyS || rd.ReplacedS < rd.EvictedS || rd.RecoveredS <= 0 {
		t.Errorf("round: %+v", rd)
	}
	// With a 15 s grace period (monitor period 5 s) and no toleration the
	// node is NotReady and its pods evicted within 15 + 5 s and a margin;
	// the healthy node keeps its replicas.
	if rd.EvictedS > 15+5+10 || rd.MinReady < 4-rd.FailedPods {
		t.Errorf("evicted after %v s (want within the grace period, the monitor period and 10 s), fewest Ready %d (want %d)",
			rd.EvictedS, rd.MinReady, 4-rd.FailedPods)
	}
	if res.LeftoverProcesses != 0 {
		t.Errorf("%d processes of the pods left", res.LeftoverProcesses)
	}
	checkPlotFile(t, plot)
	checkGoroutinesEnded(t, goroutines, "RunFailover")
}
