package network

import (
	"context"
	"encoding/json"
	"errors"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestBuildConfList(t *testing.T) {
	base := listParams{
		Name: "berth", CNIVersion: "1.0.0", Bridge: "berth0",
		Subnet: netip.MustParsePrefix("10.42.1.0/24"), DataDir: "/var/lib/berth/agent/cni/ipam",
	}
	tests := []struct {
		name      string
		mod       func(p *listParams)
		wantTypes []string
		wantMasq  bool
		wantMTU   float64 // 0: no "mtu" key
		wantRoute string
		wantNet   string
		wantErr   bool
	}{
		{name: "setup's list", wantTypes: []string{"bridge"}, wantRoute: "0.0.0.0/0", wantNet: "10.42.1.0/24"},
		{name: "loopback", mod: func(p *listParams) { p.Loopback = true }, wantTypes: []string{"loopback", "bridge"}, wantRoute: "0.0.0.0/0", wantNet: "10.42.1.0/24"},
		{name: "ipMasq and portmap", mod: func(p *listParams) { p.Loopback, p.IPMasq, p.PortMap = true, true, true },
			wantTypes: []string{"loopback", "bridge", "portmap"}, wantMasq: true, wantRoute: "0.0.0.0/0", wantNet: "10.42.1.0/24"},
		{name: "portmap without loopback", mod: func(p *listParams) { p.PortMap = true },
			wantTypes: []string{"bridge", "portmap"}, wantRoute: "0.0.0.0/0", wantNet: "10.42.1.0/24"},
		{name: "mtu", mod: func(p *listParams) { p.MTU = 1450 }, wantTypes: []string{"bridge"}, wantMTU: 1450, wantRoute: "0.0.0.0/0", wantNet: "10.42.1.0/24"},
		{name: "unmasked subnet", mod: func(p *listParams) { p.Subnet = netip.MustParsePrefix("10.42.1.77/24") },
			wantTypes: []string{"bridge"}, wantRoute: "0.0.0.0/0", wantNet: "10.42.1.0/24"},
		{name: "ipv6", mod: func(p *listParams) { p.Subnet = netip.MustParsePrefix("fd00:42:1::/64") },
			wantTypes: []string{"bridge"}, wantRoute: "::/0", wantNet: "fd00:42:1::/64"},
		{name: "no subnet", mod: func(p *listParams) { p.Subnet = netip.Prefix{} }, wantErr: true},
		{name: "no version", mod: func(p *listParams) { p.CNIVersion = "" }, wantErr: true},
		{name: "no bridge", mod: func(p *listParams) { p.Bridge = "" }, wantErr: true},
		{name: "no data dir", mod: func(p *listParams) { p.DataDir = "" }, wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := base
			if tc.mod != nil {
				tc.mod(&p)
			}
			l, err := buildConfList(p)
			if tc.wantErr {
				if err == nil {
					t.Fatal("want an error")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			// The list must round-trip through JSON as a CNI conflist.
			raw, err := json.Marshal(l)
			if err != nil {
				t.Fatal(err)
			}
			var generic struct {
				CNIVersion string           `json:"cniVersion"`
				Name       string           `json:"name"`
				Plugins    []map[string]any `json:"plugins"`
			}
			if err := json.Unmarshal(raw, &generic); err != nil {
				t.Fatal(err)
			}
			if generic.CNIVersion != "1.0.0" || generic.Name != "berth" {
				t.Errorf("list header = %q %q", generic.CNIVersion, generic.Name)
			}
			var types []string
			for i, pl := range generic.Plugins {
				types = append(types, pl["type"].(string))
				typ, err := l.pluginType(i)
				if err != nil || typ != pl["type"] {
					t.Errorf("pluginType(%d) = %q, %v", i, typ, err)
				}
			}
			if !slices.Equal(types, tc.wantTypes) {
				t.Fatalf("plugin types = %v, want %v", types, tc.wantTypes)
			}
			br := generic.Plugins[slices.Index(types, "bridge")]
			if br["bridge"] != "berth0" || br["isGateway"] != true || br["hairpinMode"] != true || br["ipMasq"] != tc.wantMasq {
				t.Errorf("bridge config = %v", br)
			}
			if mtu, ok := br["mtu"]; tc.wantMTU == 0 && ok || tc.wantMTU != 0 && mtu != tc.wantMTU {
				t.Errorf("bridge mtu = %v, want %v", mtu, tc.wantMTU)
			}
			ipam := br["ipam"].(map[string]any)
			want := map[string]any{
				"type":    "host-local",
				"ranges":  []any{[]any{map[string]any{"subnet": tc.wantNet}}},
				"routes":  []any{map[string]any{"dst": tc.wantRoute}},
				"dataDir": "/var/lib/berth/agent/cni/ipam",
			}
			if !reflect.DeepEqual(ipam, want) {
				t.Errorf("ipam = %v, want %v", ipam, want)
			}
			if i := slices.Index(types, "portmap"); i >= 0 {
				pm := generic.Plugins[i]
				if caps, _ := pm["capabilities"].(map[string]any); caps["portMappings"] != true {
					t.Errorf("portmap config = %v", pm)
				}
			}
		})
	}
}

func TestPluginConfig(t *testing.T) {
	l, err := buildConfList(listParams{Name: "berth", CNIVersion: "0.4.0", Bridge: "b0", Subnet: netip.MustParsePrefix("10.1.0.0/16"), DataDir: "/d", Loopback: true})
	if err != nil {
		t.Fatal(err)
	}
	prev := json.RawMessage(`{"cniVersion":"0.4.0","ips":[{"version":"4","address":"10.1.0.2/16"}]}`)
	tests := []struct {
		name     string
		list     confList
		i        int
		prev     json.RawMessage
		wantPrev bool
		wantType string
		wantErr  bool
	}{
		{name: "first plugin", list: l, i: 0, wantType: "loopback"},
		{name: "with prevResult", list: l, i: 1, prev: prev, wantPrev: true, wantType: "bridge"},
		{name: "stale prevResult replaced", list: confList{Name: "n", CNIVersion: "1.0.0", Plugins: []json.RawMessage{json.RawMessage(`{"type":"x","prevResult":{"old":true}}`)}}, i: 0, wantType: "x"},
		{name: "index out of range", list: l, i: 2, wantErr: true},
		{name: "negative index", list: l, i: -1, wantErr: true},
		{name: "invalid prev", list: l, i: 0, prev: json.RawMessage(`{`), wantErr: true},
		{name: "plugin not an object", list: confList{Name: "n", CNIVersion: "1.0.0", Plugins: []json.RawMessage{json.RawMessage(`null`)}}, i: 0, wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out, err := tc.list.pluginConfig(tc.i, tc.prev)
			if tc.wantErr {
				if err == nil {
					t.Fatalf("want an error, got %s", out)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var m map[string]json.RawMessage
			if err := json.Unmarshal(out, &m); err != nil {
				t.Fatal(err)
			}
			if string(m["name"]) != `"`+tc.list.Name+`"` || string(m["cniVersion"]) != `"`+tc.list.CNIVersion+`"` {
				t.Errorf("name/version = %s %s", m["name"], m["cniVersion"])
			}
			if string(m["type"]) != `"`+tc.wantType+`"` {
				t.Errorf("type = %s, want %s", m["type"], tc.wantType)
			}
			got, has := m["prevResult"]
			if has != tc.wantPrev || has && string(got) != string(tc.prev) {
				t.Errorf("prevResult = %s (present %v), want present %v", got, has, tc.wantPrev)
			}
		})
	}
}

func TestPluginType(t *testing.T) {
	for _, bad := range []string{`{"type":""}`, `{"type":"../bridge"}`, `{"type":".."}`, `{}`, `[1]`} {
		l := confList{Name: "n", Plugins: []json.RawMessage{json.RawMessage(bad)}}
		if typ, err := l.pluginType(0); err == nil {
			t.Errorf("pluginType(%s) = %q, want an error", bad, typ)
		}
	}
}

// A bridge plugin's result as containernetworking-plugins 1.x prints it.
const result100 = `{
  "cniVersion": "1.0.0",
  "interfaces": [
    {"name": "berth0", "mac": "aa:bb:cc:dd:ee:01"},
    {"name": "veth1234", "mac": "aa:bb:cc:dd:ee:02"},
    {"name": "eth0", "mac": "aa:bb:cc:dd:ee:03", "sandbox": "/run/berth/netns/abc"}
  ],
  "ips": [{"interface": 2, "address": "10.42.1.5/24", "gateway": "10.42.1.1"}],
  "routes": [{"dst": "0.0.0.0/0"}],
  "dns": {}
}`

func TestParsePodIP(t *testing.T) {
	v4 := netip.MustParsePrefix("10.42.1.0/24")
	v6 := netip.MustParsePrefix("fd00::/64")
	tests := []struct {
		name    string
		raw     string
		want    netip.Prefix
		wantIP  string
		wantErr bool
	}{
		{name: "1.0.0", raw: result100, want: v4, wantIP: "10.42.1.5"},
		{name: "0.4.0 with version", raw: `{"cniVersion":"0.4.0","interfaces":[{"name":"eth0","sandbox":"/x"}],"ips":[{"version":"4","interface":0,"address":"10.42.1.9/24"}]}`, want: v4, wantIP: "10.42.1.9"},
		{name: "sandbox eth0 preferred over host interface",
			raw:  `{"interfaces":[{"name":"berth0"},{"name":"eth0","sandbox":"/x"}],"ips":[{"interface":0,"address":"10.42.1.1/24"},{"interface":1,"address":"10.42.1.7/24"}]}`,
			want: v4, wantIP: "10.42.1.7"},
		{name: "any sandbox interface before no interface",
			raw:  `{"interfaces":[{"name":"net1","sandbox":"/x"}],"ips":[{"address":"10.42.1.3/24"},{"interface":0,"address":"10.42.1.4/24"}]}`,
			want: v4, wantIP: "10.42.1.4"},
		{name: "interface index out of range", raw: `{"interfaces":[],"ips":[{"interface":3,"address":"10.42.1.6/24"}]}`, want: v4, wantIP: "10.42.1.6"},
		{name: "no interfaces", raw: `{"ips":[{"address":"10.42.1.8/24"}]}`, want: v4, wantIP: "10.42.1.8"},
		{name: "bare address", raw: `{"ips":[{"address":"10.42.1.8"}]}`, want: v4, wantIP: "10.42.1.8"},
		{name: "family preference", raw: `{"interfaces":[{"name":"eth0","sandbox":"/x"}],"ips":[{"interface":0,"address":"10.42.1.2/24"},{"interface":0,"address":"fd00::2/64"}]}`, want: v6, wantIP: "fd00::2"},
		{name: "legacy 0.2.0", raw: `{"cniVersion":"0.2.0","ip4":{"ip":"10.42.1.11/24","gateway":"10.42.1.1"}}`, want: v4, wantIP: "10.42.1.11"},
		{name: "legacy ip6 only", raw: `{"cniVersion":"0.2.0","ip6":{"ip":"fd00::9/64"}}`, want: v6, wantIP: "fd00::9"},
		{name: "no address", raw: `{"cniVersion":"1.0.0","interfaces":[{"name":"lo","sandbox":"/x"}],"dns":{}}`, want: v4, wantErr: true},
		{name: "bad address", raw: `{"ips":[{"address":"10.42.1.300/24"}]}`, want: v4, wantErr: true},
		{name: "not JSON", raw: `ok`, want: v4, wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ip, err := parsePodIP([]byte(tc.raw), "eth0", tc.want)
			if tc.wantErr {
				if err == nil {
					t.Fatalf("want an error, got %s", ip)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if ip.String() != tc.wantIP {
				t.Errorf("ip = %s, want %s", ip, tc.wantIP)
			}
		})
	}
}

func TestVersions(t *testing.T) {
	tests := []struct {
		name    string
		answers map[string]string
		want    string
		wantErr bool
	}{
		{name: "plugins 1.x", answers: map[string]string{
			"bridge":   `{"cniVersion":"1.0.0","supportedVersions":["0.1.0","0.2.0","0.3.0","0.3.1","0.4.0","1.0.0"]}`,
			"loopback": `{"cniVersion":"1.0.0","supportedVersions":["0.1.0","0.2.0","0.3.0","0.3.1","0.4.0","1.0.0"]}`,
		}, want: "1.0.0"},
		{name: "one older plugin", answers: map[string]string{
			"bridge":   `{"cniVersion":"1.0.0","supportedVersions":["0.3.1","0.4.0","1.0.0"]}`,
			"loopback": `{"cniVersion":"0.4.0","supportedVersions":["0.1.0","0.2.0","0.3.0","0.3.1","0.4.0"]}`,
		}, want: "0.4.0"},
		{name: "pre-VERSION plugin", answers: map[string]string{"bridge": `{"cniVersion":"0.2.0"}`}, wantErr: true},
		{name: "nothing in common", answers: map[string]string{
			"bridge":   `{"supportedVersions":["1.0.0"]}`,
			"loopback": `{"supportedVersions":["0.3.1"]}`,
		}, wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			per := map[string][]string{}
			for p, a := range tc.answers {
				vs, err := parseVersionInfo([]byte(a))
				if err != nil {
					t.Fatal(err)
				}
				per[p] = vs
			}
			got, err := pickVersion(per)
			if tc.wantErr {
				if err == nil {
					t.Fatalf("want an error, got %s", got)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Errorf("pickVersion = %q, %v; want %q", got, err, tc.want)
			}
		})
	}
	if _, err := parseVersionInfo([]byte("nope")); err == nil {
		t.Error("parseVersionInfo(nope): want an error")
	}
}

func TestParsePluginError(t *testing.T) {
	exitErr := errors.New("exit status 1")
	tests := []struct {
		name           string
		stdout, stderr string
		wantCode       uint
		wantIn         []string
	}{
		{name: "error object", stdout: `{"cniVersion":"1.0.0","code":11,"msg":"failed to allocate for range 0","details":"no IP addresses available in range set"}`,
			wantCode: 11, wantIn: []string{"bridge ADD", "code 11", "failed to allocate", "no IP addresses available"}},
		{name: "stderr only", stderr: "panic: boom\n", wantIn: []string{"exit status 1", "stderr: panic: boom"}},
		{name: "non-JSON stdout", stdout: "garbage", wantIn: []string{"exit status 1", "garbage"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := parsePluginError("bridge", "ADD", []byte(tc.stdout), []byte(tc.stderr), exitErr)
			if e.Code != tc.wantCode {
				t.Errorf("code = %d, want %d", e.Code, tc.wantCode)
			}
			for _, s := range tc.wantIn {
				if !strings.Contains(e.Error(), s) {
					t.Errorf("error %q lacks %q", e.Error(), s)
				}
			}
			if !errors.Is(e, exitErr) {
				t.Error("error does not wrap the exec error")
			}
		})
	}
}

func TestNewValidation(t *testing.T) {
	tests := []struct {
		name    string
		cfg     Config
		wantErr bool
	}{
		{name: "ok", cfg: Config{PodCIDR: "10.42.1.0/24", StateDir: "/s"}},
		{name: "ipv6", cfg: Config{PodCIDR: "fd00:42::/64", StateDir: "/s"}},
		{name: "no podCIDR", cfg: Config{StateDir: "/s"}, wantErr: true},
		{name: "bad podCIDR", cfg: Config{PodCIDR: "10.42.1.0", StateDir: "/s"}, wantErr: true},
		{name: "tiny podCIDR", cfg: Config{PodCIDR: "10.42.1.0/31", StateDir: "/s"}, wantErr: true},
		{name: "no state dir", cfg: Config{PodCIDR: "10.42.1.0/24"}, wantErr: true},
		{name: "long bridge name", cfg: Config{PodCIDR: "10.42.1.0/24", StateDir: "/s", BridgeName: "a-very-long-bridge"}, wantErr: true},
		{name: "bridge name with slash", cfg: Config{PodCIDR: "10.42.1.0/24", StateDir: "/s", BridgeName: "a/b"}, wantErr: true},
		{name: "negative MTU", cfg: Config{PodCIDR: "10.42.1.0/24", StateDir: "/s", MTU: -1}, wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := New(tc.cfg)
			if tc.wantErr != (err != nil) {
				t.Fatalf("New: err = %v, want error %v", err, tc.wantErr)
			}
			if err != nil {
				return
			}
			if c.bridge != DefaultBridgeName || !slices.Equal(c.pluginDirs, DefaultPluginDirs) || c.netnsDir != "/s/netns" || c.ipamDir != "/s/ipam" {
				t.Errorf("defaults = %q %v %q %q", c.bridge, c.pluginDirs, c.netnsDir, c.ipamDir)
			}
			if c.NetNSPath("abc") != "/s/netns/abc" {
				t.Errorf("NetNSPath = %q", c.NetNSPath("abc"))
			}
		})
	}
}

func TestCheckID(t *testing.T) {
	for _, ok := range []string{"abc", "0f3a9c", "pod_1.sandbox-2"} {
		if err := checkID(ok); err != nil {
			t.Errorf("checkID(%q) = %v", ok, err)
		}
	}
	for _, bad := range []string{"", ".", "..", "../x", "a/b", "-x", "a b", strings.Repeat("a", 300)} {
		if err := checkID(bad); err == nil {
			t.Errorf("checkID(%q): want an error", bad)
		}
	}
}

func TestPluginEnv(t *testing.T) {
	env := pluginEnv([]string{"PATH=/usr/bin", "CNI_COMMAND=DEL", "CNI_NETNS=/old", "HOME=/root"},
		invocation{Command: "ADD", ContainerID: "abc", NetNS: "/run/netns/abc", IfName: "eth0"}, []string{"/usr/lib/cni", "/opt/cni/bin"})
	want := []string{"PATH=/usr/bin", "HOME=/root", "GOMAXPROCS=1", "CNI_COMMAND=ADD", "CNI_PATH=/usr/lib/cni:/opt/cni/bin", "CNI_CONTAINERID=abc", "CNI_NETNS=/run/netns/abc", "CNI_IFNAME=eth0"}
	if !slices.Equal(env, want) {
		t.Errorf("env = %q\nwant %q", env, want)
	}
	env = pluginEnv(nil, invocation{Command: "VERSION"}, []string{"/p"})
	if !slices.Equal(env, []string{"GOMAXPROCS=1", "CNI_COMMAND=VERSION", "CNI_PATH=/p"}) {
		t.Errorf("VERSION env = %q", env)
	}
	// The agent's own GOMAXPROCS is passed on, not overridden.
	env = pluginEnv([]string{"GOMAXPROCS=4"}, invocation{Command: "VERSION"}, []string{"/p"})
	if !slices.Equal(env, []string{"GOMAXPROCS=4", "CNI_COMMAND=VERSION", "CNI_PATH=/p"}) {
		t.Errorf("env with GOMAXPROCS = %q", env)
	}
}

func TestParseReservation(t *testing.T) {
	for in, want := range map[string]string{
		"abc\r\neth0": "abc",
		"abc\neth0":   "abc",
		"abc":         "abc",
		" abc \r\n":   "abc",
		"":            "",
	} {
		if got := parseReservation([]byte(in)); got != want {
			t.Errorf("parseReservation(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestAvailableMissingPlugins(t *testing.T) {
	dir := t.TempDir()
	fake := filepath.Join(dir, "plugins")
	if err := os.MkdirAll(fake, 0o755); err != nil {
		t.Fatal(err)
	}
	// A present but non-executable bridge counts as missing too.
	if err := os.WriteFile(filepath.Join(fake, "bridge"), []byte("#!/bin/sh\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	c, err := New(Config{PodCIDR: "10.42.1.0/24", StateDir: dir, PluginDirs: []string{fake, filepath.Join(dir, "nowhere")}})
	if err != nil {
		t.Fatal(err)
	}
	err = c.Available()
	if !errors.Is(err, ErrUnavailable) {
		t.Fatalf("Available = %v, want ErrUnavailable", err)
	}
	for _, s := range []string{"bridge, host-local", fake, "containernetworking-plugins"} {
		if !strings.Contains(err.Error(), s) {
			t.Errorf("Available error %q does not name %q", err, s)
		}
	}
	// Setup says the same, and creates nothing.
	if _, _, err := c.Setup(context.Background(), "abc"); !errors.Is(err, ErrUnavailable) {
		t.Errorf("Setup without plugins = %v, want ErrUnavailable", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "netns", "abc")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Setup without plugins left a netns file (%v)", err)
	}
	// Nothing set up: Teardown is a no-op, plugins or not.
	if err := c.Teardown(context.Background(), "abc", ""); err != nil {
		t.Errorf("Teardown of nothing = %v", err)
	}
}

// writeFakePlugin writes a shell script plugin that records its
// environment and standard input and prints out.
func writeFakePlugin(t *testing.T, dir, name, script string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, name), []byte("#!/bin/sh\n"+script), 0o755); err != nil {
		t.Fatal(err)
	}
}

func TestExecProtocol(t *testing.T) {
	if _, err := os.Stat("/bin/sh"); err != nil {
		t.Skip("no /bin/sh for the fake plugins")
	}
	dir := t.TempDir()
	logDir := filepath.Join(dir, "log")
	if err := os.MkdirAll(logDir, 0o755); err != nil {
		t.Fatal(err)
	}
	// Each fake plugin saves its stdin and CNI_ variables per command and
	// answers with a result (ADD) or nothing (DEL).
	record := `cat > "` + logDir + `/$(basename "$0").$CNI_COMMAND.stdin"
env | grep '^CNI_' | sort > "` + logDir + `/$(basename "$0").$CNI_COMMAND.env"
`
	writeFakePlugin(t, dir, "loopback", record+`[ "$CNI_COMMAND" = ADD ] && echo '{"cniVersion":"1.0.0","interfaces":[{"name":"lo","sandbox":"'"$CNI_NETNS"'"}],"ips":[{"interface":0,"address":"127.0.0.1/8"}]}'
exit 0
`)
	writeFakePlugin(t, dir, "bridge", record+`[ "$CNI_COMMAND" = ADD ] && echo '`+strings.ReplaceAll(result100, "\n", "")+`'
exit 0
`)
	writeFakePlugin(t, dir, "failing", `cat >/dev/null; echo '{"cniVersion":"1.0.0","code":7,"msg":"invalid network config"}'; echo oops >&2; exit 1
`)
	c, err := New(Config{PodCIDR: "10.42.1.0/24", StateDir: dir, PluginDirs: []string{filepath.Join(dir, "none"), dir}})
	if err != nil {
		t.Fatal(err)
	}
	list, err := buildConfList(listParams{Name: NetworkName, CNIVersion: "1.0.0", Bridge: "b0", Subnet: c.subnet, DataDir: "/d", Loopback: true})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	res, ip, err := c.add(ctx, list, "sb1", "/run/x/sb1")
	if err != nil {
		t.Fatal(err)
	}
	if ip.String() != "10.42.1.5" || !json.Valid(res) {
		t.Errorf("add = %s, %s", ip, res)
	}
	read := func(name string) string {
		b, err := os.ReadFile(filepath.Join(logDir, name))
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	wantEnv := "CNI_COMMAND=ADD\nCNI_CONTAINERID=sb1\nCNI_IFNAME=eth0\nCNI_NETNS=/run/x/sb1\nCNI_PATH=" + filepath.Join(dir, "none") + ":" + dir + "\n"
	if got := read("bridge.ADD.env"); got != wantEnv {
		t.Errorf("bridge env = %q, want %q", got, wantEnv)
	}
	var bridgeIn map[string]json.RawMessage
	if err := json.Unmarshal([]byte(read("bridge.ADD.stdin")), &bridgeIn); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(bridgeIn["prevResult"]), "127.0.0.1/8") || string(bridgeIn["name"]) != `"berth"` {
		t.Errorf("bridge got %v, want loopback's result as prevResult", bridgeIn)
	}
	if strings.Contains(read("loopback.ADD.stdin"), "prevResult") {
		t.Error("the first plugin got a prevResult")
	}

	// DEL runs in reverse with the cached result and an empty netns.
	if err := c.del(ctx, list, "sb1", "", "eth0", res); err != nil {
		t.Fatal(err)
	}
	if got := read("loopback.DEL.env"); strings.Contains(got, "CNI_NETNS") || !strings.Contains(got, "CNI_COMMAND=DEL") {
		t.Errorf("loopback DEL env = %q", got)
	}
	if !strings.Contains(read("loopback.DEL.stdin"), "10.42.1.5/24") {
		t.Error("DEL did not get the ADD result as prevResult")
	}

	// A failing plugin's error object becomes a *PluginError.
	bad := confList{Name: NetworkName, CNIVersion: "1.0.0", Plugins: []json.RawMessage{json.RawMessage(`{"type":"failing"}`)}}
	_, _, err = c.add(ctx, bad, "sb1", "/run/x/sb1")
	var pe *PluginError
	if !errors.As(err, &pe) || pe.Code != 7 || pe.Msg != "invalid network config" || pe.Stderr != "oops" {
		t.Errorf("failing plugin: err = %#v", err)
	}
	// A missing one is named.
	missing := confList{Name: NetworkName, CNIVersion: "1.0.0", Plugins: []json.RawMessage{json.RawMessage(`{"type":"nosuch"}`)}}
	if _, _, err := c.add(ctx, missing, "sb1", "/x"); !errors.Is(err, errPluginNotFound) || !strings.Contains(err.Error(), "nosuch") {
		t.Errorf("missing plugin: err = %v", err)
	}
}

func TestKeyedMutex(t *testing.T) {
	var k keyedMutex
	var wg sync.WaitGroup
	var a, b int
	counts := map[string]*int{"a": &a, "b": &b} // only read concurrently
	for i := range 50 {
		key := []string{"a", "b"}[i%2]
		wg.Go(func() {
			unlock := k.lock(key)
			*counts[key]++ // guarded by the key's lock only: the race detector checks it
			unlock()
		})
	}
	wg.Wait()
	if a != 25 || b != 25 || len(k.m) != 0 {
		t.Errorf("counts = %d %d, entries left = %d", a, b, len(k.m))
	}
}
