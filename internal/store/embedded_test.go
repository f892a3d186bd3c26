package store

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"testing"
	"time"
)

func TestNewClientAgainstSeparateEtcd(t *testing.T) {
	e := startEmbedded(t, t.TempDir())
	if eps := e.Endpoints(); len(eps) != 1 || !strings.HasPrefix(eps[0], "http://127.0.0.1:") || strings.HasSuffix(eps[0], ":0") {
		t.Fatalf("Endpoints() = %v", eps)
	}
	s := New(newClient(t, e), Options{Prefix: "/registry/"})
	rev := mustCreate(t, s, "a", "1")
	if kv := mustGet(t, s, "a"); kv.ModRevision != rev || string(kv.Value) != "1" {
		t.Fatalf("Get = %+v", kv)
	}
}

func TestNewClientDoesNotWaitForEtcd(t *testing.T) {
	// A port that was free a moment ago: nothing answers there.
	u, _, err := resolvePort("http://127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	cli, err := NewClient(context.Background(), []string{u.String()}, time.Second)
	if err != nil {
		t.Fatalf("NewClient: %v", err)
	}
	defer cli.Close()
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("NewClient took %s", d)
	}
	s := New(cli, Options{CallTimeout: 300 * time.Millisecond})
	_, err = s.Get(context.Background(), "x")
	wantErr(t, "Get without etcd", err, ErrUnavailable)

	if _, err := NewClient(context.Background(), nil, time.Second); err == nil {
		t.Fatal("NewClient without endpoints succeeded")
	}
}

func TestUnavailableAfterEtcdStops(t *testing.T) {
	e := startEmbedded(t, t.TempDir())
	cli := newClient(t, e)
	const callTimeout = time.Second
	s := New(cli, Options{CallTimeout: callTimeout, Logger: testLogger(t)})
	s.watchCheck = 200 * time.Millisecond
	ctx := ctxT(t)
	rev := mustCreate(t, s, "a", "1")
	w := s.Watch(ctx, "", rev)
	defer w.Stop()

	e.Close()
	select {
	case _, ok := <-e.Err():
		if ok {
			t.Log("etcd reported an error while closing")
		}
	case <-time.After(time.Second):
		t.Fatal("Err() not closed after Close")
	}
	e.Close() // idempotent

	ops := []struct {
		name string
		call func() error
	}{
		{"Get", func() error { _, err := s.Get(ctx, "a"); return err }},
		{"List", func() error { _, _, _, err := s.List(ctx, "", ListOptions{}); return err }},
		{"Create", func() error { _, err := s.Create(ctx, "b", nil); return err }},
		{"Update", func() error { _, err := s.Update(ctx, "a", nil, rev, nil, nil); return err }},
		{"Delete", func() error { _, err := s.Delete(ctx, "a", 0); return err }},
		{"CurrentRevision", func() error { _, err := s.CurrentRevision(ctx); return err }},
	}
	t.Run("calls", func(t *testing.T) {
		for _, op := range ops {
			t.Run(op.name, func(t *testing.T) {
				t.Parallel()
				start := time.Now()
				err := op.call()
				took := time.Since(start)
				wantErr(t, op.name, err, ErrUnavailable)
				if took > callTimeout+2*time.Second {
					t.Fatalf("%s took %s, want about %s", op.name, took, callTimeout)
				}
			})
		}
	})

	// The watch notices etcd is gone on its next quiet-stream check.
	wantErr(t, "Watch after etcd stopped", waitClosed(t, w, 5*time.Second), ErrUnavailable)

	// A caller's own cancellation is not reported as an outage.
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	_, err := s.Get(cctx, "a")
	if errors.Is(err, ErrUnavailable) || !errors.Is(err, context.Canceled) {
		t.Fatalf("Get with cancelled context: %v", err)
	}
}

func TestRestartKeepsData(t *testing.T) {
	dir := t.TempDir()
	write := func() map[string]int64 {
		e := startEmbedded(t, dir)
		defer e.Close()
		cli := newClient(t, e)
		defer cli.Close()
		s := New(cli, Options{Prefix: "/registry/"})
		revs := map[string]int64{}
		for i := range 3 {
			k := fmt.Sprintf("k%d", i)
			revs[k] = mustCreate(t, s, k, k)
		}
		var err error
		revs["k1"], err = s.Update(ctxT(t), "k1", []byte("k1"), revs["k1"], nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		return revs
	}
	revs := write()

	e := startEmbedded(t, dir)
	cli := newClient(t, e)
	s := New(cli, Options{Prefix: "/registry/"})
	for k, rev := range revs {
		if kv := mustGet(t, s, k); kv.ModRevision != rev || string(kv.Value) != k {
			t.Fatalf("after restart %s = %+v, want revision %d", k, kv, rev)
		}
	}
	cur, err := s.CurrentRevision(ctxT(t))
	if err != nil || cur != revs["k1"] {
		t.Fatalf("CurrentRevision after restart = %d, %v; want %d", cur, err, revs["k1"])
	}
	if _, err := s.Create(ctxT(t), "k3", nil); err != nil {
		t.Fatalf("write after restart: %v", err)
	}
}

func TestEmbeddedLeavesNoGoroutines(t *testing.T) {
	integration(t)
	dir := t.TempDir()
	cycle := func() {
		e := startEmbedded(t, dir)
		cli := newClient(t, e)
		s := New(cli, Options{})
		w := s.Watch(ctxT(t), "", 0)
		if _, err := s.Create(ctxT(t), fmt.Sprint(time.Now().UnixNano()), nil); err != nil {
			t.Fatal(err)
		}
		w.Stop()
		cli.Close()
		e.Close()
	}
	// The first cycle may start process-wide goroutines that live on
	// (gRPC's, for instance); later cycles must not add any.
	before := runtime.NumGoroutine()
	cycle()
	base := settledGoroutines(0)
	t.Logf("goroutines: %d before the first cycle, %d after it", before, base)
	cycle()
	cycle()
	if n := settledGoroutines(base); n > base {
		buf := make([]byte, 1<<20)
		buf = buf[:runtime.Stack(buf, true)]
		t.Fatalf("%d goroutines after two more start/stop cycles, %d before:\n%s", n, base, leakReport(buf))
	}
}

// settledGoroutines waits up to 5s for the goroutine count to drop to at
// most limit (if limit > 0) and returns the last count seen.
func settledGoroutines(limit int) int {
	deadline := time.Now().Add(5 * time.Second)
	n := runtime.NumGoroutine()
	for time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
		m := runtime.NumGoroutine()
		if limit > 0 && m <= limit || limit == 0 && m == n {
			return m
		}
		n = m
	}
	return n
}

// leakReport keeps the stacks that mention etcd, grpc or this package.
func leakReport(stacks []byte) string {
	var out [][]byte
	for _, g := range bytes.Split(stacks, []byte("\n\n")) {
		if bytes.Contains(g, []byte("etcd")) || bytes.Contains(g, []byte("grpc")) || bytes.Contains(g, []byte("internal/store")) {
			out = append(out, g)
		}
	}
	return string(bytes.Join(out, []byte("\n\n")))
}

func TestClientReconnectsAfterEtcdRestart(t *testing.T) {
	integration(t)
	dir := t.TempDir()
	u, _, err := resolvePort("http://127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	cfg := EmbeddedConfig{DataDir: dir, ClientURL: u.String(), Logger: testLogger(t)}
	e, err := StartEmbedded(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if eps := e.Endpoints(); len(eps) != 1 || eps[0] != u.String() {
		t.Fatalf("Endpoints() = %v, want [%s]", eps, u)
	}
	cli := newClient(t, e)
	s := New(cli, Options{CallTimeout: 500 * time.Millisecond})
	rev := mustCreate(t, s, "a", "1")

	e.Close()
	_, err = s.Get(context.Background(), "a")
	wantErr(t, "Get while etcd is down", err, ErrUnavailable)
	time.Sleep(time.Second) // let the client back off a few times

	// Same data dir, same port: what an external etcd restart looks like.
	e, err = StartEmbedded(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.Close)
	start := time.Now()
	deadline := time.Now().Add(10 * time.Second)
	for {
		kv, err := s.Get(context.Background(), "a")
		if err == nil {
			if kv.ModRevision != rev {
				t.Fatalf("after restart a = %+v, want revision %d", kv, rev)
			}
			t.Logf("client reconnected %s after etcd was back", time.Since(start).Round(time.Millisecond))
			break
		}
		if !errors.Is(err, ErrUnavailable) || time.Now().After(deadline) {
			t.Fatalf("Get after etcd restart: %v", err)
		}
	}
}
