package cgroups

import (
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
)

// fakeKernel plays the kernel's part of a cgroup file system in a temp
// directory: mkdir fills a new cgroup with the control files the kernel
// would create, writes to cgroup.subtree_control and cgroup.procs behave
// like the kernel's, rmdir refuses busy cgroups.
type fakeKernel struct {
	t       *testing.T
	root    string
	version Version
	// omit are control files (base names) this kernel lacks.
	omit map[string]bool
	// fail makes writes to these control files (base names) fail.
	fail map[string]error

	mu sync.Mutex
	// writes are the writes done, in order, by path relative to root.
	writes []fakeWrite
}

type fakeWrite struct{ file, data string }

// v1 hierarchies of the fake layouts.
var (
	v1Separate  = []string{"cpu", "cpuacct", "cpuset", "memory", "pids", "systemd"}
	v1Comounted = []string{"cpu,cpuacct", "memory", "pids", "net_cls,net_prio"}
)

// newFakeV1 builds a v1 layout with the given hierarchies (co-mounted ones
// also get a symlink per controller, as systemd makes them) and an empty
// v2 hierarchy at unified, like this kind of host has.
func newFakeV1(t *testing.T, hierarchies []string, omit ...string) *fakeKernel {
	k := newFake(t, V1, omit)
	for _, h := range hierarchies {
		dir := filepath.Join(k.root, h)
		k.must(os.Mkdir(dir, 0o755))
		k.populateV1(dir, strings.Split(h, ","), true)
		if strings.Contains(h, ",") {
			for _, c := range strings.Split(h, ",") {
				k.must(os.Symlink(h, filepath.Join(k.root, c)))
			}
		}
	}
	unified := filepath.Join(k.root, "unified")
	k.must(os.Mkdir(unified, 0o755))
	k.populateV2(unified, nil, true)
	return k
}

// newFakeV2 builds a v2 hierarchy whose root offers controllers.
func newFakeV2(t *testing.T, controllers string, omit ...string) *fakeKernel {
	k := newFake(t, V2, omit)
	k.populateV2(k.root, strings.Fields(controllers), true)
	return k
}

func newFake(t *testing.T, v Version, omit []string) *fakeKernel {
	k := &fakeKernel{t: t, root: t.TempDir(), version: v, omit: map[string]bool{}, fail: map[string]error{}}
	for _, o := range omit {
		k.omit[o] = true
	}
	return k
}

func (k *fakeKernel) must(err error) {
	k.t.Helper()
	if err != nil {
		k.t.Fatal(err)
	}
}

// file creates a control file unless the kernel lacks it.
func (k *fakeKernel) file(dir, name, content string) {
	if k.omit[name] {
		return
	}
	k.must(os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644))
}

// fileIfMissing is file for a cgroup that may have it already.
func (k *fakeKernel) fileIfMissing(dir, name, content string) {
	if !exists(filepath.Join(dir, name)) {
		k.file(dir, name, content)
	}
}

func (k *fakeKernel) populateV1(dir string, ctrls []string, root bool) {
	for _, f := range []string{"cgroup.procs", "tasks"} {
		k.file(dir, f, "")
	}
	k.file(dir, "notify_on_release", "0\n")
	for _, c := range ctrls {
		switch c {
		case "cpu":
			k.file(dir, "cpu.shares", "1024\n")
			k.file(dir, "cpu.cfs_period_us", "100000\n")
			k.file(dir, "cpu.cfs_quota_us", "-1\n")
			k.file(dir, "cpu.stat", "nr_periods 0\nnr_throttled 0\nthrottled_time 0\n")
		case "cpuacct":
			k.file(dir, "cpuacct.usage", "0\n")
			k.file(dir, "cpuacct.stat", "user 0\nsystem 0\n")
		case "memory":
			k.file(dir, "memory.limit_in_bytes", "9223372036854771712\n")
			k.file(dir, "memory.usage_in_bytes", "0\n")
			k.file(dir, "memory.stat", "cache 0\nrss 0\ninactive_file 0\ntotal_cache 0\ntotal_inactive_file 0\n")
			k.file(dir, "memory.oom_control", "oom_kill_disable 0\nunder_oom 0\noom_kill 0\n")
			k.file(dir, "memory.swappiness", "60\n")
			k.file(dir, "memory.failcnt", "0\n")
		case "pids":
			if !root {
				k.file(dir, "pids.max", "max\n")
			}
			k.file(dir, "pids.current", "0\n")
		case "cpuset":
			k.file(dir, "cpuset.cpus", "")
			k.file(dir, "cpuset.mems", "")
		}
	}
}

func (k *fakeKernel) populateV2(dir string, ctrls []string, root bool) {
	sort.Strings(ctrls)
	k.file(dir, "cgroup.controllers", strings.Join(ctrls, " ")+"\n")
	k.file(dir, "cgroup.subtree_control", "\n")
	k.file(dir, "cgroup.procs", "")
	k.file(dir, "cpu.stat", "usage_usec 0\nuser_usec 0\nsystem_usec 0\n")
	if !root {
		k.file(dir, "cgroup.events", "populated 0\nfrozen 0\n")
		k.file(dir, "cgroup.type", "domain\n")
	}
	k.addV2Controllers(dir, ctrls, root)
}

// addV2Controllers creates the files of newly available controllers (the
// root cgroup has no limit files).
func (k *fakeKernel) addV2Controllers(dir string, ctrls []string, root bool) {
	if root {
		return
	}
	for _, c := range ctrls {
		switch c {
		case "cpu":
			k.fileIfMissing(dir, "cpu.max", "max 100000\n")
			k.fileIfMissing(dir, "cpu.weight", "100\n")
		case "memory":
			k.fileIfMissing(dir, "memory.max", "max\n")
			k.fileIfMissing(dir, "memory.current", "0\n")
			k.fileIfMissing(dir, "memory.stat", "anon 0\nfile 0\ninactive_file 0\n")
			k.fileIfMissing(dir, "memory.events", "low 0\nhigh 0\nmax 0\noom 0\noom_kill 0\n")
			k.fileIfMissing(dir, "memory.swap.max", "max\n")
		case "pids":
			k.fileIfMissing(dir, "pids.max", "max\n")
		}
	}
}

// Mkdir implements fileSystem.
func (k *fakeKernel) Mkdir(dir string) error {
	if err := os.Mkdir(dir, 0o755); err != nil {
		return err
	}
	if k.version == V2 {
		enabled, err := readControllers(filepath.Join(filepath.Dir(dir), "cgroup.subtree_control"))
		k.must(err)
		k.populateV2(dir, sortedKeys(enabled), false)
		return nil
	}
	rel, err := filepath.Rel(k.root, dir)
	k.must(err)
	h := strings.Split(rel, string(filepath.Separator))[0]
	if target, err := os.Readlink(filepath.Join(k.root, h)); err == nil {
		h = target
	}
	k.populateV1(dir, strings.Split(h, ","), false)
	return nil
}

// WriteFile implements fileSystem.
func (k *fakeKernel) WriteFile(file, data string) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	rel, err := filepath.Rel(k.root, file)
	k.must(err)
	k.writes = append(k.writes, fakeWrite{filepath.ToSlash(rel), data})
	name := filepath.Base(file)
	if err := k.fail[name]; err != nil {
		return &fs.PathError{Op: "write", Path: file, Err: err}
	}
	f, err := os.OpenFile(file, os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	k.must(f.Close())
	dir := filepath.Dir(file)
	switch name {
	case "cgroup.procs":
		if _, err := strconv.Atoi(data); err != nil {
			return &fs.PathError{Op: "write", Path: file, Err: syscall.EINVAL}
		}
		b, err := os.ReadFile(file)
		k.must(err)
		k.must(os.WriteFile(file, append(b, data+"\n"...), 0o644))
	case "cgroup.subtree_control":
		return k.subtreeControl(dir, file, data)
	default:
		k.must(os.WriteFile(file, []byte(data+"\n"), 0o644))
	}
	return nil
}

// subtreeControl enables and disables controllers like the kernel.
func (k *fakeKernel) subtreeControl(dir, file, data string) error {
	avail, err := readControllers(filepath.Join(dir, "cgroup.controllers"))
	k.must(err)
	enabled, err := readControllers(file)
	k.must(err)
	if dir != k.root && len(readPids(dir)) > 0 {
		return &fs.PathError{Op: "write", Path: file, Err: syscall.EBUSY}
	}
	for _, tok := range strings.Fields(data) {
		c := tok[1:]
		switch {
		case !avail[c]:
			return &fs.PathError{Op: "write", Path: file, Err: syscall.ENOENT}
		case tok[0] == '+':
			enabled[c] = true
		case tok[0] == '-':
			delete(enabled, c)
		default:
			return &fs.PathError{Op: "write", Path: file, Err: syscall.EINVAL}
		}
	}
	list := sortedKeys(enabled)
	k.must(os.WriteFile(file, []byte(strings.Join(list, " ")+"\n"), 0o644))
	// Children see the controllers at once.
	entries, err := os.ReadDir(dir)
	k.must(err)
	for _, e := range entries {
		if e.IsDir() {
			child := filepath.Join(dir, e.Name())
			k.must(os.WriteFile(filepath.Join(child, "cgroup.controllers"), []byte(strings.Join(list, " ")+"\n"), 0o644))
			k.addV2Controllers(child, list, false)
		}
	}
	return nil
}

// Rmdir implements fileSystem.
func (k *fakeKernel) Rmdir(dir string) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	entries, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	if len(readPids(dir)) > 0 || slices.ContainsFunc(entries, fs.DirEntry.IsDir) {
		return &fs.PathError{Op: "rmdir", Path: dir, Err: syscall.EBUSY}
	}
	return os.RemoveAll(dir)
}

// read returns a control file's content (path relative to root), trimmed.
func (k *fakeKernel) read(rel string) string {
	k.t.Helper()
	b, err := os.ReadFile(filepath.Join(k.root, rel))
	if err != nil {
		k.t.Fatalf("read %s: %v", rel, err)
	}
	return strings.TrimSpace(string(b))
}

// set replaces a control file's content (path relative to root), as the
// kernel updates counters.
func (k *fakeKernel) set(rel, content string) {
	k.t.Helper()
	k.mu.Lock()
	defer k.mu.Unlock()
	k.must(os.WriteFile(filepath.Join(k.root, rel), []byte(content), 0o644))
}

// wrote lists the writes to files whose relative path ends with suffix.
func (k *fakeKernel) wrote(suffix string) []fakeWrite {
	k.mu.Lock()
	defer k.mu.Unlock()
	var out []fakeWrite
	for _, w := range k.writes {
		if strings.HasSuffix(w.file, suffix) {
			out = append(out, w)
		}
	}
	return out
}

// manager builds a manager over the fake.
func (k *fakeKernel) manager(cfg Config) (Manager, error) {
	cfg.Root = k.root
	return newManager(cfg, k)
}

// mustManager is manager failing the test on error.
func (k *fakeKernel) mustManager(cfg Config) Manager {
	k.t.Helper()
	m, err := k.manager(cfg)
	if err != nil {
		k.t.Fatalf("newManager: %v", err)
	}
	return m
}
