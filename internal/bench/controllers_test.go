package bench

import (
	"bytes"
	"context"
	"github.com/berth-dev/berth/internal/plot"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// TestRunControllersSmall runs 20 Deployments × 3 replicas against the
// prebuilt binary named by BERTH_BIN (scripts/test.sh sets it).
func TestRunControllersSmall(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns a berth server and runs its controllers for ~10 s; runs without -short")
	}
	bin := berthBin(t)
	goroutines := runtime.NumGoroutine()
	var out bytes.Buffer
	plot := filepath.Join(t.TempDir(), "controllers.png")
	cfg := ControllersConfig{
		Deployments: 20, Replicas: 3, Nodes: 5, Clients: 4,
		Timeout: 2 * time.Minute, IdleWait: time.Second, PlotFile: plot, Binary: bin,
		Logger: warnLogger(t),
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	res, err := RunControllers(ctx, cfg, &out)
	if err != nil {
		t.Fatalf("RunControllers: %v\noutput:\n%s", err, out.String())
	}
	t.Logf("output:\n%s", out.String())

	last := lastJSONLine(t, out.String())
	if last["bench"] != "controllers" || last["pods_counted"] != 60.0 {
		t.Fatalf("last line: bench=%v pods_counted=%v", last["bench"], last["pods_counted"])
	}
	for _, k := range []string{"create_deployments_s", "all_pods_created_s", "pods_per_s", "deployments_synced_s", "idle_rss_mb", "rss_mb", "peak_rss_mb", "cpu_seconds", "targets", "targets_met", "machine"} {
		if _, ok := last[k]; !ok {
			t.Errorf("last line has no %q", k)
		}
	}
	if res.Pods != 60 || res.PodsCounted != 60 || res.ReplicaSetsCounted != 20 {
		t.Errorf("pods %d, counted %d, ReplicaSets counted %d; want 60, 60, 20", res.Pods, res.PodsCounted, res.ReplicaSetsCounted)
	}
	if res.PodsPerS <= 0 || res.AllPodsCreatedS <= 0 || res.CreateDeploymentsS <= 0 || res.CreateDeploymentsS > res.AllPodsCreatedS+1 || res.DeploymentsSyncedS <= 0 {
		t.Errorf("timings: create %v s, all pods %v s (%v pods/s), Deployments synced %v s",
			res.CreateDeploymentsS, res.AllPodsCreatedS, res.PodsPerS, res.DeploymentsSyncedS)
	}
	if res.IdleRSSMB <= 0 || res.RSSMB <= 0 || res.PeakRSSMB < res.RSSMB {
		t.Errorf("memory: idle %v MiB, with pods %v MiB, peak %v MiB", res.IdleRSSMB, res.RSSMB, res.PeakRSSMB)
	}
	if n := len(res.Samples); n < 2 || res.Samples[n-1].Created != 60 || res.Samples[n-1].Requested != 60 {
		t.Errorf("samples: %+v", res.Samples)
	}
	if _, err := os.Stat(plot); err != nil {
		t.Errorf("plot: %v", err)
	}

	checkGoroutinesEnded(t, goroutines, "RunControllers")
}

func TestRunControllersServerFails(t *testing.T) {
	checkServerFails(t, "controllers", func(binary string, log *slog.Logger, out io.Writer) error {
		_, err := RunControllers(context.Background(), ControllersConfig{Deployments: 1, Replicas: 1, Binary: binary, Logger: log}, out)
		return err
	})
}

func TestParseControllersArgs(t *testing.T) {
	cfg := checkDefaultsAndHelp(t, ParseControllersArgs, DefaultControllersConfig())
	if cfg.Deployments != 1000 || cfg.Replicas != 10 || cfg.Nodes != 100 || cfg.Clients != 16 || cfg.Timeout != 10*time.Minute {
		t.Fatalf("defaults: %+v", cfg)
	}
	cfg, err := ParseControllersArgs([]string{"--deployments", "20", "--replicas", "3", "--nodes", "0", "--clients", "4", "--timeout", "1m", "--json-only", "--plot", "x.png"}, io.Discard)
	if err != nil || cfg.Deployments != 20 || cfg.Replicas != 3 || cfg.Nodes != 0 || cfg.Clients != 4 || cfg.Timeout != time.Minute || !cfg.JSONOnly || cfg.PlotFile != "x.png" {
		t.Fatalf("flags: %+v, %v", cfg, err)
	}
	for _, tt := range []struct {
		args    []string
		wantErr string
	}{
		{[]string{"--deployments", "0"}, "--deployments"},
		{[]string{"--replicas", "-1"}, "--replicas"},
		{[]string{"--deployments", "100000", "--replicas", "100"}, "--deployments × --replicas"},
		{[]string{"--nodes", "-1"}, "--nodes"},
		{[]string{"--clients", "0"}, "--clients"},
		{[]string{"--timeout", "0s"}, "--timeout"},
		{[]string{"extra"}, "unexpected arguments"},
	} {
		if _, err := ParseControllersArgs(tt.args, io.Discard); err == nil || !strings.Contains(err.Error(), tt.wantErr) {
			t.Errorf("%v: error = %v, want one naming %q", tt.args, err, tt.wantErr)
		}
	}
}

// sampleControllersResult is a plausible run of 1,000 × 10.
func sampleControllersResult() *ControllersResult {
	r := &ControllersResult{Bench: "controllers", Deployments: 1000, Replicas: 10, Pods: 10000, CreateDeploymentsS: 2,
		AllPodsCreatedS: 16, DeploymentsSyncedS: 16.4, RSSMB: 350, PeakRSSMB: 380, Targets: ControllerTargets,
		Machine: Machine{CPUs: 2, Go: "go1.26", OS: "linux"}}
	for i := range 67 {
		s := float64(i) * 0.25
		r.Samples = append(r.Samples, ProgressSample{Seconds: s, Requested: min(10000, int(s*5000)), Created: min(10000, int(s*640))})
	}
	r.summarize()
	return r
}

func TestControllersSummarize(t *testing.T) {
	r := sampleControllersResult()
	if r.PodsPerS != 625 || !r.TargetsMet["pods_per_s"] || !r.TargetsMet["rss_mb"] {
		t.Fatalf("pods/s %v, targets met %v", r.PodsPerS, r.TargetsMet)
	}
	r.AllPodsCreatedS, r.RSSMB = 25, 401
	r.summarize()
	if r.PodsPerS != 400 || r.TargetsMet["pods_per_s"] || r.TargetsMet["rss_mb"] {
		t.Fatalf("slow run: pods/s %v, targets met %v", r.PodsPerS, r.TargetsMet)
	}
	var buf bytes.Buffer
	r.writeTable(&buf)
	if !strings.Contains(buf.String(), "NOT met") {
		t.Fatalf("table does not say a target was missed:\n%s", buf.String())
	}
}

func TestWriteControllersPlot(t *testing.T) {
	file := filepath.Join(t.TempDir(), "plot.png")
	if err := WriteControllersPlot(file, sampleControllersResult()); err != nil {
		t.Fatal(err)
	}
	checkPlotFile(t, file)
	if err := WriteControllersPlot(file, &ControllersResult{Pods: 1}); err == nil {
		t.Fatal("WriteControllersPlot without samples: want an error")
	}
}

func TestNiceStep(t *testing.T) {
	for _, tt := range []struct{ span, want float64 }{{10000, 2000}, {16.4, 5}, {0.9, 0.2}, {100, 20}, {0, 1}} {
		if got := plot.NiceStep(tt.span, 8); got != tt.want {
			t.Errorf("plot.NiceStep(%v, 8) = %v, want %v", tt.span, got, tt.want)
		}
	}
}

func TestProgress(t *testing.T) {
	p := newProgress(2, 3)
	p.start(time.Now().Add(-time.Second))
	p.setRS(rsWith("a", 3))
	p.setDeployment(depWith("a", 3))
	select {
	case <-p.done:
		t.Fatal("done after one of two Deployments")
	default:
	}
	p.setRS(rsWith("b", 1))
	p.setRS(rsWith("b", 3))
	p.setDeployment(depWith("b", 3))
	<-p.done
	allCreated, allSynced, created, fullRS, synced := p.state()
	if allCreated < time.Second || allSynced < allCreated || created != 6 || fullRS != 2 || synced != 2 {
		t.Fatalf("state: %v %v %d %d %d", allCreated, allSynced, created, fullRS, synced)
	}
	p.deleteRS(rsWith("a", 3))
	if _, _, created, fullRS, _ := p.state(); created != 3 || fullRS != 1 {
		t.Fatalf("after a delete: created %d, full %d", created, fullRS)
	}
}

func rsWith(name string, replicas int32) *appsv1.ReplicaSet {
	return &appsv1.ReplicaSet{ObjectMeta: metav1.ObjectMeta{Name: name}, Status: appsv1.ReplicaSetStatus{Replicas: replicas}}
}

func depWith(name string, replicas int32) *appsv1.Deployment {
	return &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: name}, Status: appsv1.DeploymentStatus{Replicas: replicas}}
}
