package network

import (
	"strings"
	"testing"
)

func TestForwardPlan(t *testing.T) {
	const chain, bridge = "BERTH-FWD-berth0", "berth0"
	jump := `-A FORWARD -m comment --comment "berth: accept pod traffic" -j BERTH-FWD-berth0`
	tests := []struct {
		name, forward string
		install       bool
		want          []string
	}{
		{name: "fresh", forward: "-P FORWARD DROP\n-A FORWARD -j DOCKER-USER\n", install: true, want: []string{
			"*filter", ":BERTH-FWD-berth0 - [0:0]",
			"-A BERTH-FWD-berth0 -i berth0 -j ACCEPT", "-A BERTH-FWD-berth0 -o berth0 -j ACCEPT",
			`-I FORWARD 1 -m comment --comment "berth: accept pod traffic" -j BERTH-FWD-berth0`, "COMMIT"}},
		{name: "already first", forward: "-P FORWARD DROP\n" + jump + "\n-A FORWARD -j DOCKER-USER\n", install: true, want: []string{
			"*filter", ":BERTH-FWD-berth0 - [0:0]",
			"-A BERTH-FWD-berth0 -i berth0 -j ACCEPT", "-A BERTH-FWD-berth0 -o berth0 -j ACCEPT", "COMMIT"}},
		{name: "pushed down by another rule", forward: "-P FORWARD DROP\n-A FORWARD -j DOCKER-USER\n" + jump + "\n", install: true, want: []string{
			"*filter", ":BERTH-FWD-berth0 - [0:0]",
			`-D FORWARD -m comment --comment "berth: accept pod traffic" -j BERTH-FWD-berth0`,
			"-A BERTH-FWD-berth0 -i berth0 -j ACCEPT", "-A BERTH-FWD-berth0 -o berth0 -j ACCEPT",
			`-I FORWARD 1 -m comment --comment "berth: accept pod traffic" -j BERTH-FWD-berth0`, "COMMIT"}},
		{name: "remove", forward: jump + "\n-A FORWARD -j DOCKER-USER\n", install: false, want: []string{
			"*filter", ":BERTH-FWD-berth0 - [0:0]",
			`-D FORWARD -m comment --comment "berth: accept pod traffic" -j BERTH-FWD-berth0`,
			"-X BERTH-FWD-berth0", "COMMIT"}},
	}
	for _, tc := range tests {
		got := strings.Split(strings.TrimSpace(forwardPlan(tc.forward, chain, bridge, tc.install)), "\n")
		if strings.Join(got, "\n") != strings.Join(tc.want, "\n") {
			t.Errorf("%s:\n%s\nwant:\n%s", tc.name, strings.Join(got, "\n"), strings.Join(tc.want, "\n"))
		}
	}
	if c := fwdChain("odd name!"); len(c) > 28 || !strings.HasPrefix(c, fwdChainPrefix) {
		t.Errorf("chain for an odd bridge name: %q", c)
	}
}
