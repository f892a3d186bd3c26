package store

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// EventType says what happened to a key.
type EventType int

const (
	// Put means the key was created or updated.
	Put EventType = iota
	// Delete means the key was deleted.
	Delete
)

// String returns "PUT" or "DELETE".
func (t EventType) String() string {
	switch t {
	case Put:
		return "PUT"
	case Delete:
		return "DELETE"
	}
	return fmt.Sprintf("EventType(%d)", int(t))
}

// Event is one change seen by a Watcher.
type Event struct {
	// Type is Put or Delete.
	Type EventType
	// Key is relative to Options.Prefix.
	Key string
	// Value is the new value; nil for Delete.
	Value []byte
	// PrevValue is the value before the change; nil when the key did not
	// exist before (a creating Put), when the previous value is no longer
	// available, or for a Put when the watch did not ask for it
	// (WatchOptions.PutPrev).
	PrevValue []byte
	// ModRevision is the revision of the change.
	ModRevision int64
	// Created reports a Put that created the key.
	Created bool
}

// watchBuffer is the capacity of a Watcher's Events channel.
const watchBuffer = 100

// Watcher streams the changes under a prefix. Its goroutine runs until the
// Watch context is done, Stop is called or an error ends the stream; then
// Events is closed and Err tells why.
type Watcher interface {
	// Events delivers changes in revision order. It is closed when the
	// watch ends.
	Events() <-chan Event
	// Err is valid once Events is closed: nil when the watch was stopped
	// or its context ended, an error wrapping ErrCompacted when the start
	// revision was compacted, ErrUnavailable when etcd went away, or
	// another error.
	Err() error
	// Stop ends the watch, waits for its goroutine to exit and closes
	// Events. It is safe to call more than once and concurrently.
	Stop()
}

type watcher struct {
	events chan Event
	cancel context.CancelFunc
	done   chan struct{}

	mu  sync.Mutex
	err error
}

func (w *watcher) Events() <-chan Event { return w.events }

func (w *watcher) Err() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.err
}

func (w *watcher) Stop() {
	w.cancel()
	<-w.done
}

func (w *watcher) fail(err error) {
	w.mu.Lock()
	w.err = err
	w.mu.Unlock()
}

// WatchOptions tune a watch.
type WatchOptions struct {
	// PutPrev asks for the previous values of updated keys (PrevValue of
	// Put events). Delete events always carry theirs.
	PutPrev bool
}

// Watch streams the changes to keys under prefix made strictly after
// revision fromRev, with the previous values of updated keys; fromRev 0
// means changes after the current revision. The events are delivered in
// revision order, none are dropped: a slow reader holds the stream back.
// The watch requires an etcd leader, so losing etcd ends it with
// ErrUnavailable instead of leaving it silent.
func (s *Store) Watch(ctx context.Context, prefix string, fromRev int64) Watcher {
	return s.WatchWith(ctx, prefix, fromRev, WatchOptions{PutPrev: true})
}

// WatchWith is Watch with options. Without PutPrev, etcd is not asked for
// previous values (it would read one per event and watch); the previous
// value of a deleted key is read at the revision before the delete.
func (s *Store) WatchWith(ctx context.Context, prefix string, fromRev int64, o WatchOptions) Watcher {
	wctx, cancel := context.WithCancel(clientv3.WithRequireLeader(ctx))
	w := &watcher{
		events: make(chan Event, watchBuffer),
		cancel: cancel,
		done:   make(chan struct{}),
	}
	opts := []clientv3.OpOption{clientv3.WithPrefix()}
	if o.PutPrev {
		opts = append(opts, clientv3.WithPrevKV())
	}
	if fromRev > 0 {
		opts = append(opts, clientv3.WithRev(fromRev+1))
	}
	wch := s.cli.Watch(wctx, s.full(prefix), opts...)
	go s.runWatch(wctx, w, prefix, wch, o.PutPrev)
	return w
}

// deletedValue reads the value key had before its deletion at rev; nil
// when that revision has been compacted (as etcd's own previous values).
func (s *Store) deletedValue(ctx context.Context, key []byte, rev int64) []byte {
	cctx, cancel := s.call(ctx)
	defer cancel()
	resp, err := s.cli.Get(cctx, string(key), clientv3.WithRev(rev-1), clientv3.WithSerializable())
	if err != nil || len(resp.Kvs) == 0 {
		return nil
	}
	return resp.Kvs[0].Value
}

// runWatch forwards etcd's watch responses to w.events until wctx ends or
// the stream fails. When the stream has been quiet for s.watchCheck it asks
// etcd for its revision; if etcd does not answer, the watch fails with
// ErrUnavailable (etcd's client would otherwise wait for it silently).
func (s *Store) runWatch(wctx context.Context, w *watcher, prefix string, wch clientv3.WatchChan, withPrev bool) {
	defer close(w.done)
	defer close(w.events)
	defer w.cancel()

	check := time.NewTicker(s.watchCheck)
	defer check.Stop()
	active := false
	for {
		select {
		case <-wctx.Done():
			return
		case <-check.C:
			if active {
				active = false
				continue
			}
			if _, err := s.CurrentRevision(wctx); err != nil && wctx.Err() == nil && errors.Is(err, ErrUnavailable) {
				w.fail(fmt.Errorf("store: watch %q: %w", prefix, err))
				return
			}
		case resp, ok := <-wch:
			if wctx.Err() != nil {
				return
			}
			if !ok {
				w.fail(fmt.Errorf("store: watch %q: stream closed by the etcd client: %w", prefix, ErrUnavailable))
				return
			}
			active = true
			if err := resp.Err(); err != nil {
				if resp.CompactRevision != 0 {
					err = fmt.Errorf("store: watch %q: compacted at revision %d: %w", prefix, resp.CompactRevision, ErrCompacted)
				} else {
					err = wrapErr(wctx, nil, "watch", prefix, err)
				}
				w.fail(err)
				return
			}
			if resp.Canceled {
				w.fail(fmt.Errorf("store: watch %q: cancelled by etcd: %w", prefix, ErrUnavailable))
				return
			}
			for _, ev := range resp.Events {
				e := Event{
					Key:         s.rel(ev.Kv.Key),
					ModRevision: ev.Kv.ModRevision,
				}
				if ev.Type == clientv3.EventTypeDelete {
					e.Type = Delete
				} else {
					e.Type = Put
					e.Value = ev.Kv.Value
					e.Created = ev.IsCreate()
				}
				if ev.PrevKv != nil {
					e.PrevValue = ev.PrevKv.Value
				} else if !withPrev && e.Type == Delete {
					e.PrevValue = s.deletedValue(wctx, ev.Kv.Key, ev.Kv.ModRevision)
				}
				select {
				case w.events <- e:
				case <-wctx.Done():
					return
				}
			}
		}
	}
}
