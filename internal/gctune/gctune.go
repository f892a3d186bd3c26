package gctune

import (
	"context"
	"log/slog"
	"os"
	"runtime/debug"
	"runtime/metrics"
	"time"
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
	// process counts as idle again (default 3 s); then it collects and
	// returns the memory it no longer needs to the system.
	IdleAfter time.Duration
	// MaxHeadroom bounds the heap growth between collections that the busy
	// percentage may allow (default 256 MiB); it never goes below what the
	// idle percentage allows.
	MaxHeadroom uint64
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
	if c.MaxHeadroom == 0 {
		c.MaxHeadroom = 256 << 20
	}
	if c.IdleAfter <= 0 {
		c.IdleAfter = 3 * time.Second
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
	if live > 0 {
		if fit := c.MaxHeadroom * 100 / live; fit < uint64(percent) {
			percent = int(fit)
		}
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
		if samples[0].Value.Kind() == metrics.KindUint64 {
			allocs = samples[0].Value.Uint64()
		}
		if samples[1].Value.Kind() == metrics.KindUint64 {
			live = samples[1].Value.Uint64()
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
				if percent == cfg.Idle {
					debug.FreeOSMemory() // idle again: give back what the busy heap held
				}
				log.Debug("garbage collector percentage changed", "from", current, "to", percent,
					"allocMiBPerS", int(rate/(1<<20)), "liveHeapMiB", live>>20)
				current = percent
			}
		}
	}
}
