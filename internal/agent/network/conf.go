package network

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
)

// supportedVersions are the CNI versions this package speaks, newest first.
// Their results all list addresses under "ips"; 0.2.0 and older ("ip4") are
// only understood when parsing a result.
var supportedVersions = []string{"1.0.0", "0.4.0", "0.3.1"}

// listParams are what the configuration list depends on.
type listParams struct {
	// Name is the network's name (host-local's subdirectory of DataDir,
	// part of the bridge plugin's iptables chain names).
	Name string
	// CNIVersion is the negotiated version.
	CNIVersion string
	// Bridge is the bridge's name.
	Bridge string
	// Subnet is the podCIDR, masked.
	Subnet netip.Prefix
	// MTU is the veth's and bridge's MTU (0: the plugin's default).
	MTU int
	// DataDir is host-local's data directory.
	DataDir string
	// Loopback puts the loopback plugin first (Setup brings lo up itself
	// when it creates the namespace, so its list has none).
	Loopback bool
	// IPMasq makes the bridge masquerade traffic leaving the subnet with
	// iptables rules of its own per pod (Setup's list leaves it off: one
	// rule of the node masquerades for every pod).
	IPMasq bool
	// PortMap appends the portmap plugin (for port mappings, which no pod
	// passes yet: Setup's list has none).
	PortMap bool
}

// confList is a CNI network configuration list.
type confList struct {
	CNIVersion string            `json:"cniVersion"`
	Name       string            `json:"name"`
	Plugins    []json.RawMessage `json:"plugins"`
}

// bridgeConf is the bridge plugin's configuration.
type bridgeConf struct {
	Type        string   `json:"type"`
	Bridge      string   `json:"bridge"`
	IsGateway   bool     `json:"isGateway"`
	IPMasq      bool     `json:"ipMasq"`
	HairpinMode bool     `json:"hairpinMode"`
	MTU         int      `json:"mtu,omitempty"`
	IPAM        ipamConf `json:"ipam"`
}

// ipamConf is the host-local IPAM plugin's configuration.
type ipamConf struct {
	Type    string        `json:"type"`
	Ranges  [][]ipamRange `json:"ranges"`
	Routes  []ipamRoute   `json:"routes"`
	DataDir string        `json:"dataDir"`
}

// ipamRange is one host-local range.
type ipamRange struct {
	Subnet string `json:"subnet"`
}

// ipamRoute is one route host-local puts in the result.
type ipamRoute struct {
	Dst string `json:"dst"`
}

// portMapConf is the portmap plugin's configuration.
type portMapConf struct {
	Type         string          `json:"type"`
	Capabilities map[string]bool `json:"capabilities"`
	SNAT         bool            `json:"snat"`
}

// buildConfList builds the configuration list: loopback when asked, bridge
// (with host-local IPAM) and, when asked, portmap.
func buildConfList(p listParams) (confList, error) {
	if p.Name == "" || p.CNIVersion == "" || p.Bridge == "" || p.DataDir == "" {
		return confList{}, errors.New("network: configuration list needs a name, a CNI version, a bridge and a data dir")
	}
	if !p.Subnet.IsValid() {
		return confList{}, errors.New("network: configuration list needs a subnet")
	}
	defaultRoute := "0.0.0.0/0"
	if p.Subnet.Addr().Is6() {
		defaultRoute = "::/0"
	}
	var plugins []any
	if p.Loopback {
		plugins = append(plugins, map[string]string{"type": "loopback"})
	}
	plugins = append(plugins,
		bridgeConf{
			Type:        "bridge",
			Bridge:      p.Bridge,
			IsGateway:   true,
			IPMasq:      p.IPMasq,
			HairpinMode: true,
			MTU:         p.MTU,
			IPAM: ipamConf{
				Type:    "host-local",
				Ranges:  [][]ipamRange{{{Subnet: p.Subnet.Masked().String()}}},
				Routes:  []ipamRoute{{Dst: defaultRoute}},
				DataDir: p.DataDir,
			},
		})
	if p.PortMap {
		plugins = append(plugins, portMapConf{Type: "portmap", Capabilities: map[string]bool{"portMappings": true}, SNAT: true})
	}
	l := confList{CNIVersion: p.CNIVersion, Name: p.Name}
	for _, pl := range plugins {
		raw, err := json.Marshal(pl)
		if err != nil {
			return confList{}, fmt.Errorf("network: encode plugin configuration: %w", err)
		}
		l.Plugins = append(l.Plugins, raw)
	}
	return l, nil
}

// pluginType returns the "type" of plugin i of the list: the binary to run.
func (l confList) pluginType(i int) (string, error) {
	var t struct {
		Type string `json:"type"`
	}
	if err := json.Unmarshal(l.Plugins[i], &t); err != nil {
		return "", fmt.Errorf("network: plugin %d of list %q: %w", i, l.Name, err)
	}
	if t.Type == "" || strings.ContainsAny(t.Type, `/\`) || t.Type == "." || t.Type == ".." {
		return "", fmt.Errorf("network: plugin %d of list %q has an invalid type %q", i, l.Name, t.Type)
	}
	return t.Type, nil
}

// pluginConfig returns the configuration passed on plugin i's standard
// input: the plugin's own configuration with the list's name and CNI
// version and, when prev is not empty, prev as prevResult.
func (l confList) pluginConfig(i int, prev json.RawMessage) ([]byte, error) {
	if i < 0 || i >= len(l.Plugins) {
		return nil, fmt.Errorf("network: list %q has no plugin %d", l.Name, i)
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(l.Plugins[i], &m); err != nil {
		return nil, fmt.Errorf("network: plugin %d of list %q: %w", i, l.Name, err)
	}
	if m == nil {
		return nil, fmt.Errorf("network: plugin %d of list %q is not a JSON object", i, l.Name)
	}
	name, err := json.Marshal(l.Name)
	if err != nil {
		return nil, fmt.Errorf("network: encode name: %w", err)
	}
	version, err := json.Marshal(l.CNIVersion)
	if err != nil {
		return nil, fmt.Errorf("network: encode version: %w", err)
	}
	m["name"] = name
	m["cniVersion"] = version
	delete(m, "prevResult")
	if len(prev) > 0 {
		if !json.Valid(prev) {
			return nil, fmt.Errorf("network: previous result for plugin %d of list %q is not JSON", i, l.Name)
		}
		m["prevResult"] = prev
	}
	out, err := json.Marshal(m)
	if err != nil {
		return nil, fmt.Errorf("network: encode plugin %d of list %q: %w", i, l.Name, err)
	}
	return out, nil
}

// result is the part of a CNI result this package reads (versions 0.3.0
// to 1.0.0 list addresses under "ips"; 0.1.0 and 0.2.0 under "ip4"/"ip6").
type result struct {
	CNIVersion string `json:"cniVersion"`
	Interfaces []struct {
		Name    string `json:"name"`
		Sandbox string `json:"sandbox"`
	} `json:"interfaces"`
	IPs []struct {
		Address   string `json:"address"`
		Interface *int   `json:"interface"`
	} `json:"ips"`
	IP4 *struct {
		IP string `json:"ip"`
	} `json:"ip4"`
	IP6 *struct {
		IP string `json:"ip"`
	} `json:"ip6"`
}

// parsePodIP returns the pod's address from a plugin's result: the first
// address of the interface named ifName inside the sandbox, or else the
// first address of any interface inside the sandbox, or else the first
// address of the result. want, when valid, prefers addresses of its family.
func parsePodIP(raw []byte, ifName string, want netip.Prefix) (netip.Addr, error) {
	var r result
	if err := json.Unmarshal(raw, &r); err != nil {
		return netip.Addr{}, fmt.Errorf("network: parse CNI result: %w", err)
	}
	type cand struct {
		addr netip.Addr
		rank int // lower is better
	}
	var cands []cand
	for _, ip := range r.IPs {
		p, err := parseAddr(ip.Address)
		if err != nil {
			return netip.Addr{}, fmt.Errorf("network: parse CNI result: %w", err)
		}
		rank := 2
		if ip.Interface != nil && *ip.Interface >= 0 && *ip.Interface < len(r.Interfaces) {
			iface := r.Interfaces[*ip.Interface]
			switch {
			case iface.Sandbox != "" && iface.Name == ifName:
				rank = 0
			case iface.Sandbox != "":
				rank = 1
			}
		}
		cands = append(cands, cand{p, rank})
	}
	for _, legacy := range []*struct {
		IP string `json:"ip"`
	}{r.IP4, r.IP6} {
		if legacy == nil || legacy.IP == "" {
			continue
		}
		p, err := parseAddr(legacy.IP)
		if err != nil {
			return netip.Addr{}, fmt.Errorf("network: parse CNI result: %w", err)
		}
		cands = append(cands, cand{p, 2})
	}
	best := -1
	for i, c := range cands {
		if want.IsValid() && c.addr.Is4() != want.Addr().Is4() {
			c.rank += 10
			cands[i] = c
		}
		if best < 0 || c.rank < cands[best].rank {
			best = i
		}
	}
	if best < 0 {
		return netip.Addr{}, errors.New("network: CNI result has no IP address")
	}
	return cands[best].addr, nil
}

// parseAddr parses "10.42.1.2/24" or "10.42.1.2".
func parseAddr(s string) (netip.Addr, error) {
	if p, err := netip.ParsePrefix(s); err == nil {
		return p.Addr(), nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Addr{}, fmt.Errorf("invalid address %q: %w", s, err)
	}
	return a, nil
}

// versionInfo is a plugin's answer to CNI_COMMAND=VERSION.
type versionInfo struct {
	CNIVersion        string   `json:"cniVersion"`
	SupportedVersions []string `json:"supportedVersions"`
}

// parseVersionInfo parses a VERSION answer; a plugin that predates the
// command (pre-0.3) supports 0.1.0 and 0.2.0 only.
func parseVersionInfo(raw []byte) ([]string, error) {
	var v versionInfo
	if err := json.Unmarshal(raw, &v); err != nil {
		return nil, fmt.Errorf("network: parse VERSION answer: %w", err)
	}
	if len(v.SupportedVersions) == 0 {
		return []string{"0.1.0", "0.2.0"}, nil
	}
	return v.SupportedVersions, nil
}

// pickVersion returns the newest version of supportedVersions that every
// plugin supports.
func pickVersion(perPlugin map[string][]string) (string, error) {
	for _, v := range supportedVersions {
		all := true
		for _, vs := range perPlugin {
			found := false
			for _, s := range vs {
				if s == v {
					found = true
					break
				}
			}
			if !found {
				all = false
				break
			}
		}
		if all {
			return v, nil
		}
	}
	var parts []string
	for p, vs := range perPlugin {
		parts = append(parts, p+" supports "+strings.Join(vs, ","))
	}
	return "", fmt.Errorf("network: no CNI version in common with the plugins (want one of %s; %s)", strings.Join(supportedVersions, ","), strings.Join(parts, "; "))
}

// PluginError is a CNI plugin's failure: the error object it printed (code,
// msg, details) or, when it printed none, its exit status and standard
// error.
type PluginError struct {
	// Plugin is the plugin's type (its binary's name).
	Plugin string
	// Command is the CNI command (ADD, DEL, VERSION).
	Command string
	// Code is the CNI error code (0 when the plugin printed no error object).
	Code uint
	// Msg and Details are the error object's fields.
	Msg, Details string
	// Stderr is what the plugin wrote on standard error (trimmed).
	Stderr string
	// Err is the exec error (exit status, killed by the context, ...).
	Err error
}

// Error implements error.
func (e *PluginError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "CNI plugin %s %s failed", e.Plugin, e.Command)
	if e.Code != 0 {
		b.WriteString(" (code " + strconv.FormatUint(uint64(e.Code), 10) + ")")
	}
	if e.Msg != "" {
		b.WriteString(": " + e.Msg)
		if e.Details != "" {
			b.WriteString(": " + e.Details)
		}
	} else if e.Err != nil {
		b.WriteString(": " + e.Err.Error())
	}
	if e.Stderr != "" {
		b.WriteString(" (stderr: " + e.Stderr + ")")
	}
	return b.String()
}

// Unwrap returns the exec error.
func (e *PluginError) Unwrap() error { return e.Err }

// parsePluginError builds the error of a failed plugin run from its
// standard output (a CNI error object, when it printed one).
func parsePluginError(plugin, command string, stdout, stderr []byte, execErr error) *PluginError {
	e := &PluginError{Plugin: plugin, Command: command, Stderr: truncate(strings.TrimSpace(string(stderr)), 2048), Err: execErr}
	var obj struct {
		Code    uint   `json:"code"`
		Msg     string `json:"msg"`
		Details string `json:"details"`
	}
	if err := json.Unmarshal(stdout, &obj); err == nil && (obj.Code != 0 || obj.Msg != "") {
		e.Code, e.Msg, e.Details = obj.Code, obj.Msg, obj.Details
	} else if s := strings.TrimSpace(string(stdout)); s != "" && e.Stderr == "" {
		e.Stderr = truncate(s, 2048)
	}
	return e
}

// truncate cuts s to at most n bytes.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}
