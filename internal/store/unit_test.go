package store

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// Tests in this file need no etcd and run under -short too.

func TestWrapErr(t *testing.T) {
	live := context.Background()
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	timedOut, cancel2 := context.WithTimeout(context.Background(), 0)
	defer cancel2()

	cases := []struct {
		name         string
		parent, call context.Context
		err          error
		want         error
		notWant      error
	}{
		{"nil", live, live, nil, nil, nil},
		{"compacted", live, live, rpctypes.ErrCompacted, ErrCompacted, nil},
		{"future", live, live, rpctypes.ErrFutureRev, ErrFutureRevision, nil},
		{"no leader", live, live, rpctypes.ErrNoLeader, ErrUnavailable, nil},
		{"grpc unavailable", live, live, status.Error(codes.Unavailable, "connection refused"), ErrUnavailable, nil},
		{"per-call timeout", live, timedOut, context.DeadlineExceeded, ErrUnavailable, nil},
		{"caller cancelled", cancelled, cancelled, context.Canceled, context.Canceled, ErrUnavailable},
		{"other", live, live, rpctypes.ErrTooManyOps, rpctypes.ErrTooManyOps, ErrUnavailable},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := wrapErr(c.parent, c.call, "get", "k", c.err)
			if c.want == nil {
				if got != nil {
					t.Fatalf("got %v, want nil", got)
				}
				return
			}
			if !errors.Is(got, c.want) {
				t.Fatalf("got %v, want it to wrap %v", got, c.want)
			}
			if c.notWant != nil && errors.Is(got, c.notWant) {
				t.Fatalf("got %v, must not wrap %v", got, c.notWant)
			}
			if !strings.Contains(got.Error(), `get "k"`) {
				t.Fatalf("%q does not name the operation", got)
			}
		})
	}
}

func TestDistinct(t *testing.T) {
	cases := []struct {
		key              string
		reserve, release []string
		ok               bool
	}{
		{"a", nil, nil, true},
		{"a", []string{"b", "c"}, []string{"d"}, true},
		{"a", []string{"a"}, nil, false},
		{"a", nil, []string{"a"}, false},
		{"a", []string{"b"}, []string{"b"}, false},
		{"a", []string{"b", "b"}, nil, false},
	}
	for _, c := range cases {
		if err := distinct(c.key, c.reserve, c.release); (err == nil) != c.ok {
			t.Errorf("distinct(%q, %q, %q) = %v", c.key, c.reserve, c.release, err)
		}
	}
}

func TestPrefixRange(t *testing.T) {
	cases := []struct{ p, start, end string }{
		{"", "\x00", "\x00"},
		{"/registry/pods/", "/registry/pods/", "/registry/pods0"},
		{"a\xff", "a\xff", "b"},
	}
	for _, c := range cases {
		if s, e := prefixRange(c.p); s != c.start || e != c.end {
			t.Errorf("prefixRange(%q) = %q, %q; want %q, %q", c.p, s, e, c.start, c.end)
		}
	}
}

func TestEventTypeString(t *testing.T) {
	for typ, want := range map[EventType]string{Put: "PUT", Delete: "DELETE", 7: "EventType(7)"} {
		if got := typ.String(); got != want {
			t.Errorf("%d.String() = %q, want %q", int(typ), got, want)
		}
	}
}

func TestZapBridge(t *testing.T) {
	var buf syncBuffer
	lg := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelInfo}))
	quiet := new(atomic.Bool)
	z := newZapLogger(lg, zapcore.WarnLevel, "etcd", quiet).With(zap.String("member", "m1"))

	z.Info("info line")
	z.Warn("simple token is not cryptographically signed")
	z.Warn("warn line", zap.Int("n", 3))
	quiet.Store(true)
	z.Error("error while closing")

	out := buf.String()
	for _, line := range []string{"info line", "cryptographically", "error while closing"} {
		if strings.Contains(out, line) {
			t.Errorf("%q should not reach Info-level output:\n%s", line, out)
		}
	}
	want := fmt.Sprintf("level=WARN msg=%q component=etcd member=m1 n=3", "warn line")
	if !strings.Contains(out, want) {
		t.Errorf("output lacks %s:\n%s", want, out)
	}
}
