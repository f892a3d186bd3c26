package gctune

import (
	"context"
	"log/slog"
	"os"
	"runtime/debug"
	"runtime/metrics"
	"time"

	"golang.org/x/sys/unix"
)

// Config sets the percentages and thresholds; zero fields take defaults.
type Config struct {
	// Idle is the percentage while the process is idle (default 100).
	Idle int
	// Busy is the percentage while it is busy (default 400).
	Busy int
	// BusyRate is the allocation rate, bytes per second, from which the
	// process counts as busy (default 32 MiB/s).
	BusyRate float64
	// IdleAfter is how long the rate must stay below BusyRate before the
	// process counts as idle again (default 10 s).
	IdleAfter time.Duration
	// MaxHeap bounds the heap goal the busy percentage may lead to
	// (default: an eighth of physical memory, at least 256 MiB).
	MaxHeap uint64
	// Interval is the sampling period (default 100 ms: a burst of
	// requests is served with the busy percentage almost from its start).
	Interval time.Duration
}

func (c Config) withDefaults() Config {
	if c.Idle <= 0 {
		c.Idle = 100
	}
	if c.Busy <= 0 {
		c.Busy = 400
	}
	if c.BusyRate <= 0 {
		c.BusyRate = 32 << 20
	}
	if c.MaxHeap == 0 {
		c.MaxHeap = 256 << 20
		var si unix.Sysinfo_t
		if unix.Sysinfo(&si) == nil {
			if m := uint64(si.Totalram) * uint64(si.Unit) / 8; m > c.MaxHeap {
				c.MaxHeap = m
			}
		}
	}
	if c.IdleAfter <= 0 {
		c.IdleAfter = 10 * time.Second
	}
	if c.Interval <= 0 {
		c.Interval = 100 * time.Millisecond
	}
	return c
}

// choose returns the percentage for a live heap (bytes) when the process is
// busy or not.
func (c Config) choose(busy bool, live uint64) int {
	if !busy {
		return c.Idle
	}
	percent := c.Busy
	if live > 0 && live < c.MaxHeap {
		if fit := int((c.MaxHeap/live-1)*100 + (c.MaxHeap%live)*100/live); fit < percent {
			percent = fit
		}
	} else if live >= c.MaxHeap {
		percent = c.Idle
	}
	if percent < c.Idle {
		percent = c.Idle
	}
	return percent
}

// Run adapts the percentage until ctx ends, then restores the idle one.
// It returns at once when GOGC is set in the environment.
func Run(ctx context.Context, cfg Config, log *slog.Logger) {
	if os.Getenv("GOGC") != "" {
		log.Debug("GOGC is set; the collector's percentage stays as given")
		return
	}
	cfg = cfg.withDefaults()
	samples := []metrics.Sample{{Name: "/gc/heap/allocs:bytes"}, {Name: "/gc/heap/live:bytes"}}
	read := func() (allocs, live uint64) {
		metrics.Read(samples)
		for i, s := range samples {
			if s.Value.Kind() != metrics.KindUint64 {
				continue
			}
			if i == 0 {
				allocs = s.Value.Uint64()
			} else {
				live = s.Value.Uint64()
			}
		}
		return allocs, live
	}
	debug.SetGCPercent(cfg.Idle)
	current := cfg.Idle
	defer debug.SetGCPercent(cfg.Idle)
	lastAllocs, _ := read()
	last, lastBusy := time.Now(), time.Time{}
	t := time.NewTicker(cfg.Interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			allocs, live := read()
			rate := float64(allocs-lastAllocs) / now.Sub(last).Seconds()
			lastAllocs, last = allocs, now
			if rate >= cfg.BusyRate {
				lastBusy = now
			}
			percent := cfg.choose(!lastBusy.IsZero() && now.Sub(lastBusy) < cfg.IdleAfter, live)
			if percent != current {
				debug.SetGCPercent(percent)
				log.Debug("garbage collector percentage changed", "from", current, "to", percent,
					"allocMiBPerS", int(rate/(1<<20)), "liveHeapMiB", live>>20)
				current = percent
			}
		}
	}
}
