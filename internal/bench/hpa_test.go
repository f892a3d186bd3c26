package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestParseHPAArgs(t *testing.T) {
	cfg := checkDefaultsAndHelp(t, ParseHPAArgs, DefaultHPAConfig())
	if cfg.Rounds != 5 || cfg.TargetRPS != 20 || cfg.Settings != "default,fast" || cfg.FastSyncPeriod != time.Second ||
		cfg.FastMetricResolution != time.Second || cfg.ScaleDownWindow != 15*time.Second || cfg.Timeout != 2*time.Minute ||
		cfg.ClusterCIDR != "10.51.0.0/16" || cfg.ServiceCIDR != "10.52.0.0/16" || cfg.Bridge != "berthh0" || cfg.AddressLabel != "lo:berth-hpa" ||
		cfg.AgentPort != 0 || cfg.Binary != "" || cfg.WebApp != "" || cfg.LogLevel != "" || cfg.ServerLogLevel != "" || cfg.JSONOnly || cfg.PlotFile != "" {
		t.Fatalf("defaults: %+v", cfg)
	}
	with := func(change func(c *HPAConfig)) HPAConfig {
		c := DefaultHPAConfig()
		change(&c)
		return c
	}
	for args, want := range map[string]HPAConfig{
		"--rounds 2 --target-rps 50 --json-only --plot h.png": with(func(c *HPAConfig) {
			c.Rounds, c.TargetRPS, c.JSONOnly, c.PlotFile = 2, 50, true, "h.png"
		}),
		"--settings fast --fast-sync-period 2s --fast-metric-resolution 3s": with(func(c *HPAConfig) {
			c.Settings, c.FastSyncPeriod, c.FastMetricResolution = "fast", 2*time.Second, 3*time.Second
		}),
		"--settings fast,default --scale-down-window 0s --timeout 5m": with(func(c *HPAConfig) {
			c.Settings, c.ScaleDownWindow, c.Timeout = "fast,default", 0, 5*time.Minute
		}),
		"--binary /tmp/b --webapp /tmp/w --cluster-cidr 10.60.0.0/16 --service-cidr 10.61.0.0/16": with(func(c *HPAConfig) {
			c.Binary, c.WebApp, c.ClusterCIDR, c.ServiceCIDR = "/tmp/b", "/tmp/w", "10.60.0.0/16", "10.61.0.0/16"
		}),
		"--cni-bridge br-h --service-address-label lo:x --agent-port 10270": with(func(c *HPAConfig) {
			c.Bridge, c.AddressLabel, c.AgentPort = "br-h", "lo:x", 10270
		}),
		"--log-level debug --server-log-level info": with(func(c *HPAConfig) { c.LogLevel, c.ServerLogLevel = "debug", "info" }),
	} {
		t.Run(args, func(t *testing.T) {
			got, err := ParseHPAArgs(strings.Fields(args), io.Discard)
			checkOutcome(t, got, err, want, "")
		})
	}
	// Each error names the flag.
	for args, wantErr := range map[string]string{
		"--rounds 0":                                "--rounds: 0 is not positive",
		"--target-rps 0.5":                          "--target-rps: 0.5 is out of range 1..500",
		"--target-rps NaN":                          "--target-rps",
		"--target-rps 501":                          "--target-rps",
		"--settings slow":                           `--settings: "slow" is not a setting`,
		"--settings fast,fast":                      "--settings: fast is listed twice",
		"--settings ,":                              "--settings",
		"--fast-sync-period 500ms":                  "--fast-sync-period: 500ms is outside [1s, 10m0s]",
		"--fast-metric-resolution 11m":              "--fast-metric-resolution",
		"--scale-down-window 1500ms":                "--scale-down-window: 1.5s is not whole seconds",
		"--scale-down-window -1s":                   "--scale-down-window",
		"--timeout 0s":                              "--timeout: 0s is not positive",
		"--cluster-cidr 10.51.0.0":                  "--cluster-cidr",
		"--service-cidr x":                          "--service-cidr",
		"--cni-bridge toolongbridgename0":           "--cni-bridge",
		"--service-address-label berth-hpa":         "--service-address-label",
		"--service-address-label lo:muchtoolonglab": "--service-address-label",
		"--agent-port 70000":                        "--agent-port: 70000 is out of range",
		"--log-level loud":                          `--log-level: "loud"`,
		"--server-log-level trace":                  "--server-log-level",
		"--rounds 2 extra":                          "unexpected arguments [extra]",
		"--rounds many":                             "-rounds",
	} {
		t.Run(args, func(t *testing.T) {
			_, err := ParseHPAArgs(strings.Fields(args), io.Discard)
			checkOutcome(t, HPAConfig{}, err, HPAConfig{}, wantErr)
		})
	}
}

func TestHPAConfigWithDefaults(t *testing.T) {
	cfg, err := HPAConfig{Binary: "/bin/true"}.withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	d := DefaultHPAConfig()
	if cfg.Rounds != d.Rounds || cfg.TargetRPS != d.TargetRPS || cfg.Settings != d.Settings || cfg.FastSyncPeriod != d.FastSyncPeriod ||
		cfg.ScaleDownWindow != d.ScaleDownWindow || cfg.Timeout != d.Timeout || cfg.ClusterCIDR != d.ClusterCIDR || cfg.ServiceCIDR != d.ServiceCIDR ||
		cfg.Bridge != d.Bridge || cfg.AddressLabel != d.AddressLabel || cfg.Logger == nil {
		t.Fatalf("withDefaults: %+v", cfg)
	}
	if _, err := (HPAConfig{Binary: "/bin/true", Rounds: -1}).withDefaults(); err == nil {
		t.Fatal("negative rounds: no error")
	}
}

func TestHPASettings(t *testing.T) {
	cfg := DefaultHPAConfig()
	cfg.FastSyncPeriod, cfg.FastMetricResolution = 2*time.Second, time.Second
	ss := cfg.settings()
	if len(ss) != 2 || ss[0].name != "default" || ss[1].name != "fast" {
		t.Fatalf("settings: %+v", ss)
	}
	if ss[0].annotations() != nil || ss[0].syncPeriod != 15*time.Second || ss[0].metricResolution != 15*time.Second || ss[0].hold() != 30*time.Second {
		t.Fatalf("default setting: %+v, hold %v", ss[0], ss[0].hold())
	}
	ann := ss[1].annotations()
	if ann["berth.io/hpa-sync-period"] != "2s" || ann["berth.io/hpa-metric-resolution"] != "1s" || len(ann) != 2 || ss[1].hold() != 10*time.Second {
		t.Fatalf("fast setting: annotations %v, hold %v", ann, ss[1].hold())
	}
	cfg.Settings = "fast"
	if ss := cfg.settings(); len(ss) != 1 || ss[0].name != "fast" {
		t.Fatalf("fast only: %+v", ss)
	}
}

func TestLevelHandler(t *testing.T) {
	var b bytes.Buffer
	base := slog.New(slog.NewTextHandler(&b, &slog.HandlerOptions{Level: slog.LevelInfo}))
	cfg, err := HPAConfig{Binary: "/bin/true", Logger: base, LogLevel: "debug"}.withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	cfg.Logger.With("k", "v").Debug("shown")
	cfg, _ = HPAConfig{Binary: "/bin/true", Logger: base, LogLevel: "warn"}.withDefaults()
	cfg.Logger.Info("hidden")
	cfg.Logger.WithGroup("g").Warn("warned", "a", 1)
	out := b.String()
	if !strings.Contains(out, "msg=shown k=v") || strings.Contains(out, "hidden") || !strings.Contains(out, "msg=warned g.a=1") {
		t.Fatalf("log:\n%s", out)
	}
}

func TestCountFlaps(t *testing.T) {
	for _, tc := range []struct {
		name      string
		changes   []HPAChange
		low, high int
	}{
		{"none", nil, 0, 0},
		{"one step up", []HPAChange{{S: 1.2, From: 1, To: 3}}, 0, 0},
		{"two steps up", []HPAChange{{S: 1.2, From: 1, To: 2}, {S: 2.2, From: 2, To: 3}}, 0, 0},
		{"before the step", []HPAChange{{S: -3, From: 1, To: 2}, {S: -1, From: 2, To: 1}, {S: 1, From: 1, To: 3}}, 2, 0},
		{"down while high", []HPAChange{{S: 1, From: 1, To: 3}, {S: 9, From: 3, To: 2}, {S: 12, From: 2, To: 3}}, 0, 1},
		{"overshoot", []HPAChange{{S: 1, From: 1, To: 4}, {S: 20, From: 4, To: 3}}, 0, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if low, high := countFlaps(tc.changes, 3); low != tc.low || high != tc.high {
				t.Fatalf("flaps low %d, high %d; want %d, %d", low, high, tc.low, tc.high)
			}
		})
	}
}

// sampleHPAResult is a plausible run of both settings, five rounds each.
func sampleHPAResult() *HPAResult {
	r := &HPAResult{Bench: "hpa", TargetRPS: 20, LowRPS: 10, HighRPS: 50, MinReplicas: 1, MaxReplicas: 4, ExpectedReplicas: 3, ScaleDownWindowS: 15,
		Root: true, StartToReadyMs: 700, Machine: Machine{CPUs: 2, Go: "go1.26", OS: "linux"}}
	for _, s := range []struct {
		name      string
		period    float64
		reactions []float64
	}{{"default", 15, []float64{12.5, 24.1, 7.9, 18.2, 31.0}}, {"fast", 1, []float64{1.2, 1.7, 2.4, 0.9, 1.5}}} {
		sr := HPASettingResult{Name: s.name, SyncPeriodS: s.period, MetricResolutionS: s.period, HoldS: max(10, 2*s.period), Requests: 5000}
		for i, v := range s.reactions {
			rd := HPARound{PhaseS: float64(i) * s.period / 5, ReactionS: v, FirstReplicas: 3, ExpectedS: v, ReadyS: v + 1.1, ScaleDownS: 16 + s.period,
				Changes: []HPAChange{{S: v, From: 1, To: 3}, {S: v + 30, From: 3, To: 1}}}
			sr.Rounds = append(sr.Rounds, rd)
		}
		r.Settings = append(r.Settings, sr)
	}
	r.Settings[0].Rounds[1].HighFlaps = 1
	r.Settings[0].Rounds[2].FirstReplicas, r.Settings[0].Rounds[2].ExpectedS = 2, 22.9
	r.summarize()
	return r
}

func TestHPASummarizeAndTable(t *testing.T) {
	r := sampleHPAResult()
	d, f := r.setting("default"), r.setting("fast")
	if d.MedianS != 18.2 || d.MeanS != 18.74 || d.MaxS != 31 || d.Flaps != 1 || len(d.ReactionS) != 5 || d.ReactionS[1] != 24.1 {
		t.Fatalf("default: %+v", d)
	}
	if f.MedianS != 1.5 || f.MeanS != 1.54 || f.MaxS != 2.4 || f.Flaps != 0 {
		t.Fatalf("fast: %+v", f)
	}
	if r.Targets.FastMaxS != 5 || r.Kubernetes.MeanS != 27.5 || r.Kubernetes.MaxS != 55 || !r.TargetsMet["fast_max_s"] || !r.TargetsMet["fast_flaps"] || len(r.TargetsMet) != 2 {
		t.Fatalf("targets %+v, met %v", r.Targets, r.TargetsMet)
	}
	var b bytes.Buffer
	if _, err := finishRun(&b, "hpa", r, nil, false, "", WriteHPAPlot, nil); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"berth bench hpa", "stepped to 50 req/s", "target 20 per pod", "setting default: sync period 15s", "setting fast: sync period 1s",
		"median 18.20 s, mean 18.74 s, max 31.00 s; flaps 1", "1.2: 1→3", "27.5 s mean, 55 s worst", "fast: slowest reaction  2.40 s  ≤ 5 s  met",
		"pod processes left after the run: none"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("summary has no %q:\n%s", want, b.String())
		}
	}
	last := lastJSONLine(t, b.String())
	for _, k := range []string{"bench", "target_rps", "low_rps", "high_rps", "expected_replicas", "settings", "targets", "kubernetes", "targets_met", "machine", "root"} {
		if _, ok := last[k]; !ok {
			t.Errorf("JSON has no %q", k)
		}
	}
	settings := last["settings"].([]any)
	s0 := settings[0].(map[string]any)
	for _, k := range []string{"name", "sync_period_s", "metric_resolution_s", "rounds", "reaction_s", "median_s", "mean_s", "max_s", "flaps", "requests", "errors", "other_cpu_pct", "cpu_seconds"} {
		if _, ok := s0[k]; !ok {
			t.Errorf("setting JSON has no %q", k)
		}
	}
	rd := s0["rounds"].([]any)[0].(map[string]any)
	for _, k := range []string{"phase_s", "reaction_s", "first_replicas", "expected_s", "ready_s", "scale_down_s", "low_flaps", "high_flaps", "changes"} {
		if _, ok := rd[k]; !ok {
			t.Errorf("round JSON has no %q", k)
		}
	}

	// A slow fast setting misses the target; the default alone has none.
	r.Settings[1].Rounds[2].ReactionS = 6
	r.summarize()
	if r.TargetsMet["fast_max_s"] || r.setting("fast").MaxS != 6 {
		t.Fatalf("fast at 6 s: met %v", r.TargetsMet)
	}
	r.Settings = r.Settings[:1]
	r.summarize()
	if len(r.TargetsMet) != 0 {
		t.Fatalf("default only: met %v", r.TargetsMet)
	}
	var empty HPASettingResult
	empty.summarize()
	if empty.MaxS != 0 || empty.ReactionS == nil {
		t.Fatalf("no rounds: %+v", empty)
	}
}

func TestWriteHPAPlot(t *testing.T) {
	file := filepath.Join(t.TempDir(), "hpa.png")
	if err := WriteHPAPlot(file, sampleHPAResult()); err != nil {
		t.Fatal(err)
	}
	checkPlotFile(t, file)
	// A reaction beyond the Kubernetes worst case widens the axis.
	r := sampleHPAResult()
	r.Settings[0].Rounds[0].ReactionS = 80
	if err := WriteHPAPlot(file, r); err != nil {
		t.Fatal(err)
	}
	if err := WriteHPAPlot(file, &HPAResult{Settings: []HPASettingResult{{Name: "fast"}}}); err == nil {
		t.Fatal("plot of no rounds: no error")
	}
}

func TestOpenLoad(t *testing.T) {
	var hits atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if hits.Add(1)%10 == 0 {
			http.Error(w, "no", http.StatusServiceUnavailable)
			return
		}
		io.WriteString(w, "hello")
	}))
	defer srv.Close()
	goroutines := runtime.NumGoroutine()
	g := newOpenLoad(srv.URL)
	ctx, cancel := context.WithCancel(t.Context())
	go g.run(ctx)
	if c := g.counts(); c.sent != 0 {
		t.Fatalf("idle load sent %d", c.sent)
	}
	t0, err := g.setRate(ctx, 200)
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(500 * time.Millisecond)
	t1, _ := g.setRate(ctx, 0)
	mid := g.counts()
	// 200/s for the time between the two changes, the first at once.
	want := 1 + int64(t1.Sub(t0).Seconds()*200)
	if mid.sent < want-5 || mid.sent > want+1 || mid.skipped != 0 {
		t.Fatalf("sent %d (skipped %d) in %v at 200/s, want about %d", mid.sent, mid.skipped, t1.Sub(t0), want)
	}
	time.Sleep(100 * time.Millisecond)
	if c := g.counts(); c.sent != mid.sent {
		t.Fatalf("rate 0 still sends: %d → %d", mid.sent, c.sent)
	}
	cancel()
	<-g.done
	c := g.counts()
	if c.failed != hits.Load()/10 || c.sub(mid).sent != 0 {
		t.Fatalf("counts %+v, %d hits: want every tenth failed", c, hits.Load())
	}
	if _, err := g.setRate(t.Context(), 10); err == nil {
		t.Fatal("setRate after the end: no error")
	}
	srv.CloseClientConnections()
	checkGoroutinesEnded(t, goroutines, "openLoad.run")
}

func TestScaleTracker(t *testing.T) {
	tr := newScaleTracker("web")
	dep := func(name string, replicas, current, ready int32) *appsv1.Deployment {
		return &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: appsv1.DeploymentSpec{Replicas: &replicas},
			Status: appsv1.DeploymentStatus{Replicas: current, ReadyReplicas: ready}}
	}
	ctx := t.Context()
	tr.observe(dep("web", 1, 1, 1))
	tr.observe(dep("other", 5, 5, 5)) // not tracked
	if st, _ := tr.snapshot(); st != (deploymentState{seen: true, replicas: 1, current: 1, ready: 1}) {
		t.Fatalf("state %+v", st)
	}
	t0 := time.Now()
	go func() {
		time.Sleep(50 * time.Millisecond)
		tr.observe(dep("web", 1, 1, 1)) // no change of spec.replicas
		tr.observe(dep("web", 3, 1, 1))
		tr.observe(dep("web", 3, 3, 2))
		tr.observe(dep("web", 3, 3, 3))
	}()
	first, err := tr.firstChangeAfter(ctx, t0, 5*time.Second, nil)
	if err != nil || first.from != 1 || first.to != 3 || first.at.Before(t0) {
		t.Fatalf("first change %+v, %v", first, err)
	}
	at, err := tr.await(ctx, 5*time.Second, "3 Ready", nil, func(st deploymentState) bool { return st.ready == 3 })
	if err != nil || at.Before(first.at) {
		t.Fatalf("await: %v at %v", err, at)
	}
	if cs := tr.changesSince(t0); len(cs) != 1 {
		t.Fatalf("changes %+v", cs)
	}
	if cs := tr.changesSince(time.Now()); len(cs) != 0 {
		t.Fatalf("changes since now %+v", cs)
	}
	if _, err := tr.await(ctx, 50*time.Millisecond, "5 replicas", nil, func(st deploymentState) bool { return st.replicas == 5 }); err == nil ||
		!strings.Contains(err.Error(), "5 replicas not within --timeout 50ms (last seen: spec.replicas 3, 3 current, 3 Ready)") {
		t.Fatalf("timeout: %v", err)
	}
	stop := make(chan struct{})
	close(stop)
	if _, err := tr.await(ctx, time.Minute, "never", stop, func(deploymentState) bool { return false }); err == nil || !strings.Contains(err.Error(), "exited") {
		t.Fatalf("stopped: %v", err)
	}
}

func TestFindWebApp(t *testing.T) {
	dir := t.TempDir()
	exe := filepath.Join(dir, "webapp")
	if err := os.WriteFile(exe, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.DiscardHandler)
	if got, err := findWebApp(t.Context(), exe, "/bin/true", dir, log); err != nil || got != exe {
		t.Fatalf("--webapp %s: %q, %v", exe, got, err)
	}
	if _, err := findWebApp(t.Context(), filepath.Join(dir, "missing"), "/bin/true", dir, log); err == nil || !strings.Contains(err.Error(), "--webapp") {
		t.Fatalf("missing --webapp: %v", err)
	}
	if _, err := findWebApp(t.Context(), dir, "/bin/true", dir, log); err == nil || !strings.Contains(err.Error(), "not an executable file") {
		t.Fatalf("--webapp a directory: %v", err)
	}
	// Outside the module: the webapp next to the binary, else an error.
	t.Chdir(t.TempDir())
	if got, err := findWebApp(t.Context(), "", filepath.Join(dir, "berth"), dir, log); err != nil || got != exe {
		t.Fatalf("next to the binary: %q, %v", got, err)
	}
	if _, err := findWebApp(t.Context(), "", "/nonexistent/berth", dir, log); err == nil || !strings.Contains(err.Error(), "go build -o webapp ./examples/webapp") {
		t.Fatalf("nothing found: %v", err)
	}
}

func TestRunHPAServerFails(t *testing.T) {
	if os.Geteuid() != 0 {
		var out bytes.Buffer
		_, err := RunHPA(t.Context(), HPAConfig{Binary: "/bin/false", WebApp: "/bin/true"}, &out)
		if err == nil || !strings.Contains(err.Error(), "needs root") {
			t.Fatalf("without root: %v", err)
		}
		return
	}
	checkServerFails(t, "hpa", func(binary string, log *slog.Logger, out io.Writer) error {
		_, err := RunHPA(context.Background(), HPAConfig{Binary: binary, WebApp: "/bin/true", Logger: log}, out)
		return err
	})
}

// TestRunHPASmall times one load step with the fast setting through the
// prebuilt binary named by BERTH_BIN, as root (pod networks, ClusterIPs);
// the web app is built from the module.
func TestRunHPASmall(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns a berth server and a berth agent for ~1 min; runs without -short")
	}
	if os.Geteuid() != 0 {
		t.Skip("needs root (pod networks, ClusterIPs)")
	}
	bin := berthBin(t)
	goroutines := runtime.NumGoroutine()
	var out bytes.Buffer
	plot := filepath.Join(t.TempDir(), "hpa.png")
	cfg := HPAConfig{Rounds: 1, Settings: "fast", Binary: bin, PlotFile: plot, Logger: warnLogger(t)}
	res, err := RunHPA(t.Context(), cfg, &out)
	t.Logf("output:\n%s", out.String())
	if err != nil {
		t.Fatalf("RunHPA: %v", err)
	}
	last := lastJSONLine(t, out.String())
	if last["bench"] != "hpa" || last["expected_replicas"] != 3.0 {
		t.Fatalf("last line: %v", last)
	}
	s := res.Settings[0]
	if s.Name != "fast" || len(s.Rounds) != 1 || s.Rounds[0].ReactionS <= 0 || s.Rounds[0].FirstReplicas < 2 || s.Errors > s.Requests/100 {
		t.Errorf("setting: %+v", s)
	}
	// Generous: the target is 5 s on a quiet machine.
	if s.MaxS > 15 {
		t.Errorf("reaction %v s with 1 s periods", s.MaxS)
	}
	if res.LeftoverProcesses != 0 {
		t.Errorf("%d processes of the pods left", res.LeftoverProcesses)
	}
	b, _ := json.Marshal(res)
	t.Logf("result: %s", b)
	checkPlotFile(t, plot)
	checkGoroutinesEnded(t, goroutines, "RunHPA")
}
