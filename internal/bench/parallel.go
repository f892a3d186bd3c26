package bench

import (
	"context"
	"fmt"
	"sync"
	"time"
)

// opTimeout bounds one request.
const opTimeout = 60 * time.Second

// phase is the outcome of running one verb at one concurrency level.
type phase struct {
	latencies []time.Duration
	wall      time.Duration
}

// stats summarises a phase.
func (p phase) stats() OpStats {
	ms := SortedMillis(p.latencies)
	s := OpStats{P50Ms: round(Percentile(ms, 50), 3), P99Ms: round(Percentile(ms, 99), 3)}
	if p.wall > 0 {
		s.OpsPerS = round(float64(len(p.latencies))/p.wall.Seconds(), 1)
	}
	return s
}

// parallel runs op for i in [0, n) on c goroutines; goroutine g runs the
// indexes i ≡ g (mod c), so each goroutine always works on its own objects.
// op gets the time its request is sent. The first error cancels the other
// goroutines and is returned; parallel returns only after all of them ended.
func parallel(ctx context.Context, c, n int, op func(ctx context.Context, i int, sent time.Time) error) (phase, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	per := make([][]time.Duration, c)
	var (
		wg       sync.WaitGroup
		errOnce  sync.Once
		firstErr error
	)
	start := time.Now()
	for g := range c {
		wg.Go(func() {
			lat := make([]time.Duration, 0, n/c+1)
			for i := g; i < n; i += c {
				if ctx.Err() != nil {
					break
				}
				opCtx, opCancel := context.WithTimeout(ctx, opTimeout)
				t0 := time.Now()
				err := op(opCtx, i, t0)
				d := time.Since(t0)
				opCancel()
				if err != nil {
					errOnce.Do(func() {
						firstErr = fmt.Errorf("operation %d: %w", i, err)
						cancel()
					})
					break
				}
				lat = append(lat, d)
			}
			per[g] = lat
		})
	}
	wg.Wait()
	p := phase{wall: time.Since(start)}
	if firstErr != nil {
		return p, firstErr
	}
	if err := ctx.Err(); err != nil {
		return p, err
	}
	for _, l := range per {
		p.latencies = append(p.latencies, l...)
	}
	return p, nil
}

// sleepCtx waits for d (nothing when d <= 0) or until ctx is done, then
// returns ctx's error.
func sleepCtx(ctx context.Context, d time.Duration) error {
	if d > 0 {
		t := time.NewTimer(d)
		defer t.Stop()
		select {
		case <-t.C:
		case <-ctx.Done():
		}
	}
	return ctx.Err()
}
