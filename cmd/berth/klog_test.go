package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"k8s.io/klog/v2"
)

func TestCancelQuiet(t *testing.T) {
	for _, tc := range []struct {
		name      string
		level     slog.Level // the handler's
		logLevel  slog.Level // the record's
		err       error
		wantLevel string // "" : nothing written
	}{
		{name: "cancellation at info: dropped", level: slog.LevelInfo, logLevel: slog.LevelError, err: context.Canceled},
		{name: "wrapped cancellation: dropped", level: slog.LevelWarn, logLevel: slog.LevelError, err: fmt.Errorf("read body: %w", context.Canceled)},
		{name: "cancellation at debug: kept as debug", level: slog.LevelDebug, logLevel: slog.LevelError, err: context.Canceled, wantLevel: "DEBUG"},
		{name: "other error: kept", level: slog.LevelInfo, logLevel: slog.LevelError, err: errors.New("connection refused"), wantLevel: "ERROR"},
		{name: "deadline: kept", level: slog.LevelInfo, logLevel: slog.LevelError, err: context.DeadlineExceeded, wantLevel: "ERROR"},
		{name: "below the level: dropped", level: slog.LevelWarn, logLevel: slog.LevelInfo, err: errors.New("x")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var b bytes.Buffer
			l := slog.New(cancelQuiet{slog.NewTextHandler(&b, &slog.HandlerOptions{Level: tc.level})}).With("source", "client-go")
			l.Log(t.Context(), tc.logLevel, "Unexpected error when reading response body", "err", tc.err)
			got := b.String()
			if tc.wantLevel == "" {
				if got != "" {
					t.Fatalf("wrote %q, want nothing", got)
				}
				return
			}
			if !strings.Contains(got, "level="+tc.wantLevel) || !strings.Contains(got, "source=client-go") {
				t.Fatalf("wrote %q, want level=%s and source=client-go", got, tc.wantLevel)
			}
		})
	}
}

// TestRouteClientGoLogs: klog's structured errors reach the logger
// through the wrapper.
func TestRouteClientGoLogs(t *testing.T) {
	var b bytes.Buffer
	routeClientGoLogs(slog.New(slog.NewTextHandler(&b, &slog.HandlerOptions{Level: slog.LevelInfo})))
	t.Cleanup(func() { klog.ClearLogger() })
	klog.ErrorS(context.Canceled, "Unexpected error when reading response body")
	klog.ErrorS(errors.New("boom"), "watch failed")
	klog.Flush()
	got := b.String()
	if strings.Contains(got, "response body") {
		t.Errorf("a cancellation was logged above debug: %q", got)
	}
	if !strings.Contains(got, "watch failed") || !strings.Contains(got, "level=ERROR") {
		t.Errorf("other errors must stay errors: %q", got)
	}
}
