package proxy

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"time"
)

// LoopbackAddresses assigns ClusterIPs as /32 addresses of the loopback
// interface, tagged with an address label so that only those are ever
// removed, with the ip command of iproute2. The node then accepts traffic
// to them locally, from its own processes and from pods routed through
// it. (A dummy interface would do the same, but not every kernel has the
// dummy driver.) IPv4 only: IPv6 addresses have no labels. Root only.
type LoopbackAddresses struct {
	// Label tags the addresses: "lo:" and at most 12 more characters
	// (e.g. "lo:berth-svc"; distinct per agent when several run on one
	// machine).
	Label string
	// Run runs the ip command with args (nil: exec "ip").
	Run func(ctx context.Context, args ...string) ([]byte, error)
	// VerifyEvery is how long a successful Sync is trusted: a Sync with
	// the same addresses within it runs no command (default 1 minute).
	// Someone else's change to the addresses is repaired at the first
	// Sync after it.
	VerifyEvery time.Duration
	// Now is the clock (nil: time.Now).
	Now func() time.Time

	mu       sync.Mutex
	last     []netip.Addr // the addresses of the last successful Sync, sorted
	verified time.Time    // when it ran
}

// ValidLabel checks an address label for LoopbackAddresses.
func ValidLabel(label string) error {
	if !strings.HasPrefix(label, "lo:") || len(label) < 4 || len(label) > 15 || strings.ContainsAny(label, " /") {
		return fmt.Errorf("address label %q: want lo: followed by 1 to 12 characters, e.g. lo:berth-svc", label)
	}
	return nil
}

func (l *LoopbackAddresses) ip(ctx context.Context, args ...string) ([]byte, error) {
	if l.Run != nil {
		return l.Run(ctx, args...)
	}
	out, err := exec.CommandContext(ctx, "ip", args...).CombinedOutput()
	if err != nil {
		return out, fmt.Errorf("ip %s: %w: %s", strings.Join(args, " "), err, bytes.TrimSpace(out))
	}
	return out, nil
}

// Sync makes ips (IPv4 ones; others are skipped) exactly the addresses
// carrying the label. It reads and changes them only when ips differ
// from the last successful Sync or that was VerifyEvery ago.
func (l *LoopbackAddresses) Sync(ctx context.Context, ips []netip.Addr) error {
	if err := ValidLabel(l.Label); err != nil {
		return err
	}
	var v4 []netip.Addr
	for _, a := range ips {
		if a.Is4() {
			v4 = append(v4, a)
		}
	}
	slices.SortFunc(v4, netip.Addr.Compare)
	v4 = slices.Compact(v4)
	now := time.Now
	if l.Now != nil {
		now = l.Now
	}
	every := l.VerifyEvery
	if every <= 0 {
		every = time.Minute
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.last != nil && slices.Equal(l.last, v4) && now().Sub(l.verified) < every {
		return nil
	}
	if err := l.apply(ctx, v4); err != nil {
		l.last = nil
		return err
	}
	l.last, l.verified = v4, now()
	if l.last == nil {
		l.last = []netip.Addr{}
	}
	return nil
}

// apply makes ips exactly the labelled addresses.
func (l *LoopbackAddresses) apply(ctx context.Context, ips []netip.Addr) error {
	out, err := l.ip(ctx, "-4", "-o", "addr", "show", "dev", "lo", "label", l.Label)
	if err != nil {
		return err
	}
	have := parseAddrs(out)
	want := map[netip.Addr]bool{}
	var errs []error
	for _, a := range ips {
		want[a] = true
		if !have[a] {
			if _, err := l.ip(ctx, "addr", "add", netip.PrefixFrom(a, 32).String(), "dev", "lo", "label", l.Label); err != nil {
				errs = append(errs, err)
			}
		}
	}
	for a := range have {
		if !want[a] {
			if _, err := l.ip(ctx, "addr", "del", netip.PrefixFrom(a, 32).String(), "dev", "lo", "label", l.Label); err != nil {
				errs = append(errs, err)
			}
		}
	}
	return errors.Join(errs...)
}

// parseAddrs reads the addresses of `ip -o addr show` output.
func parseAddrs(out []byte) map[netip.Addr]bool {
	have := map[netip.Addr]bool{}
	for _, line := range strings.Split(string(out), "\n") {
		f := strings.Fields(line)
		for i := 0; i+1 < len(f); i++ {
			if f[i] == "inet" || f[i] == "inet6" {
				if p, err := netip.ParsePrefix(f[i+1]); err == nil {
					have[p.Addr()] = true
				}
			}
		}
	}
	return have
}
