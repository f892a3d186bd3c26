package process

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/berth-dev/berth/internal/agent/osthread"
	"github.com/berth-dev/berth/internal/agent/runtime"
)

// fakeCgroups records the driver's calls.
type fakeCgroups struct {
	mu        sync.Mutex
	created   map[string][3]int64
	added     map[string][]int
	deleted   []string
	oom       map[string]bool
	cpu       uint64
	createErr error
}

func newFakeCgroups() *fakeCgroups {
	return &fakeCgroups{created: map[string][3]int64{}, added: map[string][]int{}, oom: map[string]bool{}}
}

func (f *fakeCgroups) Create(name string, cpuLimit, cpuRequest, memory int64) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.createErr != nil {
		return "", f.createErr
	}
	f.created[name] = [3]int64{cpuLimit, cpuRequest, memory}
	return "/fake/" + name, nil
}

func (f *fakeCgroups) AddProcess(path string, pid int) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.added[path] = append(f.added[path], pid)
	return nil
}

func (f *fakeCgroups) Stats(string) (runtime.Stats, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.cpu += 1000
	return runtime.Stats{CPUUsageNanos: f.cpu, MemoryWorkingSetBytes: 4096}, nil
}

func (f *fakeCgroups) OOMKilled(path string) (bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.oom[path], nil
}

func (f *fakeCgroups) Delete(path string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.deleted = append(f.deleted, path)
	return nil
}

func TestCgroups(t *testing.T) {
	tests := []struct {
		name   string
		oom    bool
		reason string
	}{
		{name: "killed", reason: "Error"},
		{name: "oom killed", oom: true, reason: "OOMKilled"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cg := newFakeCgroups()
			cfg := testConfig(t)
			cfg.Cgroups = cg
			d := newDriver(t, cfg)
			sb := sandboxFor(t, d, runtime.SandboxSpec{Name: "p"})
			id := sh(t, d, sb, "c", "exec sleep 30", func(s *runtime.ContainerSpec) {
				s.CPUMilliLimit, s.CPUMilliRequest, s.MemoryLimitBytes = 500, 250, 64<<20
			})
			st, _ := d.Inspect(t.Context(), id)
			path := "/fake/" + id
			cg.mu.Lock()
			if got := cg.created[id]; got != [3]int64{500, 250, 64 << 20} {
				t.Errorf("cgroup %s created with %v", id, got)
			}
			if !slices.Equal(cg.added[path], []int{st.PID}) {
				t.Errorf("processes added to %s: %v, want [%d]", path, cg.added[path], st.PID)
			}
			cg.oom[path] = tc.oom
			cg.mu.Unlock()

			if _, err := d.Exec(t.Context(), id, []string{"true"}, nil, nil, nil); err != nil {
				t.Fatal(err)
			}
			cg.mu.Lock()
			if n := len(cg.added[path]); n != 2 {
				t.Errorf("exec process not added to the cgroup: %v", cg.added[path])
			}
			cg.mu.Unlock()
			s1, err := d.ContainerStats(t.Context(), id)
			if err != nil || s1.CPUUsageNanos == 0 || s1.MemoryWorkingSetBytes != 4096 || s1.Timestamp.IsZero() {
				t.Errorf("ContainerStats: %+v, %v", s1, err)
			}
			if s, err := d.SandboxStats(t.Context(), sb.ID); err != nil || s.CPUUsageNanos <= s1.CPUUsageNanos {
				t.Errorf("SandboxStats: %+v, %v", s, err)
			}

			if err := d.Stop(t.Context(), id, 0); err != nil {
				t.Fatal(err)
			}
			if st, _ := d.Inspect(t.Context(), id); st.ExitCode != 137 || st.Reason != tc.reason {
				t.Errorf("after the kill: %+v, want 137 %s", st, tc.reason)
			}
			if err := d.Remove(t.Context(), id); err != nil {
				t.Fatal(err)
			}
			cg.mu.Lock()
			if !slices.Equal(cg.deleted, []string{path}) {
				t.Errorf("deleted cgroups %v, want [%s]", cg.deleted, path)
			}
			cg.mu.Unlock()
		})
	}
}

// threadCgroups is fakeCgroups that can also move single threads (as the
// v1 manager can).
type threadCgroups struct {
	*fakeCgroups
	threads map[string][]int
}

func (f *threadCgroups) AddThread(path string, tid int) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.threads[path] = append(f.threads[path], tid)
	return nil
}

func TestCgroupJoinedByStartingThread(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("the starting thread joins the cgroup only with mounts, which need root")
	}
	cg := &threadCgroups{fakeCgroups: newFakeCgroups(), threads: map[string][]int{}}
	cfg := testConfig(t)
	cfg.Cgroups = cg
	d := newDriver(t, cfg)
	if !d.mountNS {
		t.Fatal("as root the driver should make mount namespaces itself")
	}
	sb := sandboxFor(t, d, runtime.SandboxSpec{Name: "p"})
	host := t.TempDir()
	withMount := sh(t, d, sb, "mounted", "exec sleep 30", func(s *runtime.ContainerSpec) {
		s.Mounts = []runtime.Mount{{HostPath: host, ContainerPath: filepath.Join(t.TempDir(), "m")}}
	})
	plain := sh(t, d, sb, "plain", "exec sleep 30", nil)
	st, _ := d.Inspect(t.Context(), withMount)
	pst, _ := d.Inspect(t.Context(), plain)
	cg.mu.Lock()
	defer cg.mu.Unlock()
	// With mounts: the starting thread (not the process) joined, and the
	// process was not moved afterwards.
	if tids := cg.threads["/fake/"+withMount]; len(tids) != 1 || tids[0] == st.PID || tids[0] == os.Getpid() {
		t.Errorf("threads added for the container with mounts: %v (its pid %d)", tids, st.PID)
	}
	if added := cg.added["/fake/"+withMount]; len(added) != 0 {
		t.Errorf("the container with mounts was moved in after its start too: %v", added)
	}
	// Without mounts (no thread of its own): moved in behind the gate.
	if tids := cg.threads["/fake/"+plain]; len(tids) != 0 {
		t.Errorf("a thread joined the cgroup of the container without mounts: %v", tids)
	}
	if added := cg.added["/fake/"+plain]; !slices.Equal(added, []int{pst.PID}) {
		t.Errorf("processes added for the container without mounts: %v, want [%d]", added, pst.PID)
	}
}

func TestCgroupCreateFailure(t *testing.T) {
	cg := newFakeCgroups()
	cg.createErr = errors.New("no memory controller")
	cfg := testConfig(t)
	cfg.Cgroups = cg
	d := newDriver(t, cfg)
	sb := sandboxFor(t, d, runtime.SandboxSpec{Name: "p"})
	id, err := d.CreateAndStart(t.Context(), runtime.ContainerSpec{SandboxID: sb.ID, Name: "c", Command: []string{"/bin/true"}})
	if !errors.Is(err, cg.createErr) || id == "" {
		t.Fatalf("CreateAndStart: %q, %v; want an ID and the cgroup error", id, err)
	}
	if st, _ := d.Inspect(t.Context(), id); st.ExitCode != 128 || !strings.Contains(st.Message, "no memory controller") {
		t.Errorf("status %+v", st)
	}
}

// fakeNetwork hands out a given namespace.
type fakeNetwork struct {
	mu        sync.Mutex
	netns, ip string
	setupErr  error
	setups    []string
	teardowns []string
}

func (f *fakeNetwork) Setup(_ context.Context, id string) (string, string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.setupErr != nil {
		return "", "", f.setupErr
	}
	f.setups = append(f.setups, id)
	return f.netns, f.ip, nil
}

func (f *fakeNetwork) Teardown(_ context.Context, id, netns string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.teardowns = append(f.teardowns, id+" "+netns)
	return nil
}

func TestNetworkSetup(t *testing.T) {
	tests := []struct {
		name        string
		net         *fakeNetwork
		hostNetwork bool
		wantErr     bool
		wantHost    bool
	}{
		{name: "no network plugin", wantHost: true},
		{name: "host network pod", net: &fakeNetwork{netns: "/run/netns/x", ip: "10.1.0.2"}, hostNetwork: true, wantHost: true},
		{name: "setup fails", net: &fakeNetwork{setupErr: errors.New("no IPs left")}, wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := testConfig(t)
			if tc.net != nil {
				cfg.Network = tc.net
			}
			d := newDriver(t, cfg)
			sb, err := d.RunSandbox(t.Context(), runtime.SandboxSpec{Name: "p", HostNetwork: tc.hostNetwork})
			if tc.wantErr {
				if err == nil {
					t.Fatal("RunSandbox succeeded")
				}
				if list, _ := d.ListSandboxes(t.Context()); len(list) != 0 {
					t.Errorf("failed sandbox listed: %+v", list)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if sb.HostNetwork != tc.wantHost || sb.IP != "" || sb.NetNS != "" {
				t.Errorf("sandbox %+v, want host network", sb)
			}
			if tc.net != nil && len(tc.net.setups) != 0 {
				t.Errorf("Setup called for a host network pod")
			}
		})
	}
}

// netnsIno is the namespace inode readlink shows ("net:[<ino>]").
func netnsIno(t *testing.T, path string) string {
	t.Helper()
	var st syscall.Stat_t
	if err := syscall.Stat(path, &st); err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("net:[%d]", st.Ino)
}

func TestNetworkNamespace(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("creating a network namespace needs root")
	}
	ip, err := exec.LookPath("ip")
	if err != nil {
		t.Skip("the ip tool (iproute2) is missing")
	}
	name := fmt.Sprintf("berth-test-%d", os.Getpid())
	if out, err := exec.Command(ip, "netns", "add", name).CombinedOutput(); err != nil {
		t.Skipf("ip netns add: %v: %s", err, out)
	}
	t.Cleanup(func() { _ = exec.Command(ip, "netns", "del", name).Run() })
	netns := "/run/netns/" + name
	if _, err := os.Stat(netns); err != nil {
		netns = "/var/run/netns/" + name
	}
	podNS, hostNS := netnsIno(t, netns), netnsIno(t, "/proc/self/ns/net")

	fake := &fakeNetwork{netns: netns, ip: "10.99.0.2"}
	cfg := testConfig(t)
	cfg.Network = fake
	d := newDriver(t, cfg)
	sb := sandboxFor(t, d, runtime.SandboxSpec{Name: "p"})
	if sb.NetNS != netns || sb.IP != "10.99.0.2" || sb.HostNetwork {
		t.Fatalf("sandbox %+v", sb)
	}
	host := sandboxFor(t, d, runtime.SandboxSpec{Name: "h", HostNetwork: true})

	// Several starts, so that a thread left in the pod's namespace would
	// show in the host network pod's container.
	var ids []string
	for range 5 {
		ids = append(ids, sh(t, d, sb, "c", "readlink /proc/self/ns/net; exec sleep 30", nil))
	}
	hostID := sh(t, d, host, "h", "readlink /proc/self/ns/net", nil)
	wait(t, d, hostID)
	if got := logs(t, d, hostID); got != hostNS+"\n" {
		t.Errorf("host network container in %q, want %s", got, hostNS)
	}
	for _, id := range ids {
		waitLogs(t, d, id, "\n")
		if got := logs(t, d, id); got != podNS+"\n" {
			t.Errorf("container in %q, want the pod's %s", got, podNS)
		}
	}
	var out bytes.Buffer
	if _, err := d.Exec(t.Context(), ids[0], []string{"readlink", "/proc/self/ns/net"}, nil, &out, nil); err != nil || out.String() != podNS+"\n" {
		t.Errorf("exec in %q (%v), want the pod's %s", out.String(), err, podNS)
	}
	if got := netnsIno(t, "/proc/thread-self/ns/net"); got != hostNS {
		t.Errorf("test thread in %s after the starts, want %s", got, hostNS)
	}

	if err := d.StopSandbox(t.Context(), sb.ID); err != nil {
		t.Fatal(err)
	}
	if err := d.StopSandbox(t.Context(), sb.ID); err != nil {
		t.Fatal(err)
	}
	fake.mu.Lock()
	defer fake.mu.Unlock()
	if want := []string{sb.ID + " " + netns}; !slices.Equal(fake.teardowns, want) {
		t.Errorf("teardowns %v, want %v", fake.teardowns, want)
	}
}

func TestMounts(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("mount namespaces need root")
	}
	// The agent makes the mount namespace itself where it can; the init
	// binary is the fallback. Both must behave the same.
	for _, mode := range []struct {
		name    string
		mountNS bool
	}{{"agent thread", true}, {"init binary", false}} {
		t.Run(mode.name, func(t *testing.T) {
			d := newDriver(t, testConfig(t))
			if mode.mountNS && !d.mountNS {
				t.Fatal("as root the driver should make mount namespaces itself")
			}
			d.mountNS = mode.mountNS
			testMounts(t, d)
		})
	}
}

// testMounts checks read-write and read-only bind mounts, exec into the
// container, their privacy and a failing mount on d.
func testMounts(t *testing.T, d *Driver) {
	host := t.TempDir()
	if err := os.WriteFile(filepath.Join(host, "hello.txt"), []byte("hi\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		readOnly bool
		want     string
	}{
		{name: "read-write", want: "hi\nrw\n"},
		{name: "read-only", readOnly: true, want: "hi\nro\n"},
	}
	sb := sandboxFor(t, d, runtime.SandboxSpec{Name: "p"})
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			inside := filepath.Join(t.TempDir(), "inside", "data")
			id := sh(t, d, sb, "c", `cat "$D/hello.txt"; if touch "$D/new" 2>/dev/null; then echo rw; else echo ro; fi; exec sleep 30`,
				func(s *runtime.ContainerSpec) {
					s.Env = append(s.Env, "D="+inside)
					s.Mounts = []runtime.Mount{{HostPath: host, ContainerPath: inside, ReadOnly: tc.readOnly}}
					s.WorkingDir = inside
				})
			waitLogs(t, d, id, "r")
			if got := logs(t, d, id); got != tc.want {
				t.Errorf("container output %q, want %q", got, tc.want)
			}
			var out bytes.Buffer
			if _, err := d.Exec(t.Context(), id, []string{"cat", "hello.txt"}, nil, &out, nil); err != nil || out.String() != "hi\n" {
				t.Errorf("exec sees %q (%v), want the mounted file", out.String(), err)
			}
			// The mount is private to the container.
			if entries, err := os.ReadDir(inside); err != nil || len(entries) != 0 {
				t.Errorf("host view of %s: %v, %v; want an empty directory", inside, entries, err)
			}
			if err := d.Stop(t.Context(), id, 0); err != nil {
				t.Fatal(err)
			}
		})
	}
	_ = os.Remove(filepath.Join(host, "new"))

	t.Run("missing host path", func(t *testing.T) {
		id, err := d.CreateAndStart(t.Context(), runtime.ContainerSpec{SandboxID: sb.ID, Name: "bad", Command: []string{"/bin/true"},
			Mounts: []runtime.Mount{{HostPath: "/no/such/path", ContainerPath: filepath.Join(t.TempDir(), "x")}}})
		if err == nil || id == "" || !strings.Contains(err.Error(), "/no/such/path") {
			t.Fatalf("CreateAndStart: %q, %v; want an ID and the mount error", id, err)
		}
		if st := wait(t, d, id); st.ExitCode != 128 {
			t.Errorf("status %+v", st)
		}
		waitLogs(t, d, id, "berth container init")
	})
}

func TestMountsWithoutRoot(t *testing.T) {
	host := t.TempDir()
	if err := os.WriteFile(filepath.Join(host, "hello.txt"), []byte("hi\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	d := newDriver(t, testConfig(t))
	d.canMount = false // as without root
	sb := sandboxFor(t, d, runtime.SandboxSpec{Name: "p"})
	id := sh(t, d, sb, "c", "cat data/hello.txt", func(s *runtime.ContainerSpec) {
		s.Mounts = []runtime.Mount{{HostPath: host, ContainerPath: "/var/lib/data"}}
	})
	if st := wait(t, d, id); st.ExitCode != 0 {
		t.Errorf("exit %+v: %s", st, logs(t, d, id))
	}
	if got := logs(t, d, id); got != "hi\n" {
		t.Errorf("output %q", got)
	}
	_ = time.Second
}

// preparingNetwork is a fakeNetwork with a Prepare that reports its
// calls and, with block, waits for its context to end.
type preparingNetwork struct {
	fakeNetwork
	block    bool
	called   chan struct{}
	finished chan error
}

func (p *preparingNetwork) Prepare(ctx context.Context) error {
	close(p.called)
	var err error
	if p.block {
		<-ctx.Done()
		err = ctx.Err()
	}
	p.finished <- err
	return err
}

// TestNetworkPrepare checks that the driver prepares a network that can
// be prepared in the background at its start, and that Close cancels and
// waits for a preparation that is still running.
func TestNetworkPrepare(t *testing.T) {
	for _, tc := range []struct {
		name    string
		block   bool
		wantErr error
	}{
		{name: "prepared at start"},
		{name: "cancelled by Close", block: true, wantErr: context.Canceled},
	} {
		t.Run(tc.name, func(t *testing.T) {
			nw := &preparingNetwork{block: tc.block, called: make(chan struct{}), finished: make(chan error, 1)}
			cfg := testConfig(t)
			cfg.Network = nw
			d, err := New(cfg)
			if err != nil {
				t.Fatal(err)
			}
			select {
			case <-nw.called:
			case <-time.After(10 * time.Second):
				t.Fatal("Prepare was not called")
			}
			if err := d.Close(); err != nil {
				t.Fatal(err)
			}
			// Close returned: the preparation has ended.
			select {
			case err := <-nw.finished:
				if !errors.Is(err, tc.wantErr) {
					t.Errorf("Prepare returned %v, want %v", err, tc.wantErr)
				}
			default:
				t.Fatal("Close returned before Prepare did")
			}
		})
	}
}

// TestContainersDropNamespaceMounts: a container's mount namespace does
// not keep the namespace bind mounts of Config.NamespaceDirs (the pods'
// network namespaces), whichever way it is made; a directory there that
// is no mount point is fine.
func TestContainersDropNamespaceMounts(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("mount namespaces need root")
	}
	// A directory of namespace mounts, bind-mounted onto itself and
	// shared, as the CNI code and `ip netns` make theirs.
	dir := t.TempDir()
	if err := syscall.Mount(dir, dir, "", syscall.MS_BIND, ""); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = syscall.Unmount(dir, syscall.MNT_DETACH) })
	if err := syscall.Mount("", dir, "", syscall.MS_SHARED, ""); err != nil {
		t.Fatal(err)
	}
	nsFile := filepath.Join(dir, "pod-a")
	if err := os.WriteFile(nsFile, nil, 0o444); err != nil {
		t.Fatal(err)
	}
	if err := osthread.Throwaway(func() error {
		if err := syscall.Unshare(syscall.CLONE_NEWNET); err != nil {
			return err
		}
		return syscall.Mount(fmt.Sprintf("/proc/self/task/%d/ns/net", syscall.Gettid()), nsFile, "", syscall.MS_BIND, "")
	}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = syscall.Unmount(nsFile, syscall.MNT_DETACH) })

	for _, mode := range []struct {
		name    string
		mountNS bool
	}{{"agent thread", true}, {"init binary", false}} {
		t.Run(mode.name, func(t *testing.T) {
			cfg := testConfig(t)
			cfg.NamespaceDirs = []string{dir, filepath.Join(t.TempDir(), "not-a-mount")}
			cfg.NamespacePruneDelay = 50 * time.Millisecond
			d := newDriver(t, cfg)
			d.mountNS = mode.mountNS
			sb := sandboxFor(t, d, runtime.SandboxSpec{Name: "p"})
			id := sh(t, d, sb, "c", `exec sleep 30`, func(s *runtime.ContainerSpec) {
				s.Mounts = []runtime.Mount{{HostPath: t.TempDir(), ContainerPath: filepath.Join(t.TempDir(), "m")}}
			})
			st, err := d.Inspect(t.Context(), id)
			if err != nil {
				t.Fatal(err)
			}
			mountinfo := func() string {
				b, err := os.ReadFile(fmt.Sprintf("/proc/%d/mountinfo", st.PID))
				if err != nil {
					t.Fatal(err)
				}
				return string(b)
			}
			// Copied at the start, gone after the delay.
			var out string
			for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
				if out = mountinfo(); !strings.Contains(out, dir) || time.Now().After(deadline) {
					break
				}
			}
			if strings.Contains(out, dir) {
				t.Errorf("the container's mount table still has %s after 10 s:\n%s", dir, out)
			}
			if !strings.Contains(out, " /proc ") {
				t.Errorf("the container's mount table lost /proc:\n%s", out)
			}
			// The host still has its namespace mount.
			if host, err := os.ReadFile("/proc/self/mountinfo"); err != nil || !strings.Contains(string(host), nsFile) {
				t.Errorf("the host lost %s (%v)", nsFile, err)
			}
		})
	}
}
