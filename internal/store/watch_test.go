package store

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"
)

// collect reads n events from w, failing after a timeout.
func collect(t *testing.T, w Watcher, n int) []Event {
	t.Helper()
	var evs []Event
	timeout := time.After(10 * time.Second)
	for len(evs) < n {
		select {
		case ev, ok := <-w.Events():
			if !ok {
				t.Fatalf("Events closed after %d of %d events: %v", len(evs), n, w.Err())
			}
			evs = append(evs, ev)
		case <-timeout:
			t.Fatalf("got %d of %d events", len(evs), n)
		}
	}
	return evs
}

// waitClosed waits for Events to close and returns Err.
func waitClosed(t *testing.T, w Watcher, within time.Duration) error {
	t.Helper()
	timeout := time.After(within)
	for {
		select {
		case _, ok := <-w.Events():
			if !ok {
				return w.Err()
			}
		case <-timeout:
			t.Fatalf("Events not closed within %s", within)
		}
	}
}

func TestWatchFromRevision(t *testing.T) {
	for _, putPrev := range []bool{true, false} {
		t.Run(fmt.Sprintf("PutPrev=%v", putPrev), func(t *testing.T) { testWatchFromRevision(t, putPrev) })
	}
}

// testWatchFromRevision: every change after the start revision, in order;
// Put events carry the previous value only when asked, Delete events always.
func testWatchFromRevision(t *testing.T, putPrev bool) {
	s := sharedStore(t)
	ctx := ctxT(t)
	p := fmt.Sprintf("w%v/", putPrev)
	mustCreate(t, s, p+"before", "x")
	from, err := s.CurrentRevision(ctx)
	if err != nil {
		t.Fatal(err)
	}
	r1 := mustCreate(t, s, p+"a", "1")
	r2, err := s.Update(ctx, p+"a", []byte("2"), r1, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	mustCreate(t, s, "other/x"+p, "not watched")
	r3, err := s.Delete(ctx, p+"a", r2)
	if err != nil {
		t.Fatal(err)
	}

	w := s.WatchWith(ctx, p, from, WatchOptions{PutPrev: putPrev})
	defer w.Stop()
	r4 := mustCreate(t, s, p+"b", "3") // written after the watch started

	var updatePrev []byte
	if putPrev {
		updatePrev = []byte("1")
	}
	want := []Event{
		{Type: Put, Key: p + "a", Value: []byte("1"), ModRevision: r1, Created: true},
		{Type: Put, Key: p + "a", Value: []byte("2"), PrevValue: updatePrev, ModRevision: r2},
		{Type: Delete, Key: p + "a", PrevValue: []byte("2"), ModRevision: r3},
		{Type: Put, Key: p + "b", Value: []byte("3"), ModRevision: r4, Created: true},
	}
	got := collect(t, w, len(want))
	for i := range want {
		if fmt.Sprintf("%+v", got[i]) != fmt.Sprintf("%+v", want[i]) {
			t.Errorf("event %d = %+v\nwant %+v", i, got[i], want[i])
		}
	}
	select {
	case ev := <-w.Events():
		t.Fatalf("unexpected extra event %+v", ev)
	case <-time.After(200 * time.Millisecond):
	}
	w.Stop()
	if err := waitClosed(t, w, time.Second); err != nil {
		t.Fatalf("Err after Stop = %v, want nil", err)
	}
}

func TestWatchFromNow(t *testing.T) {
	s := sharedStore(t)
	mustCreate(t, s, "old", "x")
	w := s.Watch(ctxT(t), "", 0)
	defer w.Stop()
	// A "from now" watch sees only writes after etcd registered it, which
	// happens asynchronously: write until one shows up.
	deadline := time.After(10 * time.Second)
	for i := 0; ; i++ {
		mustCreate(t, s, fmt.Sprintf("new%d", i), "y")
		select {
		case ev := <-w.Events():
			if !strings.HasPrefix(ev.Key, "new") {
				t.Fatalf("first event for %q, want a new key", ev.Key)
			}
			return
		case <-time.After(100 * time.Millisecond):
		case <-deadline:
			t.Fatal("no event within 10s")
		}
	}
}

func TestWatchCompacted(t *testing.T) {
	s := sharedStore(t)
	ctx := ctxT(t)
	old := mustCreate(t, s, "k", "1")
	if _, err := s.Update(ctx, "k", []byte("2"), old, nil, nil); err != nil {
		t.Fatal(err)
	}
	cur, err := s.CurrentRevision(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Compact(ctx, cur); err != nil {
		t.Fatal(err)
	}
	w := s.Watch(ctx, "", old-1)
	defer w.Stop()
	wantErr(t, "Watch from compacted revision", waitClosed(t, w, 10*time.Second), ErrCompacted)
}

func TestWatchStopAndCancel(t *testing.T) {
	s := sharedStore(t)

	w := s.Watch(ctxT(t), "", 0)
	w.Stop()
	if err := waitClosed(t, w, time.Second); err != nil {
		t.Fatalf("Err after Stop = %v", err)
	}
	w.Stop() // idempotent

	ctx, cancel := context.WithCancel(ctxT(t))
	w = s.Watch(ctx, "", 0)
	cancel()
	if err := waitClosed(t, w, 5*time.Second); err != nil {
		t.Fatalf("Err after cancel = %v", err)
	}
	w.Stop()
}

func TestWatchSlowReaderLosesNothing(t *testing.T) {
	s := sharedStore(t)
	ctx := ctxT(t)
	from, err := s.CurrentRevision(ctx)
	if err != nil {
		t.Fatal(err)
	}
	w := s.Watch(ctx, "", from)
	defer w.Stop()
	const n = 3 * watchBuffer
	for i := range n {
		mustCreate(t, s, fmt.Sprintf("k%04d", i), "v")
	}
	time.Sleep(300 * time.Millisecond) // let the buffer fill up
	evs := collect(t, w, n)
	for i, ev := range evs {
		if want := fmt.Sprintf("k%04d", i); ev.Key != want || ev.ModRevision != from+int64(i)+1 {
			t.Fatalf("event %d = %s@%d, want %s@%d", i, ev.Key, ev.ModRevision, want, from+int64(i)+1)
		}
	}
}
