package cgroups

import (
	"fmt"
	"path/filepath"
	"sort"
	"strconv"
	"time"

	"github.com/berth-dev/berth/internal/agent/runtime"
)

// v1Manager manages pod cgroups on the v1 layout: one directory per
// hierarchy (cpu, cpuacct, memory, pids; co-mounted controllers share one).
type v1Manager struct {
	common
	// cpu, cpuacct and memory are the hierarchies' mounts ("" when the
	// controller is missing).
	cpu, cpuacct, memory string
	// mounts are the distinct hierarchies a pod's cgroup is created in.
	mounts []string
}

func newV1(c common, ctrls map[string]string) (*v1Manager, error) {
	m := &v1Manager{common: c, cpu: ctrls["cpu"], cpuacct: ctrls["cpuacct"], memory: ctrls["memory"]}
	// Co-mounted controllers ("cpu,cpuacct" with cpu and cpuacct symlinks)
	// are one hierarchy: create and join it once.
	seen := map[string]bool{}
	var names []string
	for _, name := range []string{"cpu", "cpuacct", "memory", "pids"} {
		mount := ctrls[name]
		if mount == "" {
			continue
		}
		names = append(names, name)
		real, err := filepath.EvalSymlinks(mount)
		if err != nil {
			real = mount
		}
		if !seen[real] {
			seen[real] = true
			m.mounts = append(m.mounts, mount)
		}
	}
	for _, name := range []string{"cpu", "memory"} {
		if ctrls[name] == "" {
			m.log.Warn("cgroup v1 controller missing: its limits are not enforced", "controller", name)
		}
	}
	for _, mount := range m.mounts {
		if _, err := m.mkdirs(mount, m.parent, nil); err != nil {
			return nil, err
		}
	}
	m.log.Info("using cgroup v1", "controllers", names, "parent", m.parent)
	return m, nil
}

// Version implements Manager.
func (m *v1Manager) Version() Version { return V1 }

// dirs are the cgroup's directories in every hierarchy.
func (m *v1Manager) dirs(rel string) []string {
	out := make([]string, len(m.mounts))
	for i, mount := range m.mounts {
		out[i] = filepath.Join(mount, rel)
	}
	return out
}

// Create implements Manager.
func (m *v1Manager) Create(name string, cpuMilliLimit, cpuMilliRequest, memoryLimitBytes int64) (string, error) {
	if err := validName(name); err != nil {
		return "", err
	}
	if err := validLimits(cpuMilliLimit, cpuMilliRequest, memoryLimitBytes); err != nil {
		return "", err
	}
	p := m.cgroupPath(name)
	rel := p[1:]
	// created are the pod cgroups this call made (removed again on
	// failure; the parent stays).
	var created []string
	for _, mount := range m.mounts {
		c, err := m.mkdirs(mount, rel, nil)
		if n := len(c); n > 0 && c[n-1] == filepath.Join(mount, rel) {
			created = append(created, c[n-1])
		}
		if err != nil {
			m.undo(created)
			return "", err
		}
	}
	if err := m.setLimits(rel, cpuMilliLimit, cpuMilliRequest, memoryLimitBytes); err != nil {
		m.undo(created)
		return "", err
	}
	m.log.Debug("created cgroup", "path", p, "cpuLimit", cpuMilliLimit, "cpuRequest", cpuMilliRequest, "memoryLimit", memoryLimitBytes)
	return p, nil
}

func (m *v1Manager) setLimits(rel string, cpuMilliLimit, cpuMilliRequest, memoryLimitBytes int64) error {
	if m.cpu != "" {
		dir := filepath.Join(m.cpu, rel)
		if err := m.write(filepath.Join(dir, "cpu.shares"), strconv.FormatUint(cpuShares(cpuMilliRequest), 10)); err != nil {
			return err
		}
		if q := cpuQuota(cpuMilliLimit); q > 0 {
			if err := m.write(filepath.Join(dir, "cpu.cfs_period_us"), strconv.Itoa(cfsPeriod)); err != nil {
				return err
			}
			if err := m.write(filepath.Join(dir, "cpu.cfs_quota_us"), strconv.FormatInt(q, 10)); err != nil {
				return err
			}
		} else if err := m.write(filepath.Join(dir, "cpu.cfs_quota_us"), "-1"); err != nil {
			return err
		}
	}
	if m.memory != "" {
		dir := filepath.Join(m.memory, rel)
		limit := "-1"
		if memoryLimitBytes > 0 {
			limit = strconv.FormatInt(memoryLimitBytes, 10)
		}
		if err := m.write(filepath.Join(dir, "memory.limit_in_bytes"), limit); err != nil {
			return err
		}
		if err := m.writeIfExists(filepath.Join(dir, "memory.swappiness"), "0"); err != nil {
			return err
		}
	}
	return nil
}

// AddProcess implements Manager.
func (m *v1Manager) AddProcess(path string, pid int) error {
	rel, err := m.rel(path)
	if err != nil {
		return err
	}
	return m.addProcess(m.dirs(rel), pid)
}

// AddThread moves the single thread tid of the calling process into the
// cgroup, in every hierarchy (its tasks files). A process that thread then
// starts is born in the cgroup. Only v1 allows a thread to move alone:
// a v2 domain cgroup holds whole processes.
func (m *v1Manager) AddThread(path string, tid int) error {
	if tid <= 0 {
		return fmt.Errorf("%w: thread %d", ErrInvalid, tid)
	}
	rel, err := m.rel(path)
	if err != nil {
		return err
	}
	for _, d := range m.dirs(rel) {
		if err := m.write(filepath.Join(d, "tasks"), strconv.Itoa(tid)); err != nil {
			return err
		}
	}
	return nil
}

// Stats implements Manager.
func (m *v1Manager) Stats(path string) (runtime.Stats, error) {
	rel, err := m.rel(path)
	if err != nil {
		return runtime.Stats{}, err
	}
	s := runtime.Stats{Timestamp: time.Now()}
	if m.cpuacct != "" {
		if s.CPUUsageNanos, err = readUint(filepath.Join(m.cpuacct, rel, "cpuacct.usage")); err != nil {
			return runtime.Stats{}, err
		}
	}
	if m.memory != "" {
		dir := filepath.Join(m.memory, rel)
		usage, err := readUint(filepath.Join(dir, "memory.usage_in_bytes"))
		if err != nil {
			return runtime.Stats{}, err
		}
		stat, err := readKeyed(filepath.Join(dir, "memory.stat"))
		if err != nil {
			return runtime.Stats{}, err
		}
		inactive, ok := stat["total_inactive_file"]
		if !ok {
			inactive = stat["inactive_file"]
		}
		s.MemoryWorkingSetBytes = workingSet(usage, inactive)
	}
	return s, nil
}

// OOMKilled implements Manager: the oom_kill counter of memory.oom_control
// (Linux 4.13 and later).
func (m *v1Manager) OOMKilled(path string) (bool, error) {
	rel, err := m.rel(path)
	if err != nil {
		return false, err
	}
	if m.memory == "" {
		return false, nil
	}
	file := filepath.Join(m.memory, rel, "memory.oom_control")
	kv, err := readKeyed(file)
	if err != nil {
		return false, err
	}
	n, ok := kv["oom_kill"]
	if !ok {
		return false, fmt.Errorf("cgroups: %s has no oom_kill counter (Linux older than 4.13): %w", file, runtime.ErrNotSupported)
	}
	return n > 0, nil
}

// Delete implements Manager.
func (m *v1Manager) Delete(path string) error {
	rel, err := m.rel(path)
	if err != nil {
		return err
	}
	return m.remove(path, m.dirs(rel))
}

// parentDirs are the parent cgroup's directories (tests clean them up).
func (m *v1Manager) parentDirs() []string {
	dirs := m.dirs(m.parent)
	sort.Strings(dirs)
	return dirs
}
