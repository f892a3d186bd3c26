package process

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/berth-dev/berth/internal/agent/runtime"
)

// ContainerStats reads the container's usage from its cgroup, or, without
// one, from /proc: the CPU time of its main process and of the children
// it reaped, and the main process's resident memory (zero once exited).
func (d *Driver) ContainerStats(ctx context.Context, id string) (runtime.Stats, error) {
	if err := ctx.Err(); err != nil {
		return runtime.Stats{}, err
	}
	c, err := d.get(id)
	if err != nil {
		return runtime.Stats{}, err
	}
	return d.stats(c)
}

func (d *Driver) stats(c *container) (runtime.Stats, error) {
	d.mu.Lock()
	st, startTime, cg := c.rec.Status, c.rec.StartTime, c.rec.CgroupPath
	d.mu.Unlock()
	if cg != "" && d.cfg.Cgroups != nil {
		s, err := d.cfg.Cgroups.Stats(cg)
		if err != nil {
			return runtime.Stats{}, fmt.Errorf("process: stats of container %s: %w", c.id, err)
		}
		if s.Timestamp.IsZero() {
			s.Timestamp = time.Now()
		}
		return s, nil
	}
	s := runtime.Stats{Timestamp: time.Now()}
	if st.State != runtime.StateRunning {
		return s, nil
	}
	ps, err := readStat(st.PID)
	if err != nil || ps.startTime != startTime {
		return s, nil // just exited
	}
	s.CPUUsageNanos = ps.cpuTicks * clockTick
	s.MemoryWorkingSetBytes = ps.rssPages * uint64(os.Getpagesize())
	return s, nil
}

// SandboxStats adds up the stats of the sandbox's containers.
func (d *Driver) SandboxStats(ctx context.Context, id string) (runtime.Stats, error) {
	if err := ctx.Err(); err != nil {
		return runtime.Stats{}, err
	}
	if _, err := d.getSandbox(id); err != nil {
		return runtime.Stats{}, err
	}
	sum := runtime.Stats{Timestamp: time.Now()}
	for _, c := range d.sandboxContainers(id) {
		s, err := d.stats(c)
		if err != nil {
			d.mu.Lock()
			running := c.rec.Status.State == runtime.StateRunning
			d.mu.Unlock()
			if running {
				return runtime.Stats{}, err
			}
			continue // an exited container's cgroup may be gone
		}
		sum.CPUUsageNanos += s.CPUUsageNanos
		sum.MemoryWorkingSetBytes += s.MemoryWorkingSetBytes
	}
	return sum, nil
}
