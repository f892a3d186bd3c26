package cgroups

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	goruntime "runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/berth-dev/berth/internal/agent/osthread"
)

// These tests change the host's cgroups: they need root and Linux, and
// skip otherwise. Everything lives under a parent of its own,
// berth-test-<random>, removed at the end.

// realManager returns a manager for the host's cgroups under a fresh
// parent, removed when the test ends.
func realManager(t *testing.T) Manager {
	t.Helper()
	if goruntime.GOOS != "linux" {
		t.Skip("cgroups are Linux only")
	}
	if os.Geteuid() != 0 {
		t.Skip("creating cgroups needs root")
	}
	if _, err := Detect(""); err != nil {
		t.Skipf("no usable cgroups on this host: %v", err)
	}
	parent := fmt.Sprintf("berth-test-%08x", rand.Uint32())
	log := slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelDebug}))
	m, err := New(Config{Parent: parent, Logger: log, DeleteTimeout: 5 * time.Second})
	switch {
	case err == nil:
	case errors.Is(err, ErrUnsupported), errors.Is(err, fs.ErrPermission), errors.Is(err, syscall.EROFS), errors.Is(err, syscall.EBUSY):
		// A container without a writable or delegated hierarchy.
		t.Skipf("this host's cgroups cannot be used: %v", err)
	default:
		t.Fatal(err)
	}
	t.Cleanup(func() {
		for _, d := range m.(interface{ parentDirs() []string }).parentDirs() {
			if err := os.Remove(d); err != nil && !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("remove test parent: %v", err)
			}
		}
	})
	return m
}

// controlFile is the path of a control file of the cgroup p (on v1 in the
// controller's hierarchy; "" when the controller is missing).
func controlFile(m Manager, controller, p, file string) string {
	rel := strings.TrimPrefix(p, "/")
	switch m := m.(type) {
	case *v1Manager:
		mount := map[string]string{"cpu": m.cpu, "cpuacct": m.cpuacct, "memory": m.memory}[controller]
		if mount == "" {
			return ""
		}
		return filepath.Join(mount, rel, file)
	case *v2Manager:
		if (controller == "cpu" && !m.cpu) || (controller == "memory" && !m.memory) {
			return ""
		}
		return filepath.Join(m.mount, rel, file)
	}
	return ""
}

func hasMemory(m Manager) bool {
	return controlFile(m, "memory", "/x", "f") != ""
}

// start starts a command, killing and reaping it when the test ends.
func start(t *testing.T, cmd *exec.Cmd) {
	t.Helper()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
}

func TestRealDetect(t *testing.T) {
	if goruntime.GOOS != "linux" {
		t.Skip("cgroups are Linux only")
	}
	v, err := Detect("")
	if err != nil {
		t.Skipf("no usable cgroups on this host: %v", err)
	}
	want := V1
	if exists("/sys/fs/cgroup/cgroup.controllers") {
		want = V2
	} else if !exists("/sys/fs/cgroup/memory/cgroup.procs") && !exists("/sys/fs/cgroup/cpu/cgroup.procs") {
		want = V2 // hybrid with the controllers on unified
	}
	if v != want {
		t.Errorf("Detect = %v, want %v", v, want)
	}
	t.Logf("this host: cgroup %v", v)
}

func TestRealLimitsAndStats(t *testing.T) {
	m := realManager(t)
	p, err := m.Create("pod", 500, 250, 512*mib)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := m.Delete(p); err != nil {
			t.Errorf("cleanup: %v", err)
		}
	})

	// The kernel took the limits.
	want := map[[2]string]string{}
	if m.Version() == V1 {
		want[[2]string{"cpu", "cpu.cfs_quota_us"}] = "50000"
		want[[2]string{"cpu", "cpu.cfs_period_us"}] = "100000"
		want[[2]string{"cpu", "cpu.shares"}] = "256"
		want[[2]string{"memory", "memory.limit_in_bytes"}] = "536870912"
		want[[2]string{"memory", "memory.swappiness"}] = "0"
	} else {
		want[[2]string{"cpu", "cpu.max"}] = "50000 100000"
		want[[2]string{"cpu", "cpu.weight"}] = "10"
		want[[2]string{"memory", "memory.max"}] = "536870912"
		want[[2]string{"memory", "memory.swap.max"}] = "0"
	}
	for k, v := range want {
		file := controlFile(m, k[0], p, k[1])
		if file == "" {
			t.Logf("no %s controller: %s not checked", k[0], k[1])
			continue
		}
		b, err := os.ReadFile(file)
		if errors.Is(err, fs.ErrNotExist) && (k[1] == "memory.swap.max" || k[1] == "memory.swappiness") {
			continue
		}
		if err != nil {
			t.Error(err)
			continue
		}
		if got := strings.TrimSpace(string(b)); got != v {
			t.Errorf("%s = %q, want %q", file, got, v)
		}
	}

	// A process joins.
	sleep := exec.Command("sleep", "5")
	start(t, sleep)
	if err := m.AddProcess(p, sleep.Process.Pid); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cgroup", sleep.Process.Pid))
	if err != nil {
		t.Fatal(err)
	}
	if !inCgroup(string(b), m.Version(), p) {
		t.Errorf("sleep not in %s:\n%s", p, b)
	}

	// A second one does some work inside, so that there is usage to see.
	work := exec.Command("sh", "-c", `read go; x=$(head -c 4000000 /dev/zero | tr '\0' a); i=0; while [ $i -lt 100000 ]; do i=$((i+1)); done; echo ready; read done`) // keeps x (4 MB) alive until killed
	stdin, _ := work.StdinPipe()
	stdout, _ := work.StdoutPipe()
	start(t, work)
	if err := m.AddProcess(p, work.Process.Pid); err != nil {
		t.Fatal(err)
	}
	if _, err := io.WriteString(stdin, "go\n"); err != nil {
		t.Fatal(err)
	}
	line := make(chan string, 1)
	go func() {
		s, _ := bufio.NewReader(stdout).ReadString('\n')
		line <- s
	}()
	select {
	case s := <-line:
		if strings.TrimSpace(s) != "ready" {
			t.Fatalf("worker said %q", s)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("worker did not finish its work")
	}

	s, err := m.Stats(p)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("stats: cpu %v, working set %d KiB", time.Duration(s.CPUUsageNanos), s.MemoryWorkingSetBytes>>10)
	if s.CPUUsageNanos < uint64(time.Millisecond) {
		t.Errorf("CPU usage %dns, want some", s.CPUUsageNanos)
	}
	if hasMemory(m) && (s.MemoryWorkingSetBytes < 2*mib || s.MemoryWorkingSetBytes > 512*mib) {
		t.Errorf("working set %d bytes, want between 2MiB (the worker holds 4MB) and the limit", s.MemoryWorkingSetBytes)
	}
	if oom, err := m.OOMKilled(p); oom || err != nil {
		t.Errorf("OOMKilled = %v, %v; want false", oom, err)
	}

	// Delete refuses while processes run, and names them.
	quick, err := New(Config{Parent: strings.Split(p, "/")[1], Logger: slog.New(slog.DiscardHandler), DeleteTimeout: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	err = quick.Delete(p)
	if !errors.Is(err, ErrBusy) || !strings.Contains(err.Error(), strconv.Itoa(sleep.Process.Pid)) {
		t.Errorf("Delete with processes = %v, want ErrBusy naming pid %d", err, sleep.Process.Pid)
	}
	t.Log(err)

	// Once they are gone it succeeds.
	for _, c := range []*exec.Cmd{sleep, work} {
		_ = c.Process.Kill()
		_ = c.Wait()
	}
	if err := m.Delete(p); err != nil {
		t.Fatal(err)
	}
	for _, c := range []string{"cpu", "memory"} {
		if f := controlFile(m, c, p, ""); f != "" && exists(f) {
			t.Errorf("%s still exists", f)
		}
	}
}

// inCgroup tells whether /proc/<pid>/cgroup content puts the process in p
// (for the memory or cpu hierarchy on v1).
func inCgroup(procCgroup string, v Version, p string) bool {
	for _, line := range strings.Split(procCgroup, "\n") {
		f := strings.SplitN(line, ":", 3)
		if len(f) != 3 || f[2] != p {
			continue
		}
		if v == V2 && f[0] == "0" && f[1] == "" {
			return true
		}
		for _, c := range strings.Split(f[1], ",") {
			if v == V1 && (c == "memory" || c == "cpu") {
				return true
			}
		}
	}
	return false
}

func TestRealOOMKill(t *testing.T) {
	m := realManager(t)
	if !hasMemory(m) {
		t.Skip("no memory controller on this host")
	}
	p, err := m.Create("hog", 0, 0, 32*mib)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := m.Delete(p); err != nil {
			t.Errorf("cleanup: %v", err)
		}
	})
	if oom, err := m.OOMKilled(p); oom || err != nil {
		t.Fatalf("fresh cgroup: OOMKilled = %v, %v", oom, err)
	}
	// tail buffers /dev/zero looking for a newline that never comes. It
	// waits for a line on stdin so that it only allocates once inside.
	hog := exec.Command("sh", "-c", "read go; exec tail /dev/zero")
	stdin, _ := hog.StdinPipe()
	start(t, hog)
	if err := m.AddProcess(p, hog.Process.Pid); err != nil {
		t.Fatal(err)
	}
	if _, err := io.WriteString(stdin, "go\n"); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- hog.Wait() }()
	select {
	case err := <-done:
		var ee *exec.ExitError
		if !errors.As(err, &ee) {
			t.Fatalf("hog exited with %v, want killed", err)
		}
		ws, _ := ee.Sys().(syscall.WaitStatus)
		if !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
			t.Errorf("hog ended with %v, want SIGKILL", err)
		}
	case <-time.After(60 * time.Second):
		_ = hog.Process.Kill()
		<-done
		t.Fatal("hog not OOM-killed within 60s")
	}
	oom, err := m.OOMKilled(p)
	if err != nil || !oom {
		t.Errorf("OOMKilled = %v, %v; want true", oom, err)
	}
	if err := m.Delete(p); err != nil {
		t.Fatal(err)
	}
}

// TestRealAddThread starts a process from a thread that joined a cgroup:
// the process is born in it, in every hierarchy.
func TestRealAddThread(t *testing.T) {
	m := realManager(t)
	ta, ok := m.(ThreadAdder)
	if !ok {
		t.Skipf("cgroup %v moves whole processes only; AddThread is for v1", m.Version())
	}
	p, err := m.Create("thread", 0, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := m.Delete(p); err != nil {
			t.Error(err)
		}
	})
	var out []byte
	// The thread stays in the cgroup and ends afterwards.
	err = osthread.Throwaway(func() error {
		if err := ta.AddThread(p, syscall.Gettid()); err != nil {
			return err
		}
		var err error
		out, err = exec.Command("cat", "/proc/self/cgroup").Output()
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	// Lines "<id>:<controllers>:<path>"; every hierarchy with a berth
	// cgroup must show this one.
	var seen int
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.SplitN(line, ":", 3)
		if len(f) != 3 || !slices.ContainsFunc(strings.Split(f[1], ","), func(c string) bool {
			return c == "cpu" || c == "cpuacct" || c == "memory" || c == "pids"
		}) {
			continue
		}
		seen++
		if f[2] != p {
			t.Errorf("child in %s for %s, want %s", f[2], f[1], p)
		}
	}
	if seen == 0 {
		t.Errorf("no cpu, memory or pids hierarchy in %q", out)
	}
	if owner, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(os.Getpid()), "cgroup")); err == nil && strings.Contains(string(owner), p) {
		t.Errorf("the whole test process moved into %s:\n%s", p, owner)
	}
}
