package store

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"go.etcd.io/etcd/api/v3/mvccpb"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// defaultCallTimeout bounds each etcd call when Options.CallTimeout is 0.
const defaultCallTimeout = 5 * time.Second

// KV is one key read from the store.
type KV struct {
	// Key is relative to Options.Prefix.
	Key string
	// Value is the stored bytes.
	Value []byte
	// ModRevision is the revision of the key's last write (its resourceVersion).
	ModRevision int64
}

// Options configure a Store.
type Options struct {
	// Prefix is prepended to every key, e.g. "/registry/". All keys passed
	// to and returned by Store methods are relative to it.
	Prefix string
	// CallTimeout bounds each etcd call; when it passes the call fails with
	// ErrUnavailable. Zero means 5 seconds.
	CallTimeout time.Duration
	// Logger receives the store's own log lines. Nil means slog.Default().
	Logger *slog.Logger
	// LeaseReuse is how long one etcd lease serves the expiring writes
	// (CreateTTL, UpdateTTL) of one TTL t, at most 5 % of t: a key expires
	// between t and t+min(LeaseReuse, t/20) after its last write, and the
	// store grants one lease per such window and TTL. Zero means a minute,
	// as Kubernetes' API server; negative means a lease per write.
	LeaseReuse time.Duration
}

// Store is typed, prefix-scoped access to etcd. It is safe for concurrent use.
type Store struct {
	cli     *clientv3.Client
	prefix  string
	timeout time.Duration
	log     *slog.Logger
	// watchCheck is how long a watch may see nothing before it probes etcd
	// to find out whether etcd is still there.
	watchCheck time.Duration
	// leases hands out the leases of expiring writes.
	leases leasePool
}

// New returns a Store that uses cli for all etcd traffic. The caller keeps
// ownership of cli and closes it after it is done with the Store.
func New(cli *clientv3.Client, opts Options) *Store {
	s := &Store{cli: cli, prefix: opts.Prefix, timeout: opts.CallTimeout, log: opts.Logger}
	if s.timeout <= 0 {
		s.timeout = defaultCallTimeout
	}
	if s.log == nil {
		s.log = slog.Default()
	}
	s.watchCheck = max(2*s.timeout, 10*time.Second)
	s.leases.reuse = opts.LeaseReuse
	switch {
	case s.leases.reuse == 0:
		s.leases.reuse = time.Minute
	case s.leases.reuse < 0:
		s.leases.reuse = 0
	}
	return s
}

// Client returns the etcd client the Store was created with.
func (s *Store) Client() *clientv3.Client { return s.cli }

// full turns a relative key into the etcd key.
func (s *Store) full(key string) string { return s.prefix + key }

// rel turns an etcd key into a key relative to the prefix.
func (s *Store) rel(key []byte) string { return strings.TrimPrefix(string(key), s.prefix) }

// call derives the per-call context.
func (s *Store) call(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, s.timeout)
}

func (s *Store) toKV(kv *mvccpb.KeyValue) KV {
	return KV{Key: s.rel(kv.Key), Value: kv.Value, ModRevision: kv.ModRevision}
}

// Get returns the key's current value and ModRevision, or ErrNotFound.
func (s *Store) Get(ctx context.Context, key string) (KV, error) {
	cctx, cancel := s.call(ctx)
	defer cancel()
	resp, err := s.cli.Get(cctx, s.full(key))
	if err != nil {
		return KV{}, wrapErr(ctx, cctx, "get", key, err)
	}
	if len(resp.Kvs) == 0 {
		return KV{}, fmt.Errorf("store: get %q: %w", key, ErrNotFound)
	}
	return s.toKV(resp.Kvs[0]), nil
}

// GetForUpdate reads key like Get, but as a serializable read: it skips the
// linearizable read barrier, so on an etcd follower it may return a slightly
// old revision. Use it only to read what a revision-guarded write
// (Update/Delete with expectedRev) then changes: a stale read makes that
// write fail with ErrConflict instead of losing an update. A key it does
// not find is looked up again linearizably before ErrNotFound is returned.
func (s *Store) GetForUpdate(ctx context.Context, key string) (KV, error) {
	cctx, cancel := s.call(ctx)
	defer cancel()
	resp, err := s.cli.Get(cctx, s.full(key), clientv3.WithSerializable())
	if err != nil {
		return KV{}, wrapErr(ctx, cctx, "get", key, err)
	}
	if len(resp.Kvs) == 0 {
		// Absence is not guarded by the write's revision check: a stale read
		// could miss a key that was just created (and already announced by
		// a watch). Confirm it with a linearizable read.
		return s.Get(ctx, key)
	}
	return s.toKV(resp.Kvs[0]), nil
}

// ListOptions select what List reads.
type ListOptions struct {
	// Revision is the revision to read at; 0 means the latest.
	Revision int64
	// StartAfter, when set, restricts the result to keys strictly greater
	// than this relative key (the last key of the previous page).
	StartAfter string
	// Limit caps the number of keys returned; 0 means no limit.
	Limit int64
}

// List returns the keys that start with prefix, in key order, as of
// opts.Revision. rev is the revision the read happened at (the store's
// current revision when opts.Revision is 0, else opts.Revision); pass it as
// Revision for the following pages to get a consistent snapshot. more reports
// that further keys follow the last one returned. Reading a compacted
// revision gives ErrCompacted, a revision above the current one
// ErrFutureRevision.
func (s *Store) List(ctx context.Context, prefix string, opts ListOptions) (kvs []KV, rev int64, more bool, err error) {
	start, end := prefixRange(s.full(prefix))
	if opts.StartAfter != "" {
		if after := s.full(opts.StartAfter) + "\x00"; after > start {
			start = after
		}
	}
	ops := []clientv3.OpOption{}
	if opts.Revision > 0 {
		ops = append(ops, clientv3.WithRev(opts.Revision))
	}
	empty := end != "\x00" && start >= end
	if empty {
		// Nothing can match, but the revision must still be validated
		// and reported: read one key, count only.
		ops = append(ops, clientv3.WithCountOnly())
	} else {
		ops = append(ops, clientv3.WithRange(end))
		if opts.Limit > 0 {
			ops = append(ops, clientv3.WithLimit(opts.Limit))
		}
	}
	cctx, cancel := s.call(ctx)
	defer cancel()
	resp, err := s.cli.Get(cctx, start, ops...)
	if err != nil {
		return nil, 0, false, wrapErr(ctx, cctx, "list", prefix, err)
	}
	rev = opts.Revision
	if rev == 0 {
		rev = resp.Header.Revision
	}
	if empty {
		return nil, rev, false, nil
	}
	kvs = make([]KV, len(resp.Kvs))
	for i, kv := range resp.Kvs {
		kvs[i] = s.toKV(kv)
	}
	return kvs, rev, resp.More, nil
}

// Count returns the number of keys that start with prefix.
func (s *Store) Count(ctx context.Context, prefix string) (int64, error) {
	start, end := prefixRange(s.full(prefix))
	cctx, cancel := s.call(ctx)
	defer cancel()
	resp, err := s.cli.Get(cctx, start, clientv3.WithRange(end), clientv3.WithCountOnly())
	if err != nil {
		return 0, wrapErr(ctx, cctx, "count", prefix, err)
	}
	return resp.Count, nil
}

// CurrentRevision returns the store's current revision.
func (s *Store) CurrentRevision(ctx context.Context) (int64, error) {
	key := s.full("")
	if key == "" {
		key = "\x00"
	}
	cctx, cancel := s.call(ctx)
	defer cancel()
	resp, err := s.cli.Get(cctx, key, clientv3.WithCountOnly())
	if err != nil {
		return 0, wrapErr(ctx, cctx, "current revision", "", err)
	}
	return resp.Header.Revision, nil
}

// prefixRange returns the etcd range [start, end) of keys with prefix p.
func prefixRange(p string) (start, end string) {
	if p == "" {
		return "\x00", "\x00"
	}
	return p, clientv3.GetPrefixRangeEnd(p)
}
