package store

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"
)

// syncBuffer is a bytes.Buffer safe for a logger and a test to share.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

func TestRunCompactor(t *testing.T) {
	s := sharedStore(t)
	var logs syncBuffer
	s.log = slog.New(slog.NewTextHandler(&logs, nil))
	ctx := ctxT(t)

	r1 := mustCreate(t, s, "k", "1")
	if _, err := s.Update(ctx, "k", []byte("2"), r1, nil, nil); err != nil {
		t.Fatal(err)
	}

	cctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		s.RunCompactor(cctx, 50*time.Millisecond)
	}()
	defer func() {
		cancel()
		<-done
	}()

	// The first tick only observes; the second compacts to what the first
	// observed, after which r1 is gone.
	deadline := time.Now().Add(10 * time.Second)
	for {
		_, _, _, err := s.List(ctx, "", ListOptions{Revision: r1})
		if errors.Is(err, ErrCompacted) {
			break
		}
		if err != nil {
			t.Fatalf("List at %d: %v", r1, err)
		}
		if time.Now().After(deadline) {
			t.Fatal("revision not compacted within 10s")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if !strings.Contains(logs.String(), "compacted etcd") {
		t.Fatalf("no Info log line for the compaction; logs:\n%s", logs.String())
	}

	// A write made now stays readable at its revision for at least one
	// interval: the next compaction only goes up to the previous tick.
	r2 := mustCreate(t, s, "k2", "x")
	if _, _, _, err := s.List(ctx, "", ListOptions{Revision: r2}); err != nil {
		t.Fatalf("List at fresh revision %d: %v", r2, err)
	}

	cancel()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("RunCompactor did not return after cancel")
	}
}
