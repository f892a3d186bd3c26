package cgroups

import (
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/berth-dev/berth/internal/agent/runtime"
)

// v2Manager manages pod cgroups in the unified hierarchy.
type v2Manager struct {
	common
	// mount is the unified hierarchy's mount.
	mount string
	// cpu and memory tell which controllers are available and used.
	cpu, memory bool
}

func newV2(c common, mount string) (*v2Manager, error) {
	file := filepath.Join(mount, "cgroup.controllers")
	ctrls, err := readControllers(file)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrUnsupported, err)
	}
	m := &v2Manager{common: c, mount: mount, cpu: ctrls["cpu"], memory: ctrls["memory"]}
	if !m.cpu && !m.memory {
		return nil, fmt.Errorf("%w: neither cpu nor memory in %s (%q)", ErrUnsupported, file, strings.Join(sortedKeys(ctrls), " "))
	}
	for _, name := range []string{"cpu", "memory"} {
		if !ctrls[name] {
			m.log.Warn("cgroup v2 controller not available: its limits are not enforced", "controller", name, "file", file)
		}
	}
	if _, err := m.mkdirs(mount, m.parent, m.enable); err != nil {
		return nil, err
	}
	if err := m.enable(filepath.Join(mount, m.parent)); err != nil {
		return nil, err
	}
	m.log.Info("using cgroup v2", "mount", mount, "controllers", m.controllers(), "parent", m.parent)
	return m, nil
}

// controllers are the controllers enabled for the pods' cgroups.
func (m *v2Manager) controllers() []string {
	var out []string
	if m.cpu {
		out = append(out, "cpu")
	}
	if m.memory {
		out = append(out, "memory")
	}
	return out
}

// enable makes sure the controllers are enabled for dir's children, writing
// to cgroup.subtree_control only what is missing.
func (m *v2Manager) enable(dir string) error {
	file := filepath.Join(dir, "cgroup.subtree_control")
	have, err := readControllers(file)
	if err != nil {
		return fmt.Errorf("cgroups: read %s: %w", file, bare(err))
	}
	for _, c := range m.controllers() {
		if have[c] {
			continue
		}
		err := m.write(file, "+"+c)
		switch {
		case err == nil:
		case errors.Is(err, syscall.EBUSY):
			return fmt.Errorf("%w (cgroup v2 lets only a cgroup without processes of its own enable controllers for its children: move the processes of %s into a leaf cgroup)", err, dir)
		case errors.Is(err, fs.ErrNotExist):
			return fmt.Errorf("%w (controller %s is not available in %s: the parent cgroup does not delegate it)", err, c, filepath.Join(dir, "cgroup.controllers"))
		default:
			return err
		}
	}
	return nil
}

// Version implements Manager.
func (m *v2Manager) Version() Version { return V2 }

// Create implements Manager.
func (m *v2Manager) Create(name string, cpuMilliLimit, cpuMilliRequest, memoryLimitBytes int64) (string, error) {
	if err := validName(name); err != nil {
		return "", err
	}
	if err := validLimits(cpuMilliLimit, cpuMilliRequest, memoryLimitBytes); err != nil {
		return "", err
	}
	p := m.cgroupPath(name)
	dir := filepath.Join(m.mount, p[1:])
	// The parent may have been removed or reset behind our back: create
	// it and enable the controllers again where needed.
	created, err := m.mkdirs(m.mount, p[1:], m.enable)
	undo := func() {
		if n := len(created); n > 0 && created[n-1] == dir {
			m.undo(created[n-1:])
		}
	}
	if err != nil {
		undo()
		return "", err
	}
	if err := m.setLimits(dir, cpuMilliLimit, cpuMilliRequest, memoryLimitBytes); err != nil {
		undo()
		return "", err
	}
	m.log.Debug("created cgroup", "path", p, "cpuLimit", cpuMilliLimit, "cpuRequest", cpuMilliRequest, "memoryLimit", memoryLimitBytes)
	return p, nil
}

func (m *v2Manager) setLimits(dir string, cpuMilliLimit, cpuMilliRequest, memoryLimitBytes int64) error {
	if m.cpu {
		quota := "max"
		if q := cpuQuota(cpuMilliLimit); q > 0 {
			quota = strconv.FormatInt(q, 10)
		}
		if err := m.write(filepath.Join(dir, "cpu.max"), quota+" "+strconv.Itoa(cfsPeriod)); err != nil {
			return err
		}
		w := cpuWeight(cpuShares(cpuMilliRequest))
		if err := m.write(filepath.Join(dir, "cpu.weight"), strconv.FormatUint(w, 10)); err != nil {
			return err
		}
	}
	if m.memory {
		limit := "max"
		if memoryLimitBytes > 0 {
			limit = strconv.FormatInt(memoryLimitBytes, 10)
		}
		if err := m.write(filepath.Join(dir, "memory.max"), limit); err != nil {
			return err
		}
		// Only there with swap accounting.
		if err := m.writeIfExists(filepath.Join(dir, "memory.swap.max"), "0"); err != nil {
			return err
		}
	}
	return nil
}

// AddProcess implements Manager.
func (m *v2Manager) AddProcess(path string, pid int) error {
	rel, err := m.rel(path)
	if err != nil {
		return err
	}
	return m.addProcess([]string{filepath.Join(m.mount, rel)}, pid)
}

// Stats implements Manager.
func (m *v2Manager) Stats(path string) (runtime.Stats, error) {
	rel, err := m.rel(path)
	if err != nil {
		return runtime.Stats{}, err
	}
	dir := filepath.Join(m.mount, rel)
	s := runtime.Stats{Timestamp: time.Now()}
	// cpu.stat's usage figures come from the cgroup core: present with or
	// without the cpu controller.
	file := filepath.Join(dir, "cpu.stat")
	cpu, err := readKeyed(file)
	if err != nil {
		return runtime.Stats{}, err
	}
	usec, ok := cpu["usage_usec"]
	if !ok {
		return runtime.Stats{}, fmt.Errorf("cgroups: %s has no usage_usec", file)
	}
	s.CPUUsageNanos = usec * 1000
	if m.memory {
		usage, err := readUint(filepath.Join(dir, "memory.current"))
		if err != nil {
			return runtime.Stats{}, err
		}
		stat, err := readKeyed(filepath.Join(dir, "memory.stat"))
		if err != nil {
			return runtime.Stats{}, err
		}
		s.MemoryWorkingSetBytes = workingSet(usage, stat["inactive_file"])
	}
	return s, nil
}

// OOMKilled implements Manager: the oom_kill counter of memory.events.
func (m *v2Manager) OOMKilled(path string) (bool, error) {
	rel, err := m.rel(path)
	if err != nil {
		return false, err
	}
	if !m.memory {
		return false, nil
	}
	file := filepath.Join(m.mount, rel, "memory.events")
	kv, err := readKeyed(file)
	if err != nil {
		return false, err
	}
	n, ok := kv["oom_kill"]
	if !ok {
		return false, fmt.Errorf("cgroups: %s has no oom_kill counter: %w", file, runtime.ErrNotSupported)
	}
	return n > 0, nil
}

// Delete implements Manager.
func (m *v2Manager) Delete(path string) error {
	rel, err := m.rel(path)
	if err != nil {
		return err
	}
	return m.remove(path, []string{filepath.Join(m.mount, rel)})
}

// parentDirs is the parent cgroup's directory (tests clean it up).
func (m *v2Manager) parentDirs() []string {
	return []string{filepath.Join(m.mount, m.parent)}
}

func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
