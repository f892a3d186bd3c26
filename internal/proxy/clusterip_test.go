package proxy

import (
	"context"
	"errors"
	"net/netip"
	"strings"
	"testing"
	"time"
)

func TestLoopbackAddressesSync(t *testing.T) {
	var calls []string
	l := &LoopbackAddresses{Label: "lo:berth-svc", Run: func(_ context.Context, args ...string) ([]byte, error) {
		c := strings.Join(args, " ")
		calls = append(calls, c)
		if c == "-4 -o addr show dev lo label lo:berth-svc" {
			return []byte("1: lo    inet 10.43.0.1/32 scope global lo:berth-svc\\       valid_lft forever preferred_lft forever\n" +
				"1: lo    inet 10.43.0.99/32 scope global lo:berth-svc\\       valid_lft forever preferred_lft forever\n"), nil
		}
		return nil, nil
	}}
	err := l.Sync(context.Background(), []netip.Addr{netip.MustParseAddr("10.43.0.1"), netip.MustParseAddr("10.43.0.10"), netip.MustParseAddr("fd00::1")})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"-4 -o addr show dev lo label lo:berth-svc",
		"addr add 10.43.0.10/32 dev lo label lo:berth-svc",
		"addr del 10.43.0.99/32 dev lo label lo:berth-svc",
	}
	if strings.Join(calls, "\n") != strings.Join(want, "\n") {
		t.Errorf("calls:\n%s\nwant:\n%s", strings.Join(calls, "\n"), strings.Join(want, "\n"))
	}

	// The same addresses again: trusted until VerifyEvery has passed.
	now := time.Unix(1000, 0)
	l.Now = func() time.Time { return now }
	l.last = nil
	sync := func(ips ...string) {
		t.Helper()
		var a []netip.Addr
		for _, s := range ips {
			a = append(a, netip.MustParseAddr(s))
		}
		if err := l.Sync(context.Background(), a); err != nil {
			t.Fatal(err)
		}
	}
	steps := []struct {
		advance time.Duration
		ips     []string
		runs    bool
	}{
		{0, []string{"10.43.0.1", "10.43.0.10"}, true},                       // first: reads and changes
		{time.Second, []string{"10.43.0.10", "10.43.0.1", "fd00::2"}, false}, // same IPv4 set in another order
		{time.Second, []string{"10.43.0.1"}, true},                           // changed
		{30 * time.Second, []string{"10.43.0.1"}, false},
		{31 * time.Second, []string{"10.43.0.1"}, true}, // a minute since the last check
	}
	for i, st := range steps {
		now = now.Add(st.advance)
		calls = nil
		sync(st.ips...)
		if ran := len(calls) > 0; ran != st.runs {
			t.Errorf("step %d: ran ip %v (%q), want %v", i, ran, calls, st.runs)
		}
	}
	failing := &LoopbackAddresses{Label: "lo:berth-svc", Run: func(context.Context, ...string) ([]byte, error) {
		return nil, errors.New("boom")
	}}
	for i := 0; i < 2; i++ {
		if err := failing.Sync(context.Background(), nil); err == nil {
			t.Errorf("attempt %d: no error from a failing ip command", i)
		}
	}

	for _, bad := range []string{"berth", "lo:", "lo:much-too-long-label", "eth0:x"} {
		if ValidLabel(bad) == nil {
			t.Errorf("label %q accepted", bad)
		}
	}
}
