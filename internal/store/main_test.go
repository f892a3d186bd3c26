package store

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// shared is the embedded etcd most integration tests use; started on first
// use and stopped by TestMain.
var shared struct {
	once sync.Once
	dir  string
	etcd *Embedded
	cli  *clientv3.Client
	err  error
}

var sharedSeq atomic.Int64

func TestMain(m *testing.M) {
	code := m.Run()
	if shared.cli != nil {
		shared.cli.Close()
	}
	if shared.etcd != nil {
		shared.etcd.Close()
	}
	if shared.dir != "" {
		os.RemoveAll(shared.dir)
	}
	os.Exit(code)
}

// testLogger drops everything below Warn and writes the rest to the test log.
func testLogger(t testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn}))
}

type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Helper()
	w.t.Log(strings.TrimSuffix(string(p), "\n"))
	return len(p), nil
}

func integration(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("integration: starts embedded etcd")
	}
}

// sharedStore returns a Store on the shared etcd whose prefix is unique to
// the test, so tests do not see each other's keys.
func sharedStore(t *testing.T) *Store {
	t.Helper()
	integration(t)
	shared.once.Do(func() {
		shared.dir, shared.err = os.MkdirTemp("", "berth-store-test-")
		if shared.err != nil {
			return
		}
		shared.etcd, shared.err = StartEmbedded(context.Background(), EmbeddedConfig{
			DataDir: shared.dir + "/etcd",
			Logger:  slog.New(slog.DiscardHandler),
		})
		if shared.err != nil {
			return
		}
		shared.cli, shared.err = NewClient(context.Background(), shared.etcd.Endpoints(), 5*time.Second)
	})
	if shared.err != nil {
		t.Fatalf("shared etcd: %v", shared.err)
	}
	// The sequence number keeps -count=N runs of a test apart.
	prefix := fmt.Sprintf("/test/%s/%d/", t.Name(), sharedSeq.Add(1))
	return New(shared.cli, Options{Prefix: prefix, Logger: testLogger(t)})
}

// startEmbedded starts a private etcd in dir and stops it at test end.
func startEmbedded(t *testing.T, dir string) *Embedded {
	t.Helper()
	integration(t)
	e, err := StartEmbedded(context.Background(), EmbeddedConfig{DataDir: dir, Logger: testLogger(t)})
	if err != nil {
		t.Fatalf("StartEmbedded: %v", err)
	}
	t.Cleanup(e.Close)
	return e
}

// newClient connects to e and closes the client at test end.
func newClient(t *testing.T, e *Embedded) *clientv3.Client {
	t.Helper()
	cli, err := NewClient(context.Background(), e.Endpoints(), 5*time.Second)
	if err != nil {
		t.Fatalf("NewClient: %v", err)
	}
	t.Cleanup(func() { cli.Close() })
	return cli
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func mustCreate(t *testing.T, s *Store, key, value string, reserve ...string) int64 {
	t.Helper()
	rev, err := s.Create(ctxT(t), key, []byte(value), reserve...)
	if err != nil {
		t.Fatalf("Create(%q): %v", key, err)
	}
	return rev
}

func mustGet(t *testing.T, s *Store, key string) KV {
	t.Helper()
	kv, err := s.Get(ctxT(t), key)
	if err != nil {
		t.Fatalf("Get(%q): %v", key, err)
	}
	return kv
}

func wantErr(t *testing.T, what string, got, want error) {
	t.Helper()
	if want == nil {
		if got != nil {
			t.Fatalf("%s: unexpected error %v", what, got)
		}
		return
	}
	if !errors.Is(got, want) {
		t.Fatalf("%s: error %v, want %v", what, got, want)
	}
}

func exists(t *testing.T, s *Store, key string) bool {
	t.Helper()
	_, err := s.Get(ctxT(t), key)
	if err != nil && !errors.Is(err, ErrNotFound) {
		t.Fatalf("Get(%q): %v", key, err)
	}
	return err == nil
}

func keysOf(kvs []KV) string {
	var b strings.Builder
	for i, kv := range kvs {
		if i > 0 {
			b.WriteByte(' ')
		}
		fmt.Fprintf(&b, "%s=%s", kv.Key, kv.Value)
	}
	return b.String()
}
