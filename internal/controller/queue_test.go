package controller

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"
)

func TestQueueRetriesRecoversAndRequeues(t *testing.T) {
	var mu sync.Mutex
	calls := map[string]int{}
	done := make(chan string, 10)
	q := NewQueue("test", slog.New(slog.NewTextHandler(io.Discard, nil)), func(ctx context.Context, key string) error {
		mu.Lock()
		calls[key]++
		n := calls[key]
		mu.Unlock()
		switch key {
		case "fails-twice":
			if n <= 2 {
				return errors.New("transient")
			}
		case "panics-once":
			if n == 1 {
				panic("boom")
			}
		case "requeue":
			if n == 1 {
				return RequeueAfter{Delay: 20 * time.Millisecond}
			}
		}
		done <- key
		return nil
	})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	finished := make(chan struct{})
	go func() { q.Run(ctx, 2); close(finished) }()
	for _, k := range []string{"ok", "fails-twice", "panics-once", "requeue"} {
		q.Add(k)
	}
	got := map[string]bool{}
	for len(got) < 4 {
		select {
		case k := <-done:
			got[k] = true
		case <-ctx.Done():
			t.Fatalf("not all keys reconciled: %v", got)
		}
	}
	cancel()
	<-finished
	want := map[string]int{"ok": 1, "fails-twice": 3, "panics-once": 2, "requeue": 2}
	for k, n := range want {
		if calls[k] != n {
			t.Errorf("%s reconciled %d times, want %d", k, calls[k], n)
		}
	}
}
