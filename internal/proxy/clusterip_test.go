package proxy

import (
	"context"
	"net/netip"
	"strings"
	"testing"
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
	for _, bad := range []string{"berth", "lo:", "lo:much-too-long-label", "eth0:x"} {
		if ValidLabel(bad) == nil {
			t.Errorf("label %q accepted", bad)
		}
	}
}
