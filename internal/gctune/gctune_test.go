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
	c := Config{Idle: 100, Busy: 400, MaxHeadroom: 256 << 20}.withDefaults()
	tests := []struct {
		name string
		busy bool
		live uint64
		want int
	}{
		{"idle", false, 20 << 20, 100},
		{"busy", true, 20 << 20, 400},
		{"the headroom caps the percentage", true, 100 << 20, 256},
		{"never below idle", true, 512 << 20, 100},
		{"no live heap measured yet", true, 0, 400},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := c.choose(tt.busy, tt.live)
			if p != tt.want {
				t.Errorf("choose(%v, %d MiB) = %d; want %d", tt.busy, tt.live>>20, p, tt.want)
			}
			if headroom := tt.live * uint64(p) / 100; p > c.Idle && headroom > c.MaxHeadroom {
				t.Errorf("headroom %d MiB exceeds MaxHeadroom %d MiB", headroom>>20, c.MaxHeadroom>>20)
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

func TestRunRaisesThePercentageUnderLoadAndLowersItAfter(t *testing.T) {
	if os.Getenv("GOGC") != "" {
		t.Skip("GOGC is set in the environment, which Run leaves alone by design")
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		Run(ctx, Config{BusyRate: 1 << 20, Interval: 5 * time.Millisecond, IdleAfter: 200 * time.Millisecond, MaxHeadroom: 1 << 40}, slog.New(slog.DiscardHandler))
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
	sink = nil
	deadline = time.Now().Add(10 * time.Second)
	for gogc() != 100 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if got := gogc(); got != 100 {
		t.Errorf("GOGC after the load stopped = %d, want 100", got)
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
