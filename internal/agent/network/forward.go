package network

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"
)

// The node's forwarding rules: one filter chain per bridge accepting what
// enters or leaves the bridge, jumped to first thing in FORWARD. Without
// it a FORWARD policy of DROP — which dockerd sets when it has to switch
// IP forwarding on — drops traffic between pods (bridged traffic goes
// through FORWARD with br_netfilter) and from pods to the outside, as
// flannel and other CNI set-ups also add.
const (
	// fwdChainPrefix starts the name of a bridge's forwarding chain.
	fwdChainPrefix = "BERTH-FWD-"
	// fwdComment marks the FORWARD rule that enters the chain.
	fwdComment = "berth: accept pod traffic"
)

// fwdChain names the forwarding chain of bridge.
func fwdChain(bridge string) string {
	if chainSafeRe.MatchString(bridge) {
		return fwdChainPrefix + bridge
	}
	sum := sha256.Sum256([]byte(bridge))
	return fwdChainPrefix + hex.EncodeToString(sum[:6])
}

// forwardPlan is what to feed iptables-restore --noflush, given the
// current FORWARD rules (`iptables -S FORWARD`), so that chain accepts
// traffic in and out of bridge and FORWARD starts with exactly one jump to
// it (a jump further down, after rules someone inserted above it, is moved
// back to the top); with install false, so that neither is left.
func forwardPlan(forward, chain, bridge string, install bool) string {
	var b strings.Builder
	b.WriteString("*filter\n")
	fmt.Fprintf(&b, ":%s - [0:0]\n", chain) // declaring flushes it
	first := true
	keep := false
	for line := range strings.SplitSeq(forward, "\n") {
		line = strings.TrimSpace(line)
		f := strings.Fields(line)
		if len(f) < 2 || f[0] != "-A" || f[1] != "FORWARD" {
			continue
		}
		isJump := len(f) >= 4 && f[len(f)-2] == "-j" && f[len(f)-1] == chain
		if install && isJump && first && !keep {
			keep = true // already the first rule
			first = false
			continue
		}
		first = false
		if isJump {
			b.WriteString("-D" + strings.TrimPrefix(line, "-A") + "\n")
		}
	}
	if install {
		fmt.Fprintf(&b, "-A %s -i %s -j ACCEPT\n", chain, bridge)
		fmt.Fprintf(&b, "-A %s -o %s -j ACCEPT\n", chain, bridge)
		if !keep {
			fmt.Fprintf(&b, "-I FORWARD 1 -m comment --comment %q -j %s\n", fwdComment, chain)
		}
	} else {
		fmt.Fprintf(&b, "-X %s\n", chain)
	}
	b.WriteString("COMMIT\n")
	return b.String()
}

// setForward installs (or removes) the forwarding rules of bridge.
func setForward(ctx context.Context, bridge string, ipv6, install bool) error {
	ipt, restore := iptablesCommands(ipv6)
	rules, err := runIPTables(ctx, "", ipt, "-w", "-S", "FORWARD")
	if err != nil {
		return err
	}
	_, err = runIPTables(ctx, forwardPlan(rules, fwdChain(bridge), bridge, install), restore, "-w", "--noflush")
	return err
}
