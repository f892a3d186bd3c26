package network

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/netip"
	"os/exec"
	"regexp"
	"strings"
	"time"
)

// The node's masquerade rule: one nat chain per bridge, entered from
// POSTROUTING for traffic from the podCIDR, that masquerades what leaves
// the podCIDR (multicast aside), as the bridge plugin's ipMasq does with
// a chain and two rules per pod.
const (
	// masqChainPrefix starts the name of a bridge's masquerade chain.
	masqChainPrefix = "BERTH-MASQ-"
	// masqComment marks the POSTROUTING rule that enters the chain.
	masqComment = "berth: masquerade pod traffic leaving the podCIDR"
	// masqRecheck is how often Setup checks that the rule is still there
	// (a firewall reload may have flushed the nat table) and puts it back.
	masqRecheck = time.Minute
	// iptablesTimeout bounds one iptables run.
	iptablesTimeout = 10 * time.Second
)

// chainSafeRe is what a bridge name may hold to name its chain as is.
var chainSafeRe = regexp.MustCompile(`^[A-Za-z0-9_.-]{1,15}$`)

// masqChain names the masquerade chain of bridge: BERTH-MASQ-<bridge>
// (at most 26 bytes; iptables allows 28), or a hash of an odd name.
func masqChain(bridge string) string {
	if chainSafeRe.MatchString(bridge) {
		return masqChainPrefix + bridge
	}
	sum := sha256.Sum256([]byte(bridge))
	return masqChainPrefix + hex.EncodeToString(sum[:6])
}

// iptablesCommands returns the iptables and iptables-restore commands of
// the family.
func iptablesCommands(ipv6 bool) (iptables, restore string) {
	if ipv6 {
		return "ip6tables", "ip6tables-restore"
	}
	return "iptables", "iptables-restore"
}

// masqPlan is what to feed iptables-restore --noflush, given the current
// nat POSTROUTING rules (`iptables -t nat -S POSTROUTING`), so that chain
// holds exactly the masquerade rules of subnet and POSTROUTING exactly
// one jump to it, from subnet; with install false, so that neither the
// chain nor any jump to it is left. Jumps from another subnet (the node's
// podCIDR changed) are removed. It only touches rules that jump to chain.
func masqPlan(postrouting, chain string, subnet netip.Prefix, install bool) string {
	subnet = subnet.Masked()
	multicast := "224.0.0.0/4"
	if subnet.Addr().Is6() {
		multicast = "ff00::/8"
	}
	var b strings.Builder
	b.WriteString("*nat\n")
	// With --noflush, declaring an existing chain flushes it.
	fmt.Fprintf(&b, ":%s - [0:0]\n", chain)
	have := false
	for line := range strings.SplitSeq(postrouting, "\n") {
		line = strings.TrimSpace(line)
		f := strings.Fields(line)
		if len(f) < 4 || f[0] != "-A" || f[1] != "POSTROUTING" || f[len(f)-2] != "-j" || f[len(f)-1] != chain {
			continue
		}
		current := false
		for i := 2; i+1 < len(f); i++ {
			if f[i] == "-s" && f[i+1] == subnet.String() {
				current = true
			}
		}
		if install && current && !have {
			have = true
			continue
		}
		// -S prints rules in the syntax iptables-restore reads.
		b.WriteString("-D" + strings.TrimPrefix(line, "-A") + "\n")
	}
	if install {
		fmt.Fprintf(&b, "-A %s -d %s -j RETURN\n", chain, subnet)
		fmt.Fprintf(&b, "-A %s -d %s -j RETURN\n", chain, multicast)
		fmt.Fprintf(&b, "-A %s -j MASQUERADE\n", chain)
		if !have {
			fmt.Fprintf(&b, "-A POSTROUTING -s %s -m comment --comment %q -j %s\n", subnet, masqComment, chain)
		}
	} else {
		fmt.Fprintf(&b, "-X %s\n", chain)
	}
	b.WriteString("COMMIT\n")
	return b.String()
}

// hasCommand reports whether name is found in PATH.
func hasCommand(name string) bool {
	_, err := exec.LookPath(name)
	return err == nil
}

// runIPTables runs an iptables command with stdin and returns its output.
func runIPTables(ctx context.Context, stdin string, name string, args ...string) (string, error) {
	path, err := exec.LookPath(name)
	if err != nil {
		return "", fmt.Errorf("network: %s not found: %w", name, err)
	}
	ctx, cancel := context.WithTimeout(ctx, iptablesTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, path, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if stdin != "" {
		cmd.Stdin = strings.NewReader(stdin)
	}
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("network: %s %s: %w: %s", name, strings.Join(args, " "), err, truncate(strings.TrimSpace(stderr.String()), 512))
	}
	return stdout.String(), nil
}

// setMasquerade installs (or, with install false, removes) the
// masquerade rule of bridge for subnet: two iptables runs, idempotent.
func setMasquerade(ctx context.Context, bridge string, subnet netip.Prefix, install bool) error {
	ipt, restore := iptablesCommands(subnet.Addr().Is6())
	rules, err := runIPTables(ctx, "", ipt, "-w", "-t", "nat", "-S", "POSTROUTING")
	if err != nil {
		return err
	}
	if _, err := runIPTables(ctx, masqPlan(rules, masqChain(bridge), subnet, install), restore, "-w", "--noflush"); err != nil {
		return err
	}
	return nil
}

// ensureMasquerade installs the node's masquerade rule unless it was
// checked less than masqRecheck ago; only one caller at a time does the
// work, the others go on at once.
func (c *CNI) ensureMasquerade(ctx context.Context) {
	if !c.masq.Load() || !c.masqMu.TryLock() {
		return
	}
	defer c.masqMu.Unlock()
	if !c.masqAt.IsZero() && time.Since(c.masqAt) < masqRecheck {
		return
	}
	if err := setMasquerade(ctx, c.bridge, c.subnet, true); err != nil {
		c.log.Warn("cannot install the pods' masquerade rule; pods may not reach beyond the node", "err", err)
		return
	}
	if err := setForward(ctx, c.bridge, c.subnet.Addr().Is6(), true); err != nil {
		c.log.Warn("cannot install the pods' forwarding rules; with a FORWARD policy of DROP pods cannot reach each other or beyond the node", "err", err)
		return
	}
	c.masqAt = time.Now()
}

// RemoveMasquerade removes the node's masquerade and forwarding rules of
// this CNI's bridge, which Setup installs and nothing else removes (it is shared by
// every pod of the bridge and survives the agent, as the pods do). It is
// for an explicit clean-up of the node; removing what is not there is
// fine.
func (c *CNI) RemoveMasquerade(ctx context.Context) error {
	c.masqMu.Lock()
	defer c.masqMu.Unlock()
	c.masqAt = time.Time{}
	if ipt, _ := iptablesCommands(c.subnet.Addr().Is6()); !hasCommand(ipt) {
		return nil // no iptables, no rule
	}
	if err := setMasquerade(ctx, c.bridge, c.subnet, false); err != nil {
		return fmt.Errorf("network: remove the masquerade rule: %w", err)
	}
	if err := setForward(ctx, c.bridge, c.subnet.Addr().Is6(), false); err != nil {
		return fmt.Errorf("network: remove the forwarding rules: %w", err)
	}
	return nil
}
