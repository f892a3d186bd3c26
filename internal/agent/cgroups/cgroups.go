package cgroups

import (
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/berth-dev/berth/internal/agent/runtime"
)

// Errors the package returns (wrapped), so that callers can tell cases
// apart with errors.Is.
var (
	// ErrUnsupported: the host has no cgroup hierarchy this package can
	// use (no cgroup v2 with cpu or memory, no v1 cpu or memory
	// controller).
	ErrUnsupported = errors.New("cgroups: no usable cgroup hierarchy")
	// ErrInvalid: a name, path or value is not acceptable.
	ErrInvalid = errors.New("cgroups: invalid argument")
	// ErrBusy: Delete gave up because processes (or child cgroups) remain
	// in the cgroup.
	ErrBusy = errors.New("cgroups: cgroup still in use")
)

// Defaults of Config.
const (
	// DefaultRoot is where the cgroup hierarchies are mounted.
	DefaultRoot = "/sys/fs/cgroup"
	// DefaultParent is the cgroup that holds the pods' cgroups.
	DefaultParent = "berth"
	// DefaultDeleteTimeout is how long Delete waits for processes to leave.
	DefaultDeleteTimeout = 2 * time.Second
)

// Kubernetes' conversion constants (pkg/kubelet/cm).
const (
	// cfsPeriod is the CFS period in microseconds (100ms).
	cfsPeriod = 100000
	// minQuota is the smallest CFS quota in microseconds (1ms).
	minQuota = 1000
	// minShares and maxShares bound cpu.shares.
	minShares = 2
	maxShares = 262144
)

// Version is a cgroup layout.
type Version int

// Layouts.
const (
	// Unsupported: no usable cgroup hierarchy (also the Noop manager's).
	Unsupported Version = iota
	// V1 is the legacy layout: one hierarchy per controller.
	V1
	// V2 is the unified hierarchy.
	V2
)

// String returns "v1", "v2" or "unsupported".
func (v Version) String() string {
	switch v {
	case V1:
		return "v1"
	case V2:
		return "v2"
	default:
		return "unsupported"
	}
}

// Manager manages pod cgroups. Paths are the cgroup's path within the
// hierarchy, as in /proc/<pid>/cgroup ("/berth/<name>"), the same for v1
// and v2. Implementations are safe for concurrent use.
type Manager interface {
	// Create creates the cgroup <parent>/<name> and applies the limits;
	// when the cgroup exists already (e.g. after an agent restart) it
	// updates its limits. cpuMilliLimit caps CPU time (CFS quota),
	// cpuMilliRequest weights the cgroup against others, memoryLimitBytes
	// caps memory; 0 means no limit (a request of 0 gets the minimum
	// weight, like a BestEffort pod). name must be a single safe path
	// component. It returns the cgroup's path for the other methods.
	Create(name string, cpuMilliLimit, cpuMilliRequest, memoryLimitBytes int64) (path string, err error)
	// AddProcess moves the process pid into the cgroup (into every
	// hierarchy on v1). Its future children are born in it.
	AddProcess(path string, pid int) error
	// Stats reads the cgroup's cumulative CPU time and memory working set.
	// A cgroup that does not exist is an error matching fs.ErrNotExist.
	Stats(path string) (runtime.Stats, error)
	// OOMKilled reports whether the kernel's OOM killer has killed a
	// process of the cgroup since it was created. Without the memory
	// controller it reports false. Ask before Delete: the counter goes
	// with the cgroup.
	OOMKilled(path string) (bool, error)
	// Delete removes the cgroup. It kills nothing: it waits briefly for
	// exiting processes to leave and fails with ErrBusy if some remain.
	// Deleting a cgroup that does not exist is not an error.
	Delete(path string) error
	// Version is the layout in use.
	Version() Version
}

// ThreadAdder is implemented by the v1 Manager: it can move one thread of
// the calling process into a cgroup, so that a process the thread starts
// is born there instead of being moved in after it started.
type ThreadAdder interface {
	// AddThread moves the thread tid of this process into the cgroup
	// (into every hierarchy).
	AddThread(path string, tid int) error
}

// Config configures New.
type Config struct {
	// Root is where the cgroup hierarchies are mounted (default
	// /sys/fs/cgroup).
	Root string
	// Parent is the cgroup, relative to the hierarchy's root, that holds
	// the pods' cgroups (default "berth"); it may have several components
	// ("kubepods/berth"). It is created when missing.
	Parent string
	// Logger receives logs (default slog.Default).
	Logger *slog.Logger
	// DeleteTimeout is how long Delete waits for processes to leave the
	// cgroup (default 2s).
	DeleteTimeout time.Duration
}

// New returns a Manager for the host's cgroup layout (see Detect) and
// creates the parent cgroup, enabling the cpu and memory controllers for
// its children on v2. On failure it returns the error together with a Noop
// manager whose Reason says what went wrong, so that a caller content to
// run without cgroups can use it directly. Permission problems (not root)
// match fs.ErrPermission, a host without usable cgroups ErrUnsupported.
func New(cfg Config) (Manager, error) {
	m, err := newManager(cfg, osFS{})
	if err != nil {
		return Noop(err.Error()), err
	}
	return m, nil
}

// Detect tells the cgroup layout mounted at root ("" for /sys/fs/cgroup):
// V2 when root is a cgroup v2 hierarchy (it has cgroup.controllers), V1
// when root holds v1 hierarchies with the cpu or memory controller (a v2
// hierarchy at root/unified is then ignored), V2 when only root/unified
// offers cpu or memory. Anything else is an error matching ErrUnsupported.
func Detect(root string) (Version, error) {
	l, err := detect(root)
	return l.version, err
}

// layout is what detect found.
type layout struct {
	version Version
	// v2 is the unified hierarchy's mount (V2).
	v2 string
	// v1 maps controllers (cpu, cpuacct, memory, pids) to their
	// hierarchy's mount (V1).
	v1 map[string]string
}

// v1Controllers are the v1 controllers used, with a file that proves the
// controller is really there ("" when cgroup.procs is enough).
var v1Controllers = map[string]string{
	"cpu":     "cpu.shares",
	"cpuacct": "cpuacct.usage",
	"memory":  "memory.limit_in_bytes",
	"pids":    "",
}

func detect(root string) (layout, error) {
	if root == "" {
		root = DefaultRoot
	}
	fi, err := os.Stat(root)
	if err != nil {
		return layout{}, fmt.Errorf("%w: %w", ErrUnsupported, err)
	}
	if !fi.IsDir() {
		return layout{}, fmt.Errorf("%w: %s is not a directory", ErrUnsupported, root)
	}
	if exists(filepath.Join(root, "cgroup.controllers")) {
		return layout{version: V2, v2: root}, nil
	}
	v1 := map[string]string{}
	entries, err := os.ReadDir(root)
	if err != nil {
		return layout{}, fmt.Errorf("%w: %w", ErrUnsupported, err)
	}
	for _, e := range entries {
		dir := filepath.Join(root, e.Name())
		// A v2 mount (the hybrid layout's "unified") is not a v1 hierarchy.
		if !isDir(dir) || !exists(filepath.Join(dir, "cgroup.procs")) || exists(filepath.Join(dir, "cgroup.controllers")) {
			continue
		}
		for _, c := range strings.Split(e.Name(), ",") {
			proof, ok := v1Controllers[c]
			if !ok || v1[c] != "" {
				continue
			}
			if proof == "" || exists(filepath.Join(dir, proof)) {
				v1[c] = dir
			}
		}
	}
	if v1["cpu"] != "" || v1["memory"] != "" {
		return layout{version: V1, v1: v1}, nil
	}
	unified := filepath.Join(root, "unified")
	if ctrls, err := readControllers(filepath.Join(unified, "cgroup.controllers")); err == nil && (ctrls["cpu"] || ctrls["memory"]) {
		return layout{version: V2, v2: unified}, nil
	}
	return layout{}, fmt.Errorf("%w: neither a cgroup v2 hierarchy nor cgroup v1 cpu or memory controllers under %s", ErrUnsupported, root)
}

// newManager builds the manager for the detected layout, doing its file
// system changes through fsys.
func newManager(cfg Config, fsys fileSystem) (Manager, error) {
	if cfg.Root == "" {
		cfg.Root = DefaultRoot
	}
	if cfg.Parent == "" {
		cfg.Parent = DefaultParent
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.DeleteTimeout <= 0 {
		cfg.DeleteTimeout = DefaultDeleteTimeout
	}
	parent, err := cleanParent(cfg.Parent)
	if err != nil {
		return nil, err
	}
	l, err := detect(cfg.Root)
	if err != nil {
		return nil, err
	}
	c := common{
		parent:        parent,
		log:           cfg.Logger.With("component", "cgroups"),
		fs:            fsys,
		deleteTimeout: cfg.DeleteTimeout,
	}
	// Return a nil interface, not a typed nil, on error.
	if l.version == V2 {
		m, err := newV2(c, l.v2)
		if err != nil {
			return nil, err
		}
		return m, nil
	}
	m, err := newV1(c, l.v1)
	if err != nil {
		return nil, err
	}
	return m, nil
}

// common is what the v1 and v2 managers share.
type common struct {
	// parent is the cleaned Parent ("berth", "kubepods/berth").
	parent        string
	log           *slog.Logger
	fs            fileSystem
	deleteTimeout time.Duration
}

// cgroupPath is the path Create returns for name.
func (c *common) cgroupPath(name string) string {
	return "/" + c.parent + "/" + name
}

// rel checks that p is a path Create returned and gives it relative to the
// hierarchy's root ("berth/<name>").
func (c *common) rel(p string) (string, error) {
	if !strings.HasPrefix(p, "/") {
		p = "/" + p
	}
	prefix := "/" + c.parent + "/"
	name, ok := strings.CutPrefix(p, prefix)
	if !ok || path.Clean(p) != p {
		return "", fmt.Errorf("%w: cgroup path %q is not under %s", ErrInvalid, p, prefix)
	}
	if err := validName(name); err != nil {
		return "", fmt.Errorf("%w: cgroup path %q: bad name %q", ErrInvalid, p, name)
	}
	return p[1:], nil
}

// mkdirs creates the cgroup rel below the hierarchy mounted at mount,
// level by level, and returns the directories it created (deepest last).
// before, if set, is called with each directory before its child is
// created (v2 enables controllers there).
func (c *common) mkdirs(mount, rel string, before func(dir string) error) (created []string, err error) {
	dir := mount
	for _, comp := range strings.Split(rel, "/") {
		if before != nil {
			if err := before(dir); err != nil {
				return created, err
			}
		}
		dir = filepath.Join(dir, comp)
		switch err := c.fs.Mkdir(dir); {
		case err == nil:
			created = append(created, dir)
		case errors.Is(err, fs.ErrExist):
			if !isDir(dir) {
				return created, fmt.Errorf("%w: create %s: exists and is not a directory", ErrInvalid, dir)
			}
		case errors.Is(err, fs.ErrPermission):
			return created, fmt.Errorf("cgroups: create %s: %w (creating cgroups needs root or a delegated hierarchy)", dir, bare(err))
		case errors.Is(err, syscall.EROFS):
			return created, fmt.Errorf("cgroups: create %s: %w (the cgroup hierarchy is mounted read-only, as in many containers)", dir, bare(err))
		default:
			return created, fmt.Errorf("cgroups: create %s: %w", dir, bare(err))
		}
	}
	return created, nil
}

// undo removes directories mkdirs created, deepest first (best effort).
func (c *common) undo(created []string) {
	for i := len(created) - 1; i >= 0; i-- {
		if err := c.fs.Rmdir(created[i]); err != nil {
			c.log.Warn("cannot remove cgroup after failed create", "dir", created[i], "err", err)
		}
	}
}

// write writes value into the control file and names the file on failure.
func (c *common) write(file, value string) error {
	if err := c.fs.WriteFile(file, value); err != nil {
		return fmt.Errorf("cgroups: write %q to %s: %w", value, file, bare(err))
	}
	return nil
}

// writeIfExists writes value into the control file if the kernel offers it.
func (c *common) writeIfExists(file, value string) error {
	if !exists(file) {
		return nil
	}
	return c.write(file, value)
}

// addProcess writes pid into cgroup.procs of every directory.
func (c *common) addProcess(dirs []string, pid int) error {
	if pid <= 0 {
		return fmt.Errorf("%w: pid %d", ErrInvalid, pid)
	}
	for _, d := range dirs {
		if err := c.write(filepath.Join(d, "cgroup.procs"), strconv.Itoa(pid)); err != nil {
			return err
		}
	}
	return nil
}

// remove removes the cgroup directories (and any child cgroups), retrying
// while they are busy until the delete timeout.
func (c *common) remove(p string, dirs []string) error {
	deadline := time.Now().Add(c.deleteTimeout)
	removed := false
	for {
		var busy []string
		for _, d := range dirs {
			err := c.removeTree(d)
			switch {
			case err == nil:
				removed = true
			case errors.Is(err, fs.ErrNotExist):
			case errors.Is(err, syscall.EBUSY):
				busy = append(busy, d)
			default:
				return fmt.Errorf("cgroups: delete %s: %w", p, err)
			}
		}
		if len(busy) == 0 {
			if removed {
				c.log.Debug("deleted cgroup", "path", p)
			}
			return nil
		}
		if time.Now().After(deadline) {
			var pids []string
			for _, d := range busy {
				pids = append(pids, readPids(d)...)
			}
			if len(pids) > 0 {
				return fmt.Errorf("%w: delete %s: processes %s still in %s after %v",
					ErrBusy, p, strings.Join(dedupe(pids), ","), strings.Join(busy, ", "), c.deleteTimeout)
			}
			return fmt.Errorf("%w: delete %s: %s busy after %v (child cgroups or exiting processes)",
				ErrBusy, p, strings.Join(busy, ", "), c.deleteTimeout)
		}
		dirs = busy
		time.Sleep(20 * time.Millisecond)
	}
}

// removeTree removes dir's child cgroups, then dir.
func (c *common) removeTree(dir string) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	for _, e := range entries {
		if e.IsDir() {
			if err := c.removeTree(filepath.Join(dir, e.Name())); err != nil {
				return err
			}
		}
	}
	if err := c.fs.Rmdir(dir); err != nil {
		return fmt.Errorf("remove %s: %w", dir, bare(err))
	}
	return nil
}

// readPids lists the processes in dir/cgroup.procs.
func readPids(dir string) []string {
	b, err := os.ReadFile(filepath.Join(dir, "cgroup.procs"))
	if err != nil {
		return nil
	}
	return strings.Fields(string(b))
}

func dedupe(s []string) []string {
	seen := map[string]bool{}
	out := s[:0]
	for _, x := range s {
		if !seen[x] {
			seen[x] = true
			out = append(out, x)
		}
	}
	return out
}

// validName accepts a single path component made of letters, digits and
// ._-:@+, starting with a letter, digit or underscore, at most 255 bytes.
func validName(name string) error {
	if name == "" {
		return fmt.Errorf("%w: empty cgroup name", ErrInvalid)
	}
	if len(name) > 255 {
		return fmt.Errorf("%w: cgroup name longer than 255 bytes", ErrInvalid)
	}
	for i, r := range name {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '_':
		case i > 0 && strings.ContainsRune(".-:@+", r):
		default:
			return fmt.Errorf("%w: cgroup name %q: character %q not allowed (want letters, digits and ._-:@+, not leading . - : @ +)", ErrInvalid, name, r)
		}
	}
	return nil
}

// cleanParent validates Config.Parent and drops surrounding slashes.
func cleanParent(p string) (string, error) {
	p = strings.Trim(p, "/")
	for _, comp := range strings.Split(p, "/") {
		if err := validName(comp); err != nil {
			return "", fmt.Errorf("parent %q: %w", p, err)
		}
	}
	return p, nil
}

// validLimits rejects negative limits.
func validLimits(cpuMilliLimit, cpuMilliRequest, memoryLimitBytes int64) error {
	if cpuMilliLimit < 0 || cpuMilliRequest < 0 || memoryLimitBytes < 0 {
		return fmt.Errorf("%w: negative limit (cpu limit %dm, cpu request %dm, memory %d bytes)",
			ErrInvalid, cpuMilliLimit, cpuMilliRequest, memoryLimitBytes)
	}
	return nil
}

// cpuQuota converts a CPU limit in millicores to a CFS quota in
// microseconds per cfsPeriod, like the kubelet's MilliCPUToQuota: 0 for no
// limit, at least minQuota otherwise.
func cpuQuota(milli int64) int64 {
	if milli <= 0 {
		return 0
	}
	if milli > (1<<62)/cfsPeriod {
		milli = (1 << 62) / cfsPeriod
	}
	q := milli * cfsPeriod / 1000
	if q < minQuota {
		q = minQuota
	}
	return q
}

// cpuShares converts a CPU request in millicores to cpu.shares, like the
// kubelet's MilliCPUToShares: within [2, 262144], 2 for no request.
func cpuShares(milli int64) uint64 {
	if milli <= 0 {
		return minShares
	}
	if milli > maxShares*1000/1024+1 {
		return maxShares
	}
	s := uint64(milli) * 1024 / 1000
	return min(max(s, minShares), maxShares)
}

// cpuWeight converts cpu.shares to cgroup v2's cpu.weight ([1, 10000]) like
// the kubelet and runc: 1 + ((shares-2)*9999)/262142.
func cpuWeight(shares uint64) uint64 {
	shares = min(max(shares, minShares), maxShares)
	return 1 + ((shares-2)*9999)/262142
}

// readUint reads a file holding one unsigned number.
func readUint(file string) (uint64, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return 0, fmt.Errorf("cgroups: read %s: %w", file, bare(err))
	}
	s := strings.TrimSpace(string(b))
	v, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("cgroups: parse %s: %w", file, err)
	}
	return v, nil
}

// readKeyed reads a flat keyed file ("key value" lines, like memory.stat).
// Lines that do not fit are skipped.
func readKeyed(file string) (map[string]uint64, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("cgroups: read %s: %w", file, bare(err))
	}
	m := map[string]uint64{}
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) != 2 {
			continue
		}
		if v, err := strconv.ParseUint(f[1], 10, 64); err == nil {
			m[f[0]] = v
		}
	}
	return m, nil
}

// readControllers reads a space separated controller list
// (cgroup.controllers, cgroup.subtree_control).
func readControllers(file string) (map[string]bool, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	m := map[string]bool{}
	for _, c := range strings.Fields(string(b)) {
		m[c] = true
	}
	return m, nil
}

// workingSet is usage minus inactive file cache, floored at 0.
func workingSet(usage, inactiveFile uint64) uint64 {
	if inactiveFile >= usage {
		return 0
	}
	return usage - inactiveFile
}

func exists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

func isDir(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.IsDir()
}

// bare strips the *fs.PathError wrapper (callers name the file themselves).
func bare(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// fileSystem performs the changes to the cgroup file system (tests fake
// the kernel's side of them). Reads go to the os package directly.
type fileSystem interface {
	// Mkdir creates a cgroup directory.
	Mkdir(dir string) error
	// WriteFile writes data to an existing control file in one write.
	WriteFile(file, data string) error
	// Rmdir removes a cgroup directory.
	Rmdir(dir string) error
}

// osFS is the real file system.
type osFS struct{}

func (osFS) Mkdir(dir string) error { return os.Mkdir(dir, 0o755) }

func (osFS) WriteFile(file, data string) error {
	f, err := os.OpenFile(file, os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	_, err = f.WriteString(data)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// Rmdir removes the directory (cgroupfs lets rmdir remove a cgroup with
// its control files; os.Remove falls back to rmdir for directories).
func (osFS) Rmdir(dir string) error { return os.Remove(dir) }
