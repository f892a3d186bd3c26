package bench

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"
)

// TestRunAPISmall runs a tiny benchmark against the prebuilt binary named
// by BERTH_BIN (scripts/test.sh sets it).
func TestRunAPISmall(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns a berth server and benchmarks it for ~15 s; runs without -short")
	}
	bin := berthBin(t)
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
		Logger:      warnLogger(t),
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	res, err := RunAPI(ctx, cfg, &out)
	if err != nil {
		t.Fatalf("RunAPI: %v\noutput:\n%s", err, out.String())
	}
	t.Logf("output:\n%s", out.String())

	last := lastJSONLine(t, out.String())
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

	checkGoroutinesEnded(t, goroutines, "RunAPI")
}

func TestRunAPIServerFails(t *testing.T) {
	checkServerFails(t, "api", func(binary string, log *slog.Logger, out io.Writer) error {
		_, err := RunAPI(context.Background(), APIConfig{Clients: []int{1}, Ops: 1, Binary: binary, Logger: log}, out)
		return err
	})
}
