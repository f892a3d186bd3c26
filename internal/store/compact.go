package store

import (
	"context"
	"errors"
	"time"
)

// Compact discards the history before revision rev: reads and watches at
// older revisions then fail with ErrCompacted. Compacting to a revision that
// is already compacted gives ErrCompacted, to a revision above the current
// one ErrFutureRevision.
func (s *Store) Compact(ctx context.Context, rev int64) error {
	cctx, cancel := s.call(ctx)
	defer cancel()
	_, err := s.cli.Compact(cctx, rev)
	return wrapErr(ctx, cctx, "compact", "", err)
}

// RunCompactor compacts etcd every interval until ctx is done. Each tick
// compacts to the revision observed at the previous tick, so every change
// made during the last interval stays readable and watchable while older
// history is discarded. A non-positive interval disables compaction and
// returns at once.
func (s *Store) RunCompactor(ctx context.Context, interval time.Duration) {
	if interval <= 0 {
		return
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	var observed, compacted int64
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		cur, err := s.CurrentRevision(ctx)
		if err != nil {
			if ctx.Err() == nil {
				s.log.Warn("etcd compaction skipped: cannot read current revision", "err", err)
			}
			continue
		}
		if observed > compacted {
			start := time.Now()
			switch err := s.Compact(ctx, observed); {
			case err == nil:
				s.log.Info("compacted etcd", "revision", observed, "current", cur, "took", time.Since(start).Round(time.Millisecond))
				compacted = observed
			case errors.Is(err, ErrCompacted):
				// Someone else (another server, an operator) already
				// compacted past it.
				compacted = observed
			case ctx.Err() != nil:
				return
			default:
				s.log.Warn("etcd compaction failed", "revision", observed, "err", err)
			}
		}
		observed = cur
	}
}
