package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
)

// TestRunAPISmall runs a tiny benchmark against the prebuilt binary named
// by BERTH_BIN (scripts/test.sh sets it).
func TestRunAPISmall(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns a berth server and benchmarks it for ~15 s; runs without -short")
	}
	bin := os.Getenv("BERTH_BIN")
	if bin == "" {
		t.Skip("BERTH_BIN is unset: build the binary (go build -o bin/berth ./cmd/berth) and set BERTH_BIN=$PWD/bin/berth")
	}
	if _, err := os.Stat(bin); err != nil {
		t.Fatalf("BERTH_BIN: %v", err)
	}
	goroutines := runtime.NumGoroutine()
	var out bytes.Buffer
	plot := filepath.Join(t.TempDir(), "bench.png")
	cfg := APIConfig{
		Clients:     []int{1, 4},
		Ops:         40,
		ListObjects: 200,
		Binary:      bin,
		IdleWait:    time.Second,
		PlotFile:    plot,
		Logger:      slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn})),
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	res, err := RunAPI(ctx, cfg, &out)
	if err != nil {
		t.Fatalf("RunAPI: %v\noutput:\n%s", err, out.String())
	}
	t.Logf("output:\n%s", out.String())

	lines := strings.Split(strings.TrimRight(out.String(), "\n"), "\n")
	var last map[string]any
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &last); err != nil {
		t.Fatalf("last output line is not JSON: %v\n%s", err, lines[len(lines)-1])
	}
	if last["bench"] != "api" {
		t.Fatalf(`last line has bench=%v, want "api"`, last["bench"])
	}
	if _, ok := last["levels"]; !ok {
		t.Fatal("last line has no levels")
	}

	if len(res.Levels) != 2 || res.Levels[0].Clients != 1 || res.Levels[1].Clients != 4 {
		t.Fatalf("levels: %+v", res.Levels)
	}
	for _, l := range res.Levels {
		for name, s := range map[string]OpStats{"create": l.Create, "get": l.Get, "update": l.Update, "list": l.List, "delete": l.Delete} {
			if s.P50Ms <= 0 || s.P99Ms < s.P50Ms || s.OpsPerS <= 0 {
				t.Errorf("clients=%d %s: %+v, want positive latencies (p99 ≥ p50) and throughput", l.Clients, name, s)
			}
		}
		if w := l.WatchDelivery; w.P50Ms <= 0 || w.P99Ms < w.P50Ms || w.Missed != 0 {
			t.Errorf("clients=%d watch delivery: %+v", l.Clients, w)
		}
	}
	if b := res.List10k; b == nil || b.Objects != 200 || b.MedianMs <= 0 || b.MaxMs < b.MedianMs || b.PagedMedianMs <= 0 {
		t.Errorf("big list: %+v", res.List10k)
	}
	if res.StartToReadyMs <= 0 || res.IdleRSSMB <= 0 || res.RSSAfterLoadMB <= 0 || res.PeakRSSMB < res.RSSAfterLoadMB {
		t.Errorf("start/memory figures: start %v ms, idle %v MiB, after load %v MiB, peak %v MiB",
			res.StartToReadyMs, res.IdleRSSMB, res.RSSAfterLoadMB, res.PeakRSSMB)
	}
	if res.MutatingP99MsAtMaxClients <= 0 {
		t.Errorf("mutating p99 at max clients = %v", res.MutatingP99MsAtMaxClients)
	}
	if _, err := os.Stat(plot); err != nil {
		t.Errorf("plot: %v", err)
	}

	// Every goroutine RunAPI started has ended (HTTP/2 connection readers
	// may need a moment after their connection was closed).
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > goroutines && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > goroutines {
		buf := make([]byte, 1<<20)
		t.Errorf("%d goroutines before RunAPI, %d after:\n%s", goroutines, n, buf[:runtime.Stack(buf, true)])
	}
}

func TestRunAPIServerFails(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns a process; runs without -short")
	}
	var out bytes.Buffer
	_, err := RunAPI(context.Background(), APIConfig{Clients: []int{1}, Ops: 1, Binary: "/bin/false",
		Logger: slog.New(slog.NewTextHandler(testWriter{t}, nil))}, &out)
	if err == nil || !strings.Contains(err.Error(), "exited before it was ready") {
		t.Fatalf("RunAPI with a binary that exits: err = %v", err)
	}
	var last struct{ Bench, Error string }
	if json.Unmarshal(bytes.TrimSpace(out.Bytes()), &last) != nil || last.Bench != "api" || last.Error == "" {
		t.Fatalf("output %q: want one JSON error line", out.String())
	}
}

// testWriter sends logs to t.Log.
type testWriter struct{ t *testing.T }

func (w testWriter) Write(b []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(b), "\n"))
	return len(b), nil
}
