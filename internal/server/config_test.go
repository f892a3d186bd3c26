package server

import (
	"strings"
	"testing"
	"time"
)

// TestTolerationSecondsConfig: the default not-ready and unreachable
// toleration seconds default to 300, keep a configured value (0 included)
// and refuse a negative one, naming the flag.
func TestTolerationSecondsConfig(t *testing.T) {
	secs := func(v int64) *int64 { return &v }
	for _, tc := range []struct {
		name                  string
		notReady, unreachable *int64
		wantNotReady          int64
		wantUnreachable       int64
		wantErr               string
	}{
		{name: "unset: 300 s", wantNotReady: 300, wantUnreachable: 300},
		{name: "set apart", notReady: secs(60), unreachable: secs(5), wantNotReady: 60, wantUnreachable: 5},
		{name: "zero is kept", notReady: secs(0), unreachable: secs(0), wantNotReady: 0, wantUnreachable: 0},
		{name: "one set, the other defaults", unreachable: secs(10), wantNotReady: 300, wantUnreachable: 10},
		{name: "negative not-ready", notReady: secs(-1), wantErr: "--default-not-ready-toleration-seconds -1: must be 0 or more"},
		{name: "negative unreachable", unreachable: secs(-30), wantErr: "--default-unreachable-toleration-seconds -30: must be 0 or more"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := Config{DataDir: t.TempDir(), DefaultNotReadyTolerationSeconds: tc.notReady,
				DefaultUnreachableTolerationSeconds: tc.unreachable}.withDefaults()
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error %v, want one containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := *cfg.DefaultNotReadyTolerationSeconds; got != tc.wantNotReady {
				t.Errorf("not-ready toleration %d s, want %d", got, tc.wantNotReady)
			}
			if got := *cfg.DefaultUnreachableTolerationSeconds; got != tc.wantUnreachable {
				t.Errorf("unreachable toleration %d s, want %d", got, tc.wantUnreachable)
			}
		})
	}
}

// TestEventTTLConfig: --event-ttl defaults to an hour, keeps a set value
// and refuses less than a second, naming the flag.
func TestEventTTLConfig(t *testing.T) {
	for _, tc := range []struct {
		name    string
		ttl     time.Duration
		want    time.Duration
		wantErr string
	}{
		{name: "unset: an hour", want: time.Hour},
		{name: "set", ttl: 90 * time.Second, want: 90 * time.Second},
		{name: "a second", ttl: time.Second, want: time.Second},
		{name: "too short", ttl: 500 * time.Millisecond, wantErr: "--event-ttl 500ms: must be at least 1s"},
		{name: "negative", ttl: -time.Minute, wantErr: "--event-ttl -1m0s"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := Config{DataDir: t.TempDir(), EventTTL: tc.ttl}.withDefaults()
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error %v, want one containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil || cfg.EventTTL != tc.want {
				t.Fatalf("EventTTL %v, %v; want %v", cfg.EventTTL, err, tc.want)
			}
		})
	}
}
