package docker

import (
	"errors"
	"maps"
	"net"
	"net/netip"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/api/pkg/authconfig"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/mount"
	"github.com/moby/moby/api/types/network"

	"github.com/berth-dev/berth/internal/agent/runtime"
)

func TestMergeCommand(t *testing.T) {
	ep, cmd := []string{"/entry", "x"}, []string{"default", "args"}
	tests := []struct {
		name                     string
		imgEP, imgCmd, cmd, args []string
		wantEntrypoint, wantCmd  []string
	}{
		{name: "image only", imgEP: ep, imgCmd: cmd, wantEntrypoint: ep, wantCmd: cmd},
		{name: "command replaces entrypoint and drops cmd", imgEP: ep, imgCmd: cmd, cmd: []string{"/bin/app"},
			wantEntrypoint: []string{"/bin/app"}},
		{name: "args replace cmd", imgEP: ep, imgCmd: cmd, args: []string{"-v"}, wantEntrypoint: ep, wantCmd: []string{"-v"}},
		{name: "command and args", imgEP: ep, imgCmd: cmd, cmd: []string{"/bin/app"}, args: []string{"-v"},
			wantEntrypoint: []string{"/bin/app"}, wantCmd: []string{"-v"}},
		{name: "cmd-only image, args", imgCmd: cmd, args: []string{"/bin/sh"}, wantCmd: []string{"/bin/sh"}},
		{name: "empty slices are unset", imgEP: ep, imgCmd: cmd, cmd: []string{}, args: []string{}, wantEntrypoint: ep, wantCmd: cmd},
		{name: "nothing anywhere"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			gotEP, gotCmd := mergeCommand(tc.imgEP, tc.imgCmd, tc.cmd, tc.args)
			if !slices.Equal(gotEP, tc.wantEntrypoint) || !slices.Equal(gotCmd, tc.wantCmd) {
				t.Errorf("mergeCommand = %q, %q; want %q, %q", gotEP, gotCmd, tc.wantEntrypoint, tc.wantCmd)
			}
		})
	}
}

func TestResources(t *testing.T) {
	tests := []struct {
		name                   string
		limit, request, memory int64
		want                   container.Resources
		wantErr                bool
	}{
		{name: "none", want: container.Resources{CPUShares: 2}},
		{name: "half a CPU", limit: 500, request: 250, memory: 64 << 20,
			want: container.Resources{CPUPeriod: 100_000, CPUQuota: 50_000, CPUShares: 256, Memory: 64 << 20, MemorySwap: 64 << 20}},
		{name: "tiny limit gets the minimum quota", limit: 1, request: 1,
			want: container.Resources{CPUPeriod: 100_000, CPUQuota: 1_000, CPUShares: 2}},
		{name: "two CPUs", limit: 2000, request: 2000,
			want: container.Resources{CPUPeriod: 100_000, CPUQuota: 200_000, CPUShares: 2048}},
		{name: "huge request is capped", request: 1 << 40, want: container.Resources{CPUShares: 262_144}},
		{name: "negative", memory: -1, wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := resources(tc.limit, tc.request, tc.memory)
			if (err != nil) != tc.wantErr {
				t.Fatalf("error %v, want error %v", err, tc.wantErr)
			}
			if err == nil && (got.CPUPeriod != tc.want.CPUPeriod || got.CPUQuota != tc.want.CPUQuota || got.CPUShares != tc.want.CPUShares ||
				got.Memory != tc.want.Memory || got.MemorySwap != tc.want.MemorySwap) {
				t.Errorf("resources = %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestMounts(t *testing.T) {
	tests := []struct {
		name    string
		in      []runtime.Mount
		want    []mount.Mount
		wantErr bool
	}{
		{name: "none"},
		{name: "rw and ro", in: []runtime.Mount{{HostPath: "/a", ContainerPath: "/b"}, {HostPath: "/c:d", ContainerPath: "/e", ReadOnly: true}},
			want: []mount.Mount{{Type: mount.TypeBind, Source: "/a", Target: "/b"}, {Type: mount.TypeBind, Source: "/c:d", Target: "/e", ReadOnly: true}}},
		{name: "relative host path", in: []runtime.Mount{{HostPath: "a", ContainerPath: "/b"}}, wantErr: true},
		{name: "relative container path", in: []runtime.Mount{{HostPath: "/a", ContainerPath: "b"}}, wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := mounts(tc.in)
			if (err != nil) != tc.wantErr || !slices.EqualFunc(got, tc.want, func(a, b mount.Mount) bool {
				return a.Type == b.Type && a.Source == b.Source && a.Target == b.Target && a.ReadOnly == b.ReadOnly
			}) {
				t.Errorf("mounts = %+v, %v; want %+v (error %v)", got, err, tc.want, tc.wantErr)
			}
		})
	}
}

func TestLabels(t *testing.T) {
	spec := map[string]string{runtime.LabelPodUID: "u", "x": "y"}
	all := withDriverLabels(spec, "n1", roleContainer, map[string]string{LabelSandbox: "sb", LabelName: "c"})
	if !owned(all, "n1", roleContainer) || owned(all, "n2", roleContainer) || owned(all, "n1", roleSandbox) {
		t.Errorf("owned wrong for %v", all)
	}
	if got := specLabels(all); !maps.Equal(got, spec) {
		t.Errorf("specLabels = %v, want %v", got, spec)
	}
	withImage := maps.Clone(all)
	withImage["maintainer"] = "from the image's LABEL"
	if got := specLabels(withImage); !maps.Equal(got, spec) {
		t.Errorf("specLabels with an image label = %v, want %v", got, spec)
	}
	old := maps.Clone(withImage) // made without the key list
	delete(old, LabelKeys)
	if got := specLabels(old); len(got) != 3 || got["maintainer"] == "" || got[runtime.LabelPodUID] != "u" {
		t.Errorf("specLabels without the key list = %v, want all but the driver's", got)
	}
	if got := specLabels(withDriverLabels(nil, "n", roleSandbox, nil)); len(got) != 0 {
		t.Errorf("specLabels of no labels = %v", got)
	}
	if spec[LabelManaged] != "" {
		t.Errorf("withDriverLabels changed its input: %v", spec)
	}
	tests := []struct {
		name    string
		labels  map[string]string
		wantErr bool
	}{
		{name: "none"},
		{name: "agent's", labels: map[string]string{runtime.LabelPodUID: "u", runtime.LabelContainer: "c"}},
		{name: "reserved node", labels: map[string]string{LabelNode: "other"}, wantErr: true},
		{name: "reserved managed", labels: map[string]string{LabelManaged: "false"}, wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if err := checkLabels(tc.labels); (err != nil) != tc.wantErr {
				t.Errorf("checkLabels(%v) = %v, want error %v", tc.labels, err, tc.wantErr)
			}
		})
	}
}

func TestListFilters(t *testing.T) {
	tests := []struct {
		name, role, sandbox string
		want                []string
	}{
		{name: "sandboxes", role: roleSandbox, want: []string{"berth.io/managed=true", "berth.io/node=n1", "berth.io/role=sandbox"}},
		{name: "containers of a sandbox", role: roleContainer, sandbox: "abc",
			want: []string{"berth.io/managed=true", "berth.io/node=n1", "berth.io/role=container", "berth.io/sandbox=abc"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := listFilters("n1", tc.role, tc.sandbox)
			if len(f) != 1 {
				t.Fatalf("filters %v: want label filters only", f)
			}
			got := slices.Sorted(maps.Keys(f["label"]))
			if !slices.Equal(got, tc.want) {
				t.Errorf("label filters %q, want %q", got, tc.want)
			}
		})
	}
}

func TestContainerName(t *testing.T) {
	valid := regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9_.-]+$`)
	tests := [][]string{
		{"node", "default", "web", "POD"},
		{"node.example.com", "ns", "p", "c"},
		{"n", "", "we/ird name", "ctr:1"},
	}
	for _, parts := range tests {
		a, b := containerName(parts...), containerName(parts...)
		if !valid.MatchString(a) || a == b || !strings.HasPrefix(a, "berth_") {
			t.Errorf("containerName(%q) = %q, %q: want valid, unique names", parts, a, b)
		}
	}
}

func TestLogConfig(t *testing.T) {
	tests := []struct {
		max  int64
		want string
	}{{0, "10485760"}, {-1, "10485760"}, {4096, "4096"}}
	for _, tc := range tests {
		c := logConfig(tc.max)
		if c.Type != "json-file" || c.Config["max-size"] != tc.want || c.Config["max-file"] != "2" {
			t.Errorf("logConfig(%d) = %+v, want json-file, max-size %s, 2 files", tc.max, c, tc.want)
		}
	}
}

func TestStatusOf(t *testing.T) {
	created := "2025-01-02T03:04:05.123456789Z"
	started := "2025-01-02T03:04:06Z"
	finished := "2025-01-02T03:04:07Z"
	never := "0001-01-01T00:00:00Z"
	labels := withDriverLabels(map[string]string{"k": "v"}, "n", roleContainer, map[string]string{LabelSandbox: "sb", LabelName: "web"})
	mk := func(s container.State) container.InspectResponse {
		return container.InspectResponse{ID: "id", Created: created, State: &s, Config: &container.Config{Labels: labels}}
	}
	ct, st, ft := parseTime(created), parseTime(started), parseTime(finished)
	tests := []struct {
		name string
		in   container.InspectResponse
		want runtime.ContainerStatus
	}{
		{name: "running", in: mk(container.State{Status: container.StateRunning, Running: true, Pid: 42, StartedAt: started, FinishedAt: never}),
			want: runtime.ContainerStatus{State: runtime.StateRunning, PID: 42, StartedAt: st}},
		{name: "completed", in: mk(container.State{Status: container.StateExited, StartedAt: started, FinishedAt: finished}),
			want: runtime.ContainerStatus{State: runtime.StateExited, Reason: "Completed", StartedAt: st, FinishedAt: ft}},
		{name: "error", in: mk(container.State{Status: container.StateExited, ExitCode: 3, StartedAt: started, FinishedAt: finished}),
			want: runtime.ContainerStatus{State: runtime.StateExited, ExitCode: 3, Reason: "Error", StartedAt: st, FinishedAt: ft}},
		{name: "oom", in: mk(container.State{Status: container.StateExited, ExitCode: 137, OOMKilled: true, StartedAt: started, FinishedAt: finished}),
			want: runtime.ContainerStatus{State: runtime.StateExited, ExitCode: 137, Reason: "OOMKilled", StartedAt: st, FinishedAt: ft}},
		{name: "start failed", in: mk(container.State{Status: container.StateCreated, ExitCode: 127, Error: "exec: no such file", StartedAt: never, FinishedAt: never}),
			want: runtime.ContainerStatus{State: runtime.StateExited, ExitCode: 127, Reason: "Error", Message: "exec: no such file", StartedAt: ct, FinishedAt: ct}},
		{name: "start failed without code", in: mk(container.State{Status: container.StateCreated, Error: "boom", StartedAt: never, FinishedAt: never}),
			want: runtime.ContainerStatus{State: runtime.StateExited, ExitCode: 128, Reason: "Error", Message: "boom", StartedAt: ct, FinishedAt: ct}},
		{name: "created", in: mk(container.State{Status: container.StateCreated, StartedAt: never, FinishedAt: never}),
			want: runtime.ContainerStatus{State: runtime.StateCreated}},
		{name: "no state", in: container.InspectResponse{ID: "id", Created: created, Config: &container.Config{Labels: labels}},
			want: runtime.ContainerStatus{State: runtime.StateUnknown}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := statusOf(tc.in)
			w := tc.want
			w.ID, w.SandboxID, w.Name, w.CreatedAt, w.Labels = "id", "sb", "web", ct, map[string]string{"k": "v"}
			if got.State != w.State || got.PID != w.PID || got.ExitCode != w.ExitCode || got.Reason != w.Reason || got.Message != w.Message ||
				!got.CreatedAt.Equal(w.CreatedAt) || !got.StartedAt.Equal(w.StartedAt) || !got.FinishedAt.Equal(w.FinishedAt) ||
				got.ID != w.ID || got.SandboxID != w.SandboxID || got.Name != w.Name || !maps.Equal(got.Labels, w.Labels) {
				t.Errorf("statusOf = %+v\nwant       %+v", got, w)
			}
		})
	}
}

func TestParseTime(t *testing.T) {
	tests := []struct {
		in   string
		want time.Time
	}{
		{"2025-01-02T03:04:05.5Z", time.Date(2025, 1, 2, 3, 4, 5, 5e8, time.UTC)},
		{"0001-01-01T00:00:00Z", time.Time{}},
		{"", time.Time{}},
		{"garbage", time.Time{}},
	}
	for _, tc := range tests {
		if got := parseTime(tc.in); !got.Equal(tc.want) {
			t.Errorf("parseTime(%q) = %v, want %v", tc.in, got, tc.want)
		}
	}
}

func TestNetworkSettings(t *testing.T) {
	cidr := netip.MustParsePrefix("10.42.3.0/24")
	cfg := Config{NodeName: "n1", BridgeName: "berthd-x", PodCIDR: cidr}
	req := networkRequest(cfg)
	if req.Driver != "bridge" || req.Options[optBridgeName] != "berthd-x" || req.Labels[LabelNode] != "n1" ||
		req.IPAM == nil || len(req.IPAM.Config) != 1 || req.IPAM.Config[0].Subnet != cidr {
		t.Errorf("network request %+v", req)
	}
	if req := networkRequest(Config{BridgeName: "b"}); req.IPAM != nil {
		t.Errorf("without a pod CIDR: IPAM %+v, want Docker's choice", req.IPAM)
	}
	good := network.Inspect{Network: network.Network{Driver: "bridge", Options: map[string]string{optBridgeName: "berthd-x"},
		IPAM: network.IPAM{Config: []network.IPAMConfig{{Subnet: cidr}}}}}
	tests := []struct {
		name string
		mod  func(*network.Inspect)
		ok   bool
	}{
		{name: "same", ok: true},
		{name: "other driver", mod: func(n *network.Inspect) { n.Driver = "macvlan" }},
		{name: "other bridge", mod: func(n *network.Inspect) { n.Options = map[string]string{optBridgeName: "docker1"} }},
		{name: "other subnet", mod: func(n *network.Inspect) {
			n.IPAM.Config = []network.IPAMConfig{{Subnet: netip.MustParsePrefix("10.42.4.0/24")}}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			n := good
			if tc.mod != nil {
				tc.mod(&n)
			}
			if err := networkMatches(n, cfg); (err == nil) != tc.ok {
				t.Errorf("networkMatches = %v, want ok %v", err, tc.ok)
			}
		})
	}
}

func TestEncodeAuth(t *testing.T) {
	tests := []struct {
		name string
		auth *runtime.RegistryAuth
	}{
		{name: "nil"},
		{name: "empty", auth: &runtime.RegistryAuth{}},
		{name: "basic", auth: &runtime.RegistryAuth{Username: "u", Password: "p:w", ServerAddress: "reg:5000"}},
		{name: "token", auth: &runtime.RegistryAuth{IdentityToken: "tok", ServerAddress: "reg"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			enc, err := encodeAuth(tc.auth)
			if err != nil {
				t.Fatal(err)
			}
			if tc.auth == nil || *tc.auth == (runtime.RegistryAuth{}) {
				if enc != "" {
					t.Errorf("encoded %q, want nothing", enc)
				}
				return
			}
			dec, err := authconfig.Decode(enc)
			if err != nil {
				t.Fatal(err)
			}
			if dec.Username != tc.auth.Username || dec.Password != tc.auth.Password || dec.ServerAddress != tc.auth.ServerAddress ||
				dec.IdentityToken != tc.auth.IdentityToken {
				t.Errorf("decoded %+v, want %+v", dec, tc.auth)
			}
		})
	}
}

func TestReadProgress(t *testing.T) {
	tests := []struct {
		name    string
		stream  string
		lines   []string
		wantErr string
	}{
		{name: "pull", stream: `{"status":"Pulling from library/x","id":"1.0"}
{"status":"Downloading","progressDetail":{"current":10,"total":100},"id":"abc"}
{"status":"Download complete","progressDetail":{},"id":"abc"}
{"status":"Status: Downloaded newer image for x:1.0"}
`, lines: []string{"1.0: Pulling from library/x", "abc: Download complete", "Status: Downloaded newer image for x:1.0"}},
		{name: "error in the stream", stream: `{"status":"Pulling fs layer","id":"abc"}
{"errorDetail":{"message":"unauthorized: authentication required"},"error":"unauthorized: authentication required"}
`, lines: []string{"abc: Pulling fs layer"}, wantErr: "unauthorized"},
		{name: "truncated", stream: `{"status":"x"`, wantErr: "progress stream"},
		{name: "empty"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var got []string
			err := readProgress(t.Context(), strings.NewReader(tc.stream), func(s string) { got = append(got, s) })
			if tc.wantErr == "" && err != nil || tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)) {
				t.Errorf("error %v, want %q", err, tc.wantErr)
			}
			if !slices.Equal(got, tc.lines) {
				t.Errorf("progress %q, want %q", got, tc.lines)
			}
		})
	}
}

func TestAPIErrorMapsNotFound(t *testing.T) {
	d := &Driver{ctx: t.Context()}
	if err := d.apiError(nil, "x"); err != nil {
		t.Errorf("apiError(nil) = %v", err)
	}
	if err := d.apiError(errors.New("boom"), "do %s", "it"); errors.Is(err, runtime.ErrNotFound) || !strings.Contains(err.Error(), "do it: boom") {
		t.Errorf("apiError(boom) = %v", err)
	}
}

func TestLocalConflict(t *testing.T) {
	lo := ""
	if ifs, err := net.Interfaces(); err == nil {
		for _, ifc := range ifs {
			if ifc.Flags&net.FlagLoopback != 0 {
				lo = ifc.Name
			}
		}
	}
	if lo == "" {
		t.Skip("no loopback interface")
	}
	tests := []struct {
		name, prefix, bridge, want string
	}{
		{name: "loopback's subnet", prefix: "127.0.0.0/8", want: lo},
		{name: "the bridge itself is fine", prefix: "127.0.0.0/8", bridge: lo},
		{name: "reserved subnet is free", prefix: "240.0.0.0/24"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := localConflict(netip.MustParsePrefix(tc.prefix), tc.bridge); got != tc.want {
				t.Errorf("localConflict(%s, %q) = %q, want %q", tc.prefix, tc.bridge, got, tc.want)
			}
		})
	}
}

func TestNewRefuses(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
		want string
	}{
		{name: "long bridge name", cfg: Config{NodeName: "n", BridgeName: "a-very-long-bridge"}, want: "15 bytes"},
		{name: "IPv6 pod CIDR", cfg: Config{NodeName: "n", PodCIDR: netip.MustParsePrefix("fd00::/64")}, want: "IPv4"},
		{name: "no daemon", cfg: Config{NodeName: "n", Host: "unix://" + t.TempDir() + "/none.sock"}, want: "does not answer"},
		{name: "bad host", cfg: Config{NodeName: "n", Host: "::nonsense"}, want: "client"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d, err := New(t.Context(), tc.cfg)
			if err == nil {
				d.Close()
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("New: %v, want an error with %q", err, tc.want)
			}
		})
	}
}

func TestPodNameParts(t *testing.T) {
	infra := containerName("node-1", "default", "web", "POD")
	tests := []struct {
		name, infra, sandbox string
		want                 []string
	}{
		{name: "infra name", infra: "/" + infra, sandbox: "0123456789abcdef", want: []string{"node-1", "default", "web"}},
		{name: "other name", infra: "/renamed", sandbox: "0123456789abcdef", want: []string{"0123456789ab"}},
		{name: "short ID", infra: "", sandbox: "abc", want: []string{"abc"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := podNameParts(tc.infra, tc.sandbox); !slices.Equal(got, tc.want) {
				t.Errorf("podNameParts(%q) = %q, want %q", tc.infra, got, tc.want)
			}
		})
	}
	if name := containerName(append(podNameParts(infra, "x"), "app")...); !strings.HasPrefix(name, "berth_node-1_default_web_app_") {
		t.Errorf("app container name %q", name)
	}
}
