package network

import (
	"net/netip"
	"strings"
	"testing"
)

func TestMasqChain(t *testing.T) {
	tests := []struct {
		bridge, want string
	}{
		{"berth0", "BERTH-MASQ-berth0"},
		{"berthb0", "BERTH-MASQ-berthb0"},
		{"br-0.a_b", "BERTH-MASQ-br-0.a_b"},
		{"abcdefghijklmno", "BERTH-MASQ-abcdefghijklmno"},
		{`we"ird!`, "BERTH-MASQ-" + masqChain(`we"ird!`)[len(masqChainPrefix):]},
	}
	for _, tc := range tests {
		got := masqChain(tc.bridge)
		if got != tc.want {
			t.Errorf("masqChain(%q) = %q, want %q", tc.bridge, got, tc.want)
		}
		// iptables chain names: at most 28 bytes, no quotes or spaces.
		if len(got) > 28 || strings.ContainsAny(got, "\"' !") {
			t.Errorf("masqChain(%q) = %q is not a valid chain name", tc.bridge, got)
		}
	}
	if a, b := masqChain(`x"1`), masqChain(`x"2`); a == b || len(a) != len(masqChainPrefix)+12 {
		t.Errorf("hashed chains %q, %q: want distinct, 12 hex digits", a, b)
	}
}

func TestMasqPlan(t *testing.T) {
	v4 := netip.MustParsePrefix("10.45.0.0/24")
	v6 := netip.MustParsePrefix("fd00:45::/64")
	const chain = "BERTH-MASQ-berthb0"
	jump := func(src string) string {
		return `-A POSTROUTING -s ` + src + ` -m comment --comment "berth: masquerade pod traffic leaving the podCIDR" -j ` + chain
	}
	chainRules := func(subnet, multicast string) string {
		return "-A " + chain + " -d " + subnet + " -j RETURN\n" +
			"-A " + chain + " -d " + multicast + " -j RETURN\n" +
			"-A " + chain + " -j MASQUERADE\n"
	}
	head := "*nat\n:" + chain + " - [0:0]\n"
	other := "-A POSTROUTING -s 10.42.0.0/24 -j BERTH-MASQ-berth0\n-A POSTROUTING -o eth0 -j MASQUERADE\n"
	tests := []struct {
		name    string
		rules   string
		subnet  netip.Prefix
		install bool
		want    string
	}{
		{name: "fresh install", rules: "-P POSTROUTING ACCEPT\n", subnet: v4, install: true,
			want: head + chainRules("10.45.0.0/24", "224.0.0.0/4") + jump("10.45.0.0/24") + "\nCOMMIT\n"},
		{name: "already installed: the chain is rewritten, the jump kept", rules: "-P POSTROUTING ACCEPT\n" + other + jump("10.45.0.0/24") + "\n", subnet: v4, install: true,
			want: head + chainRules("10.45.0.0/24", "224.0.0.0/4") + "COMMIT\n"},
		{name: "duplicate jumps: one kept", rules: jump("10.45.0.0/24") + "\n" + jump("10.45.0.0/24") + "\n", subnet: v4, install: true,
			want: head + "-D" + strings.TrimPrefix(jump("10.45.0.0/24"), "-A") + "\n" + chainRules("10.45.0.0/24", "224.0.0.0/4") + "COMMIT\n"},
		{name: "podCIDR changed: the old jump goes", rules: jump("10.45.7.0/24") + "\n" + other, subnet: v4, install: true,
			want: head + "-D" + strings.TrimPrefix(jump("10.45.7.0/24"), "-A") + "\n" + chainRules("10.45.0.0/24", "224.0.0.0/4") + jump("10.45.0.0/24") + "\nCOMMIT\n"},
		{name: "unmasked subnet", rules: "", subnet: netip.MustParsePrefix("10.45.0.9/24"), install: true,
			want: head + chainRules("10.45.0.0/24", "224.0.0.0/4") + jump("10.45.0.0/24") + "\nCOMMIT\n"},
		{name: "ipv6", rules: "", subnet: v6, install: true,
			want: head + chainRules("fd00:45::/64", "ff00::/8") + jump("fd00:45::/64") + "\nCOMMIT\n"},
		{name: "remove", rules: other + jump("10.45.0.0/24") + "\n" + jump("10.45.7.0/24") + "\n", subnet: v4,
			want: head + "-D" + strings.TrimPrefix(jump("10.45.0.0/24"), "-A") + "\n-D" + strings.TrimPrefix(jump("10.45.7.0/24"), "-A") + "\n-X " + chain + "\nCOMMIT\n"},
		{name: "remove what is not there", rules: other, subnet: v4, want: head + "-X " + chain + "\nCOMMIT\n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := masqPlan(tc.rules, chain, tc.subnet, tc.install)
			if got != tc.want {
				t.Errorf("masqPlan =\n%s\nwant\n%s", got, tc.want)
			}
			if strings.Contains(got, "berth0\n") || strings.Contains(got, "-o eth0") {
				t.Errorf("masqPlan touches rules of others:\n%s", got)
			}
		})
	}
}
