package docker

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"

	"github.com/berth-dev/berth/internal/agent/runtime"
)

// statsOf converts the stats API's figures: the cumulative CPU time, and
// the memory working set, usage minus the inactive file cache
// (total_inactive_file on cgroup v1, inactive_file on v2), as the kubelet
// and `docker stats` compute it. A stopped container has zero figures.
func statsOf(s container.StatsResponse, now time.Time) runtime.Stats {
	out := runtime.Stats{Timestamp: s.Read, CPUUsageNanos: s.CPUStats.CPUUsage.TotalUsage}
	if out.Timestamp.IsZero() || out.Timestamp.Year() <= 1 {
		out.Timestamp = now
	}
	usage := s.MemoryStats.Usage
	inactive, ok := s.MemoryStats.Stats["total_inactive_file"] // v1
	if !ok {
		inactive = s.MemoryStats.Stats["inactive_file"] // v2
	}
	if inactive < usage {
		out.MemoryWorkingSetBytes = usage - inactive
	}
	return out
}

// stats reads one container's figures (one sample, no waiting).
func (d *Driver) stats(ctx context.Context, id string) (runtime.Stats, error) {
	res, err := d.cli.ContainerStats(ctx, id, client.ContainerStatsOptions{})
	if err != nil {
		if isNotFound(err) {
			return runtime.Stats{}, notFound("container", id)
		}
		return runtime.Stats{}, d.apiError(err, "stats of container %s", id)
	}
	defer res.Body.Close()
	var s container.StatsResponse
	if err := json.NewDecoder(res.Body).Decode(&s); err != nil {
		if cerr := ctx.Err(); cerr != nil {
			return runtime.Stats{}, cerr
		}
		return runtime.Stats{}, fmt.Errorf("docker: stats of container %s: %w", id, err)
	}
	return statsOf(s, time.Now()), nil
}

// ContainerStats reads the container's usage (zero once it exited).
func (d *Driver) ContainerStats(ctx context.Context, id string) (runtime.Stats, error) {
	ctx, done, err := d.op(ctx)
	if err != nil {
		return runtime.Stats{}, err
	}
	defer done()
	c, err := d.get(ctx, id)
	if err != nil {
		return runtime.Stats{}, err
	}
	if !running(c) {
		return runtime.Stats{Timestamp: time.Now()}, nil
	}
	return d.stats(ctx, id)
}

// SandboxStats adds up the usage of the sandbox's running containers and
// of its infra container.
func (d *Driver) SandboxStats(ctx context.Context, id string) (runtime.Stats, error) {
	ctx, done, err := d.op(ctx)
	if err != nil {
		return runtime.Stats{}, err
	}
	defer done()
	infra, err := d.sandbox(ctx, id)
	if err != nil {
		return runtime.Stats{}, err
	}
	res, err := d.cli.ContainerList(ctx, client.ContainerListOptions{Filters: listFilters(d.cfg.NodeName, roleContainer, id)})
	if err != nil {
		return runtime.Stats{}, d.apiError(err, "list the containers of sandbox %s", id)
	}
	ids := make([]string, 0, len(res.Items)+1)
	if running(infra) {
		ids = append(ids, id)
	}
	for _, c := range res.Items { // running ones only (no All)
		ids = append(ids, c.ID)
	}
	sum := runtime.Stats{Timestamp: time.Now()}
	for _, cid := range ids {
		s, err := d.stats(ctx, cid)
		if errors.Is(err, runtime.ErrNotFound) {
			continue // removed meanwhile
		}
		if err != nil {
			return runtime.Stats{}, err
		}
		sum.CPUUsageNanos += s.CPUUsageNanos
		sum.MemoryWorkingSetBytes += s.MemoryWorkingSetBytes
	}
	return sum, nil
}
