package proxy

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os/exec"
	"strings"
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
// carrying the label.
func (l *LoopbackAddresses) Sync(ctx context.Context, ips []netip.Addr) error {
	if err := ValidLabel(l.Label); err != nil {
		return err
	}
	out, err := l.ip(ctx, "-4", "-o", "addr", "show", "dev", "lo", "label", l.Label)
	if err != nil {
		return err
	}
	have := parseAddrs(out)
	want := map[netip.Addr]bool{}
	var errs []error
	for _, a := range ips {
		if !a.Is4() {
			continue
		}
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
