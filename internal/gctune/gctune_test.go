package gctune

import (
	"context"
	"log/slog"
	"os"
	"runtime/debug"
	"runtime/metrics"
	"testing"
	"time"
)

func TestChoose(t *testing.T) {
	c := Config{Idle: 100, Busy: 400, MaxHeap: 1 << 30}.withDefaults()
	tests := []struct {
		name string
		busy bool
		live uint64
		want int
	}{
		{"idle", false, 20 << 20, 100},
		{"busy", true, 20 << 20, 400},
		{"a large live heap caps the percentage", true, 512 << 20, 100},
		{"the cap keeps the goal under MaxHeap", true, 300 << 20, 241},
		{"a live heap above MaxHeap falls back to idle", true, 2 << 30, 100},
		{"no live heap measured yet", true, 0, 400},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := c.choose(tt.busy, tt.live)
			if p != tt.want {
				t.Errorf("choose(%v, %d MiB) = %d; want %d", tt.busy, tt.live>>20, p, tt.want)
			}
			if goal := tt.live + tt.live*uint64(p)/100; tt.busy && p > c.Idle && goal > c.MaxHeap {
				t.Errorf("heap goal %d MiB exceeds MaxHeap %d MiB", goal>>20, c.MaxHeap>>20)
			}
		})
	}
}

// gogc reads the collector's current percentage.
func gogc() uint64 {
	s := []metrics.Sample{{Name: "/gc/gogc:percent"}}
	metrics.Read(s)
	return s[0].Value.Uint64()
}

func TestRunRaisesThePercentageUnderLoadAndRestoresIt(t *testing.T) {
	if os.Getenv("GOGC") != "" {
		t.Skip("GOGC is set in the environment, which Run leaves alone by design")
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		Run(ctx, Config{BusyRate: 1 << 20, Interval: 5 * time.Millisecond, IdleAfter: time.Hour, MaxHeap: 1 << 40}, slog.New(slog.DiscardHandler))
	}()
	var sink [][]byte
	deadline := time.Now().Add(10 * time.Second)
	for gogc() != 400 && time.Now().Before(deadline) {
		sink = append(sink, make([]byte, 64<<10))
		if len(sink) > 64 {
			sink = sink[:0]
		}
	}
	if got := gogc(); got != 400 {
		t.Fatalf("GOGC under load = %d, want 400", got)
	}
	cancel()
	<-done
	if got := gogc(); got != 100 {
		t.Errorf("GOGC after Run returned = %d, want 100", got)
	}
}

func TestRunLeavesAnEnvironmentGOGCAlone(t *testing.T) {
	t.Setenv("GOGC", "250")
	old := debug.SetGCPercent(250)
	defer debug.SetGCPercent(old)
	Run(context.Background(), Config{}, slog.New(slog.DiscardHandler)) // returns at once
	if got := gogc(); got != 250 {
		t.Errorf("GOGC = %d, want the environment's 250", got)
	}
}
