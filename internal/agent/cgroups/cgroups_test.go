package cgroups

import (
	"errors"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/berth-dev/berth/internal/agent/runtime"
)

const mib = 1 << 20

// quiet is a logger for tests.
var quiet = slog.New(slog.DiscardHandler)

// fakeLayout is a host layout the fake kernel can build.
type fakeLayout struct {
	name    string
	version Version
	make    func(t *testing.T, omit ...string) *fakeKernel
	// cpu, cpuacct and memory prefix a cgroup's path to reach its files
	// ("cpu/" on v1, "" on v2).
	cpu, cpuacct, memory string
	// procs are the cgroup.procs files AddProcess writes, by hierarchy.
	procs []string
}

var layouts = []fakeLayout{
	{
		name: "v1", version: V1,
		make: func(t *testing.T, omit ...string) *fakeKernel { return newFakeV1(t, v1Separate, omit...) },
		cpu:  "cpu/", cpuacct: "cpuacct/", memory: "memory/",
		procs: []string{"cpu", "cpuacct", "memory", "pids"},
	},
	{
		name: "v1-comounted", version: V1,
		make: func(t *testing.T, omit ...string) *fakeKernel { return newFakeV1(t, v1Comounted, omit...) },
		cpu:  "cpu/", cpuacct: "cpuacct/", memory: "memory/",
		procs: []string{"cpu", "memory", "pids"},
	},
	{
		name: "v2", version: V2,
		make: func(t *testing.T, omit ...string) *fakeKernel {
			return newFakeV2(t, "cpuset cpu io memory hugetlb pids rdma misc", omit...)
		},
		procs: []string{""},
	},
}

func TestDetect(t *testing.T) {
	for _, tc := range []struct {
		name string
		make func(t *testing.T) string
		want Version
	}{
		{"v1", func(t *testing.T) string { return newFakeV1(t, v1Separate).root }, V1},
		{"v1 co-mounted", func(t *testing.T) string { return newFakeV1(t, v1Comounted).root }, V1},
		{"v1 memory only", func(t *testing.T) string { return newFakeV1(t, []string{"memory"}).root }, V1},
		{"v2", func(t *testing.T) string { return newFakeV2(t, "cpu memory pids").root }, V2},
		{"v2 without cpu and memory", func(t *testing.T) string { return newFakeV2(t, "pids").root }, V2},
		{"hybrid with everything on unified", func(t *testing.T) string {
			k := newFakeV1(t, []string{"pids", "systemd"})
			k.set("unified/cgroup.controllers", "cpu io memory pids\n")
			return k.root
		}, V2},
		{"v1 without cpu and memory", func(t *testing.T) string { return newFakeV1(t, []string{"pids", "cpuset"}).root }, Unsupported},
		{"empty", func(t *testing.T) string { return t.TempDir() }, Unsupported},
		{"missing", func(t *testing.T) string { return filepath.Join(t.TempDir(), "nope") }, Unsupported},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Detect(tc.make(t))
			if got != tc.want {
				t.Errorf("Detect = %v (%v), want %v", got, err, tc.want)
			}
			if (tc.want == Unsupported) != errors.Is(err, ErrUnsupported) {
				t.Errorf("err = %v, want ErrUnsupported: %v", err, tc.want == Unsupported)
			}
		})
	}
}

func TestDetectHybridIgnoresUnified(t *testing.T) {
	k := newFakeV1(t, v1Separate)
	k.set("unified/cgroup.controllers", "cpu memory\n") // even if it had some
	m := k.mustManager(Config{Logger: quiet})
	if m.Version() != V1 {
		t.Fatalf("version %v, want v1", m.Version())
	}
	if _, err := m.Create("pod", 100, 100, 64*mib); err != nil {
		t.Fatal(err)
	}
	if exists(filepath.Join(k.root, "unified", "berth")) {
		t.Error("created a cgroup in the unified hierarchy of a v1 host")
	}
	for _, h := range []string{"cpu", "cpuacct", "memory", "pids"} {
		if !isDir(filepath.Join(k.root, h, "berth", "pod")) {
			t.Errorf("no cgroup in the %s hierarchy", h)
		}
	}
	for _, h := range []string{"cpuset", "systemd"} {
		if exists(filepath.Join(k.root, h, "berth")) {
			t.Errorf("created a cgroup in the unused %s hierarchy", h)
		}
	}
}

func TestConversions(t *testing.T) {
	for _, tc := range []struct {
		milli         int64
		quota         int64
		shares, weigh uint64
	}{
		{0, 0, 2, 1},
		{1, 1000, 2, 1},
		{5, 1000, 5, 1},
		{10, 1000, 10, 1},
		{100, 10000, 102, 4},
		{250, 25000, 256, 10},
		{500, 50000, 512, 20},
		{1000, 100000, 1024, 39},
		{2000, 200000, 2048, 79},
		{256000, 25600000, 262144, 10000},
		{1 << 40, (1 << 40) * 100, 262144, 10000},
	} {
		if got := cpuQuota(tc.milli); got != tc.quota {
			t.Errorf("cpuQuota(%d) = %d, want %d", tc.milli, got, tc.quota)
		}
		s := cpuShares(tc.milli)
		if s != tc.shares {
			t.Errorf("cpuShares(%d) = %d, want %d", tc.milli, s, tc.shares)
		}
		if got := cpuWeight(s); got != tc.weigh {
			t.Errorf("cpuWeight(%d) = %d, want %d", s, got, tc.weigh)
		}
	}
	if got := cpuQuota(1 << 62); got <= 0 {
		t.Errorf("cpuQuota overflowed: %d", got)
	}
}

func TestCreateLimits(t *testing.T) {
	cases := []struct {
		name                      string
		cpuLimit, cpuRequest, mem int64
		// v1 files
		quota, shares, limit string
		// v2 files
		cpuMax, weight, memMax string
	}{
		{"no limits", 0, 0, 0, "-1", "2", "-1", "max 100000", "1", "max"},
		{"half a cpu and 512MiB", 500, 250, 512 * mib, "50000", "256", "536870912", "50000 100000", "10", "536870912"},
		{"tiny", 1, 1, 1 * mib, "1000", "2", "1048576", "1000 100000", "1", "1048576"},
		{"four cpus", 4000, 2000, 8 << 30, "400000", "2048", "8589934592", "400000 100000", "79", "8589934592"},
		{"request only", 0, 1000, 0, "-1", "1024", "-1", "max 100000", "39", "max"},
		{"huge request", 0, 1_000_000, 0, "-1", "262144", "-1", "max 100000", "10000", "max"},
	}
	for _, l := range layouts {
		for _, tc := range cases {
			t.Run(l.name+"/"+tc.name, func(t *testing.T) {
				k := l.make(t)
				m := k.mustManager(Config{Logger: quiet})
				if m.Version() != l.version {
					t.Fatalf("version %v, want %v", m.Version(), l.version)
				}
				p, err := m.Create("pod-1", tc.cpuLimit, tc.cpuRequest, tc.mem)
				if err != nil {
					t.Fatal(err)
				}
				if p != "/berth/pod-1" {
					t.Errorf("path %q, want /berth/pod-1", p)
				}
				check := func(file, want string) {
					t.Helper()
					if got := k.read(file); got != want {
						t.Errorf("%s = %q, want %q", file, got, want)
					}
				}
				if l.version == V1 {
					check("cpu/berth/pod-1/cpu.cfs_quota_us", tc.quota)
					check("cpu/berth/pod-1/cpu.cfs_period_us", "100000")
					if n := len(k.wrote("pod-1/cpu.cfs_period_us")); (n > 0) != (tc.cpuLimit > 0) {
						t.Errorf("%d writes to cpu.cfs_period_us with cpu limit %d", n, tc.cpuLimit)
					}
					check("cpu/berth/pod-1/cpu.shares", tc.shares)
					check("memory/berth/pod-1/memory.limit_in_bytes", tc.limit)
					check("memory/berth/pod-1/memory.swappiness", "0")
					return
				}
				check("berth/pod-1/cpu.max", tc.cpuMax)
				check("berth/pod-1/cpu.weight", tc.weight)
				check("berth/pod-1/memory.max", tc.memMax)
				check("berth/pod-1/memory.swap.max", "0")
				check("cgroup.subtree_control", "cpu memory")
				check("berth/cgroup.subtree_control", "cpu memory")
			})
		}
	}
}

func TestCreateUpdatesExisting(t *testing.T) {
	for _, l := range layouts {
		t.Run(l.name, func(t *testing.T) {
			k := l.make(t)
			m := k.mustManager(Config{Logger: quiet, Parent: "/kubepods/berth/"})
			p1, err := m.Create("pod", 500, 500, 64*mib)
			if err != nil {
				t.Fatal(err)
			}
			p2, err := m.Create("pod", 0, 100, 128*mib)
			if err != nil {
				t.Fatal(err)
			}
			if p1 != "/kubepods/berth/pod" || p2 != p1 {
				t.Errorf("paths %q, %q, want /kubepods/berth/pod", p1, p2)
			}
			if l.version == V1 {
				if got := k.read("cpu/kubepods/berth/pod/cpu.cfs_quota_us"); got != "-1" {
					t.Errorf("quota %q after update, want -1", got)
				}
				if got := k.read("memory/kubepods/berth/pod/memory.limit_in_bytes"); got != "134217728" {
					t.Errorf("memory limit %q after update", got)
				}
				return
			}
			if got := k.read("kubepods/berth/pod/cpu.max"); got != "max 100000" {
				t.Errorf("cpu.max %q after update", got)
			}
			if got := k.read("kubepods/berth/pod/memory.max"); got != "134217728" {
				t.Errorf("memory.max %q after update", got)
			}
			for _, d := range []string{"", "kubepods/", "kubepods/berth/"} {
				if got := k.read(d + "cgroup.subtree_control"); got != "cpu memory" {
					t.Errorf("%scgroup.subtree_control = %q", d, got)
				}
			}
		})
	}
}

func TestCreateInvalid(t *testing.T) {
	for _, l := range layouts {
		k := l.make(t)
		m := k.mustManager(Config{Logger: quiet})
		for _, tc := range []struct {
			name           string
			cpu, req, memB int64
		}{
			{"", 0, 0, 0},
			{".", 0, 0, 0},
			{"..", 0, 0, 0},
			{"a/b", 0, 0, 0},
			{"../escape", 0, 0, 0},
			{".hidden", 0, 0, 0},
			{"-flag", 0, 0, 0},
			{"with space", 0, 0, 0},
			{"nul\x00", 0, 0, 0},
			{"new\nline", 0, 0, 0},
			{strings.Repeat("a", 256), 0, 0, 0},
			{"ok", -1, 0, 0},
			{"ok", 0, -1, 0},
			{"ok", 0, 0, -1},
		} {
			p, err := m.Create(tc.name, tc.cpu, tc.req, tc.memB)
			if !errors.Is(err, ErrInvalid) {
				t.Errorf("%s: Create(%q, %d, %d, %d) = %q, %v; want ErrInvalid", l.name, tc.name, tc.cpu, tc.req, tc.memB, p, err)
			}
		}
		entries, err := os.ReadDir(filepath.Join(k.root, l.memory, "berth"))
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range entries {
			if e.IsDir() {
				t.Errorf("%s: invalid Create left cgroup %s", l.name, e.Name())
			}
		}
	}
	for _, name := range []string{"pod-1", "default_web-0_7f9c2e1a-4b6d-4c3e-9a8b-0123456789ab", "pod.slice", "a:b@c+d", "_x", strings.Repeat("a", 255)} {
		if err := validName(name); err != nil {
			t.Errorf("validName(%q) = %v, want nil", name, err)
		}
	}
	if _, err := newFakeV2(t, "cpu memory").manager(Config{Parent: "a/../b"}); !errors.Is(err, ErrInvalid) {
		t.Errorf("bad parent: %v, want ErrInvalid", err)
	}
}

func TestBadPaths(t *testing.T) {
	for _, l := range layouts {
		k := l.make(t)
		m := k.mustManager(Config{Logger: quiet})
		if _, err := m.Create("pod", 0, 0, 0); err != nil {
			t.Fatal(err)
		}
		for _, p := range []string{"", "/", "/berth", "/berth/", "/other/pod", "/berth/../etc", "/berth/pod/..", "/berth/pod/child", "/berth//pod", "/berth/.hidden", filepath.Join(k.root, "berth/pod")} {
			errs := map[string]error{
				"AddProcess": m.AddProcess(p, 1),
				"Delete":     m.Delete(p),
			}
			_, errs["Stats"] = m.Stats(p)
			_, errs["OOMKilled"] = m.OOMKilled(p)
			for op, err := range errs {
				if !errors.Is(err, ErrInvalid) {
					t.Errorf("%s: %s(%q) = %v, want ErrInvalid", l.name, op, p, err)
				}
			}
		}
		// Without the leading slash is fine.
		if _, err := m.Stats("berth/pod"); err != nil {
			t.Errorf("%s: Stats(berth/pod) = %v", l.name, err)
		}
	}
}

func TestAddProcess(t *testing.T) {
	for _, l := range layouts {
		t.Run(l.name, func(t *testing.T) {
			k := l.make(t)
			m := k.mustManager(Config{Logger: quiet})
			p, err := m.Create("pod", 0, 0, 0)
			if err != nil {
				t.Fatal(err)
			}
			if err := m.AddProcess(p, 4242); err != nil {
				t.Fatal(err)
			}
			writes := k.wrote("/cgroup.procs")
			if len(writes) != len(l.procs) {
				t.Fatalf("writes to cgroup.procs: %v, want one per hierarchy %v", writes, l.procs)
			}
			for _, h := range l.procs {
				if got := k.read(filepath.Join(h, "berth/pod/cgroup.procs")); got != "4242" {
					t.Errorf("%s cgroup.procs = %q, want 4242", h, got)
				}
			}
			for _, pid := range []int{0, -1} {
				if err := m.AddProcess(p, pid); !errors.Is(err, ErrInvalid) {
					t.Errorf("AddProcess(%d) = %v, want ErrInvalid", pid, err)
				}
			}
			err = m.AddProcess("/berth/gone", 1)
			if !errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), filepath.Join("berth", "gone", "cgroup.procs")) {
				t.Errorf("AddProcess to a missing cgroup = %v, want ErrNotExist naming cgroup.procs", err)
			}
		})
	}
}

func TestAddThread(t *testing.T) {
	for _, l := range layouts {
		t.Run(l.name, func(t *testing.T) {
			k := l.make(t)
			m := k.mustManager(Config{Logger: quiet})
			ta, ok := m.(ThreadAdder)
			if l.version == V2 {
				if ok {
					t.Fatal("the v2 manager claims to move single threads")
				}
				return
			}
			if !ok {
				t.Fatal("the v1 manager does not implement ThreadAdder")
			}
			p, err := m.Create("pod", 0, 0, 0)
			if err != nil {
				t.Fatal(err)
			}
			if err := ta.AddThread(p, 777); err != nil {
				t.Fatal(err)
			}
			if writes := k.wrote("/tasks"); len(writes) != len(l.procs) {
				t.Fatalf("writes to tasks: %v, want one per hierarchy %v", writes, l.procs)
			}
			for _, h := range l.procs {
				if got := k.read(filepath.Join(h, "berth/pod/tasks")); got != "777" {
					t.Errorf("%s tasks = %q, want 777", h, got)
				}
			}
			if writes := k.wrote("/cgroup.procs"); len(writes) != 0 {
				t.Errorf("AddThread wrote cgroup.procs: %v", writes)
			}
			if err := ta.AddThread(p, 0); !errors.Is(err, ErrInvalid) {
				t.Errorf("AddThread(0) = %v, want ErrInvalid", err)
			}
			if err := ta.AddThread("/berth/gone", 1); !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("AddThread to a missing cgroup = %v, want ErrNotExist", err)
			}
		})
	}
}

func TestStats(t *testing.T) {
	cases := []struct {
		name string
		// kernel's figures
		cpuNanos, usage, inactive uint64
		wantWS                    uint64
	}{
		{"idle", 0, 0, 0, 0},
		{"busy", 123_456_789_000, 100 * mib, 30 * mib, 70 * mib},
		{"all inactive cache", 1_000, 20 * mib, 20 * mib, 0},
		{"inactive above usage", 1_000, 10 * mib, 12 * mib, 0},
	}
	for _, l := range layouts {
		for _, tc := range cases {
			t.Run(l.name+"/"+tc.name, func(t *testing.T) {
				k := l.make(t)
				m := k.mustManager(Config{Logger: quiet})
				p, err := m.Create("pod", 0, 0, 0)
				if err != nil {
					t.Fatal(err)
				}
				u := func(v uint64) string { return strconv.FormatUint(v, 10) }
				if l.version == V1 {
					k.set("cpuacct/berth/pod/cpuacct.usage", u(tc.cpuNanos)+"\n")
					k.set("memory/berth/pod/memory.usage_in_bytes", u(tc.usage)+"\n")
					// inactive_file is the cgroup's own; total_ includes
					// descendants and is the one to use.
					k.set("memory/berth/pod/memory.stat", "cache 5\nrss 7\ninactive_file 1\nactive_file 2\ntotal_cache 5\ntotal_inactive_file "+u(tc.inactive)+"\ntotal_active_file 3\n")
				} else {
					k.set("berth/pod/cpu.stat", "usage_usec "+u(tc.cpuNanos/1000)+"\nuser_usec 1\nsystem_usec 2\nnr_periods 0\n")
					k.set("berth/pod/memory.current", u(tc.usage)+"\n")
					k.set("berth/pod/memory.stat", "anon 5\nfile 7\nactive_anon 0\ninactive_anon 0\nactive_file 3\ninactive_file "+u(tc.inactive)+"\n")
				}
				before := time.Now()
				s, err := m.Stats(p)
				if err != nil {
					t.Fatal(err)
				}
				if s.CPUUsageNanos != tc.cpuNanos || s.MemoryWorkingSetBytes != tc.wantWS {
					t.Errorf("Stats = cpu %d, working set %d; want %d, %d", s.CPUUsageNanos, s.MemoryWorkingSetBytes, tc.cpuNanos, tc.wantWS)
				}
				if s.Timestamp.Before(before) {
					t.Errorf("timestamp %v before the call", s.Timestamp)
				}
			})
		}
		t.Run(l.name+"/missing", func(t *testing.T) {
			m := l.make(t).mustManager(Config{Logger: quiet})
			if _, err := m.Stats("/berth/nope"); !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("Stats of a missing cgroup = %v, want ErrNotExist", err)
			}
		})
	}
	t.Run("v1 without total_inactive_file", func(t *testing.T) {
		k := newFakeV1(t, v1Separate)
		m := k.mustManager(Config{Logger: quiet})
		p, _ := m.Create("pod", 0, 0, 0)
		k.set("memory/berth/pod/memory.usage_in_bytes", "1000\n")
		k.set("memory/berth/pod/memory.stat", "cache 5\ninactive_file 400\n")
		if s, err := m.Stats(p); err != nil || s.MemoryWorkingSetBytes != 600 {
			t.Errorf("Stats = %+v, %v; want working set 600", s, err)
		}
	})
}

func TestOOMKilled(t *testing.T) {
	for _, tc := range []struct {
		name    string
		make    func(t *testing.T) *fakeKernel
		file    string
		content string
		want    bool
		wantErr error
	}{
		{"v1 none", func(t *testing.T) *fakeKernel { return newFakeV1(t, v1Separate) }, "memory/berth/pod/memory.oom_control",
			"oom_kill_disable 0\nunder_oom 0\noom_kill 0\n", false, nil},
		{"v1 killed", func(t *testing.T) *fakeKernel { return newFakeV1(t, v1Separate) }, "memory/berth/pod/memory.oom_control",
			"oom_kill_disable 0\nunder_oom 0\noom_kill 3\n", true, nil},
		{"v1 old kernel", func(t *testing.T) *fakeKernel { return newFakeV1(t, v1Separate) }, "memory/berth/pod/memory.oom_control",
			"oom_kill_disable 0\nunder_oom 0\n", false, runtime.ErrNotSupported},
		{"v2 none", func(t *testing.T) *fakeKernel { return newFakeV2(t, "cpu memory") }, "berth/pod/memory.events",
			"low 0\nhigh 0\nmax 12\noom 1\noom_kill 0\noom_group_kill 0\n", false, nil},
		{"v2 killed", func(t *testing.T) *fakeKernel { return newFakeV2(t, "cpu memory") }, "berth/pod/memory.events",
			"low 0\nhigh 0\nmax 40\noom 1\noom_kill 1\noom_group_kill 0\n", true, nil},
		{"v2 missing", func(t *testing.T) *fakeKernel { return newFakeV2(t, "cpu memory") }, "", "", false, fs.ErrNotExist},
		{"v1 without memory controller", func(t *testing.T) *fakeKernel { return newFakeV1(t, []string{"cpu", "cpuacct"}) }, "", "", false, nil},
		{"v2 without memory controller", func(t *testing.T) *fakeKernel { return newFakeV2(t, "cpu pids") }, "", "", false, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			k := tc.make(t)
			m := k.mustManager(Config{Logger: quiet})
			p, err := m.Create("pod", 0, 0, 32*mib)
			if err != nil {
				t.Fatal(err)
			}
			if tc.file != "" {
				k.set(tc.file, tc.content)
			} else if errors.Is(tc.wantErr, fs.ErrNotExist) {
				p = "/berth/other"
			}
			got, err := m.OOMKilled(p)
			if got != tc.want || !errors.Is(err, tc.wantErr) || (tc.wantErr == nil && err != nil) {
				t.Errorf("OOMKilled = %v, %v; want %v, %v", got, err, tc.want, tc.wantErr)
			}
		})
	}
}

func TestWriteErrorNamesFile(t *testing.T) {
	t.Run("v1 missing quota file", func(t *testing.T) {
		k := newFakeV1(t, v1Separate, "cpu.cfs_quota_us")
		m := k.mustManager(Config{Logger: quiet})
		_, err := m.Create("pod", 500, 0, 0)
		if !errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), filepath.Join(k.root, "cpu/berth/pod/cpu.cfs_quota_us")) {
			t.Fatalf("err = %v, want ErrNotExist naming cpu.cfs_quota_us", err)
		}
		for _, h := range []string{"cpu", "cpuacct", "memory", "pids"} {
			if exists(filepath.Join(k.root, h, "berth/pod")) {
				t.Errorf("failed Create left %s/berth/pod", h)
			}
			if !isDir(filepath.Join(k.root, h, "berth")) {
				t.Errorf("failed Create removed the parent in %s", h)
			}
		}
	})
	t.Run("v2 rejected memory.max", func(t *testing.T) {
		k := newFakeV2(t, "cpu memory")
		k.fail["memory.max"] = syscall.EINVAL
		m := k.mustManager(Config{Logger: quiet})
		_, err := m.Create("pod", 0, 0, 10)
		if !errors.Is(err, syscall.EINVAL) || !strings.Contains(err.Error(), filepath.Join(k.root, "berth/pod/memory.max")) ||
			!strings.Contains(err.Error(), `"10"`) {
			t.Fatalf("err = %v, want EINVAL naming memory.max and the value", err)
		}
		if exists(filepath.Join(k.root, "berth/pod")) {
			t.Error("failed Create left its cgroup")
		}
	})
	t.Run("v2 busy parent", func(t *testing.T) {
		k := newFakeV2(t, "cpu memory")
		// Someone put processes into the parent: the kernel refuses to
		// enable controllers for its children.
		k.must(k.Mkdir(filepath.Join(k.root, "berth")))
		k.set("berth/cgroup.procs", "77\n")
		_, err := k.manager(Config{Logger: quiet})
		if !errors.Is(err, syscall.EBUSY) || !strings.Contains(err.Error(), "cgroup.subtree_control") || !strings.Contains(err.Error(), "leaf cgroup") {
			t.Fatalf("err = %v, want EBUSY naming cgroup.subtree_control with a hint", err)
		}
	})
	t.Run("v2 controller not delegated", func(t *testing.T) {
		k := newFakeV2(t, "cpu memory")
		k.set("cgroup.subtree_control", "memory\n")
		// The kernel's answer when a controller is not in cgroup.controllers.
		k.fail["cgroup.subtree_control"] = syscall.ENOENT
		_, err := k.manager(Config{Logger: quiet})
		if !errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), `"+cpu"`) || !strings.Contains(err.Error(), "does not delegate") {
			t.Fatalf("err = %v, want ErrNotExist naming +cpu with a delegation hint", err)
		}
	})
}

func TestSwapKnobsOptional(t *testing.T) {
	for _, tc := range []struct {
		layout fakeLayout
		file   string
	}{
		{layouts[0], "memory.swappiness"},
		{layouts[2], "memory.swap.max"},
	} {
		t.Run(tc.layout.name, func(t *testing.T) {
			k := tc.layout.make(t, tc.file)
			m := k.mustManager(Config{Logger: quiet})
			if _, err := m.Create("pod", 0, 0, 64*mib); err != nil {
				t.Fatal(err)
			}
			if w := k.wrote(tc.file); len(w) != 0 {
				t.Errorf("wrote %v to a file the kernel lacks", w)
			}
		})
	}
}

func TestPartialControllers(t *testing.T) {
	for _, tc := range []struct {
		name    string
		make    func(t *testing.T) *fakeKernel
		noWrite []string
		write   []string
	}{
		{"v1 memory only", func(t *testing.T) *fakeKernel { return newFakeV1(t, []string{"memory"}) },
			[]string{"cpu.shares", "cpu.cfs_quota_us"}, []string{"memory.limit_in_bytes"}},
		{"v1 cpu only", func(t *testing.T) *fakeKernel { return newFakeV1(t, []string{"cpu", "cpuacct"}) },
			[]string{"memory.limit_in_bytes"}, []string{"cpu.shares", "cpu.cfs_quota_us"}},
		{"v2 memory only", func(t *testing.T) *fakeKernel { return newFakeV2(t, "io memory pids") },
			[]string{"cpu.max", "cpu.weight"}, []string{"memory.max"}},
		{"v2 cpu only", func(t *testing.T) *fakeKernel { return newFakeV2(t, "cpu pids") },
			[]string{"memory.max"}, []string{"cpu.max", "cpu.weight"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			k := tc.make(t)
			m := k.mustManager(Config{Logger: quiet})
			p, err := m.Create("pod", 500, 500, 64*mib)
			if err != nil {
				t.Fatal(err)
			}
			for _, f := range tc.noWrite {
				if w := k.wrote(f); len(w) != 0 {
					t.Errorf("wrote %v without the controller", w)
				}
			}
			for _, f := range tc.write {
				if w := k.wrote(f); len(w) != 1 {
					t.Errorf("writes to %s: %v, want one", f, w)
				}
			}
			if _, err := m.Stats(p); err != nil {
				t.Errorf("Stats: %v", err)
			}
			if err := m.Delete(p); err != nil {
				t.Errorf("Delete: %v", err)
			}
		})
	}
	t.Run("v2 without cpu and memory", func(t *testing.T) {
		_, err := newFakeV2(t, "io pids").manager(Config{Logger: quiet})
		if !errors.Is(err, ErrUnsupported) {
			t.Errorf("err = %v, want ErrUnsupported", err)
		}
	})
}

func TestV2EnablesOnlyMissingControllers(t *testing.T) {
	k := newFakeV2(t, "cpu io memory pids")
	k.set("cgroup.subtree_control", "cpu io memory\n")
	m := k.mustManager(Config{Logger: quiet})
	if w := k.wrote("cgroup.subtree_control"); len(w) != 2 || w[0].file != "berth/cgroup.subtree_control" {
		t.Errorf("subtree_control writes %v, want +cpu and +memory on berth only", w)
	}
	// The parent vanishes (an administrator, a reboot of the hierarchy):
	// Create makes it again.
	k.must(k.Rmdir(filepath.Join(k.root, "berth")))
	if _, err := m.Create("pod", 100, 100, 0); err != nil {
		t.Fatal(err)
	}
	if got := k.read("berth/pod/cpu.max"); got != "10000 100000" {
		t.Errorf("cpu.max %q", got)
	}
}

func TestDelete(t *testing.T) {
	for _, l := range layouts {
		t.Run(l.name, func(t *testing.T) {
			k := l.make(t)
			m := k.mustManager(Config{Logger: quiet, DeleteTimeout: 100 * time.Millisecond})
			p, err := m.Create("pod", 0, 0, 0)
			if err != nil {
				t.Fatal(err)
			}
			if err := m.Delete(p); err != nil {
				t.Fatal(err)
			}
			for _, h := range l.procs {
				if exists(filepath.Join(k.root, h, "berth/pod")) {
					t.Errorf("%s/berth/pod still there", h)
				}
				if !isDir(filepath.Join(k.root, h, "berth")) {
					t.Errorf("parent removed in %q", h)
				}
			}
			if err := m.Delete(p); err != nil {
				t.Errorf("second Delete = %v, want nil", err)
			}

			// A process that stays: ErrBusy naming it, cgroup kept.
			p, _ = m.Create("busy", 0, 0, 0)
			if err := m.AddProcess(p, 4242); err != nil {
				t.Fatal(err)
			}
			err = m.Delete(p)
			if !errors.Is(err, ErrBusy) || !strings.Contains(err.Error(), "4242") || !strings.Contains(err.Error(), "/berth/busy") {
				t.Errorf("Delete with a process = %v, want ErrBusy naming pid 4242", err)
			}
			if !isDir(filepath.Join(k.root, l.memory, "berth/busy")) {
				t.Error("busy cgroup removed")
			}

			// A process that exits while Delete waits.
			m2 := k.mustManager(Config{Logger: quiet, DeleteTimeout: 5 * time.Second})
			go func() {
				time.Sleep(100 * time.Millisecond)
				for _, h := range l.procs {
					k.set(filepath.Join(h, "berth/busy/cgroup.procs"), "")
				}
			}()
			if err := m2.Delete(p); err != nil {
				t.Errorf("Delete while the process exits = %v", err)
			}
			if exists(filepath.Join(k.root, l.memory, "berth/busy")) {
				t.Error("cgroup still there")
			}
		})
	}
}

func TestDeleteRemovesChildCgroups(t *testing.T) {
	k := newFakeV2(t, "cpu memory")
	m := k.mustManager(Config{Logger: quiet, DeleteTimeout: 100 * time.Millisecond})
	p, _ := m.Create("pod", 0, 0, 0)
	k.must(k.Mkdir(filepath.Join(k.root, "berth/pod/ctr")))
	if err := m.Delete(p); err != nil {
		t.Fatal(err)
	}
	if exists(filepath.Join(k.root, "berth/pod")) {
		t.Error("pod cgroup still there")
	}
}

func TestNewFallsBackToNoop(t *testing.T) {
	root := t.TempDir()
	m, err := New(Config{Root: root, Logger: quiet})
	if !errors.Is(err, ErrUnsupported) {
		t.Fatalf("New on an empty root: %v, want ErrUnsupported", err)
	}
	n, ok := m.(*NoopManager)
	if !ok {
		t.Fatalf("New returned %T, want *NoopManager", m)
	}
	if !strings.Contains(n.Reason(), root) {
		t.Errorf("Reason %q does not name %s", n.Reason(), root)
	}
}

func TestNoop(t *testing.T) {
	n := Noop("not running as root")
	var m Manager = n
	if n.Reason() != "not running as root" || m.Version() != Unsupported {
		t.Errorf("Reason %q, Version %v", n.Reason(), m.Version())
	}
	if Noop("").Reason() == "" {
		t.Error("empty reason")
	}
	p, err := m.Create("pod", 500, 500, 64*mib)
	if p != "" || err != nil {
		t.Errorf("Create = %q, %v", p, err)
	}
	if _, err := m.Create("../x", 0, 0, 0); !errors.Is(err, ErrInvalid) {
		t.Errorf("Create with a bad name = %v", err)
	}
	if err := m.AddProcess(p, 1); err != nil {
		t.Error(err)
	}
	if _, err := m.Stats(p); !errors.Is(err, runtime.ErrNotSupported) || !strings.Contains(err.Error(), "not running as root") {
		t.Errorf("Stats = %v, want ErrNotSupported with the reason", err)
	}
	if oom, err := m.OOMKilled(p); oom || err != nil {
		t.Errorf("OOMKilled = %v, %v", oom, err)
	}
	if err := m.Delete(p); err != nil {
		t.Error(err)
	}
}

func TestVersionString(t *testing.T) {
	for v, want := range map[Version]string{V1: "v1", V2: "v2", Unsupported: "unsupported", Version(9): "unsupported"} {
		if v.String() != want {
			t.Errorf("%d.String() = %q, want %q", v, v.String(), want)
		}
	}
}
