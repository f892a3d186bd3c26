package docker

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"

	"github.com/berth-dev/berth/internal/agent/runtime"
)

// maxHostname is the longest hostname the kernel takes.
const maxHostname = 63

// RunSandbox starts the pod's infra container from the pause image: in
// the driver's bridge network (an IP from the pod CIDR), or in the node's
// network for spec.HostNetwork, with a shareable IPC namespace and the
// pod's hostname. Its ID is the sandbox's.
func (d *Driver) RunSandbox(ctx context.Context, spec runtime.SandboxSpec) (runtime.Sandbox, error) {
	ctx, done, err := d.op(ctx)
	if err != nil {
		return runtime.Sandbox{}, err
	}
	defer done()
	if err := checkLabels(spec.Labels); err != nil {
		return runtime.Sandbox{}, err
	}
	if err := d.ensurePause(ctx); err != nil {
		return runtime.Sandbox{}, err
	}
	extra := map[string]string{}
	netMode := container.NetworkMode("host")
	if spec.HostNetwork {
		extra[LabelHostNetwork] = "true"
	} else {
		id, err := d.network(ctx)
		if err != nil {
			return runtime.Sandbox{}, err
		}
		netMode = container.NetworkMode(id)
	}
	hostname := spec.Hostname
	if hostname == "" {
		hostname = spec.Name
	}
	if len(hostname) > maxHostname {
		hostname = hostname[:maxHostname]
	}
	cfg := &container.Config{
		Image:      d.cfg.PauseImage,
		Labels:     withDriverLabels(spec.Labels, d.cfg.NodeName, roleSandbox, extra),
		StopSignal: "SIGKILL",
	}
	if !spec.HostNetwork {
		cfg.Hostname = hostname // a host network pod has the node's
	}
	host := &container.HostConfig{
		NetworkMode:   netMode,
		IpcMode:       container.IPCModeShareable,
		RestartPolicy: container.RestartPolicy{Name: container.RestartPolicyDisabled},
		LogConfig:     logConfig(1 << 20),
	}
	host.Resources.CPUShares = minShares
	created, err := d.cli.ContainerCreate(ctx, client.ContainerCreateOptions{
		Config: cfg, HostConfig: host, Name: containerName(d.cfg.NodeName, spec.Namespace, spec.Name, "POD"),
	})
	if err != nil {
		if isNotFound(err) && !spec.HostNetwork {
			d.forgetNetwork() // removed behind the driver's back: made again next time
		}
		return runtime.Sandbox{}, d.apiError(err, "create the infra container of pod %s/%s", spec.Namespace, spec.Name)
	}
	id := created.ID
	if _, err := d.cli.ContainerStart(ctx, id, client.ContainerStartOptions{}); err != nil {
		d.removeQuietly(id)
		if isNotFound(err) && !spec.HostNetwork {
			d.forgetNetwork()
		}
		return runtime.Sandbox{}, d.apiError(err, "start the infra container of pod %s/%s", spec.Namespace, spec.Name)
	}
	res, err := d.cli.ContainerInspect(ctx, id, client.ContainerInspectOptions{})
	if err != nil {
		d.removeQuietly(id)
		return runtime.Sandbox{}, d.apiError(err, "inspect the infra container of pod %s/%s", spec.Namespace, spec.Name)
	}
	sb := sandboxOf(res.Container)
	if !sb.HostNetwork && sb.IP == "" {
		d.removeQuietly(id)
		return runtime.Sandbox{}, fmt.Errorf("docker: the infra container of pod %s/%s got no IP in network %s", spec.Namespace, spec.Name, d.cfg.NetworkName)
	}
	d.log.Debug("sandbox created", "sandbox", id, "pod", spec.Namespace+"/"+spec.Name, "ip", sb.IP)
	return sb, nil
}

// removeQuietly force-removes a container the driver failed to set up.
func (d *Driver) removeQuietly(id string) {
	ctx, cancel := context.WithTimeout(context.Background(), stopTimeout)
	defer cancel()
	if _, err := d.cli.ContainerRemove(ctx, id, client.ContainerRemoveOptions{Force: true}); err != nil && !isNotFound(err) {
		d.log.Warn("cannot remove a container after a failed start", "container", id, "err", err)
	}
}

// sandboxOf converts an inspected infra container.
func sandboxOf(c container.InspectResponse) runtime.Sandbox {
	var labels map[string]string
	if c.Config != nil {
		labels = c.Config.Labels
	}
	sb := runtime.Sandbox{
		ID:          c.ID,
		Labels:      specLabels(labels),
		CreatedAt:   parseTime(c.Created),
		HostNetwork: labels[LabelHostNetwork] == "true",
	}
	if sb.HostNetwork || c.NetworkSettings == nil {
		return sb
	}
	sb.NetNS = c.NetworkSettings.SandboxKey
	// The pods' network is the infra container's only one.
	names := slices.Sorted(maps.Keys(c.NetworkSettings.Networks))
	for _, name := range names {
		if ep := c.NetworkSettings.Networks[name]; ep != nil && ep.IPAddress.IsValid() {
			sb.IP = ep.IPAddress.String()
			break
		}
	}
	return sb
}

// sandbox inspects this node's infra container id.
func (d *Driver) sandbox(ctx context.Context, id string) (container.InspectResponse, error) {
	if id == "" {
		return container.InspectResponse{}, notFound("sandbox", id)
	}
	res, err := d.cli.ContainerInspect(ctx, id, client.ContainerInspectOptions{})
	if isNotFound(err) {
		return container.InspectResponse{}, notFound("sandbox", id)
	}
	if err != nil {
		return container.InspectResponse{}, d.apiError(err, "inspect sandbox %s", id)
	}
	c := res.Container
	if c.ID != id || c.Config == nil || !owned(c.Config.Labels, d.cfg.NodeName, roleSandbox) {
		return container.InspectResponse{}, notFound("sandbox", id)
	}
	return c, nil
}

// StopSandbox kills the sandbox's containers and then its infra
// container (releasing its IP); it waits for them to exit.
func (d *Driver) StopSandbox(ctx context.Context, id string) error {
	ctx, done, err := d.op(ctx)
	if err != nil {
		return err
	}
	defer done()
	l := d.sandboxLock(id)
	l.Lock()
	defer l.Unlock()
	if _, err := d.sandbox(ctx, id); err != nil {
		if errors.Is(err, runtime.ErrNotFound) {
			d.forgetSandbox(id)
		}
		return err
	}
	return d.stopSandbox(ctx, id)
}

// stopSandbox does StopSandbox's work with the sandbox's lock held.
func (d *Driver) stopSandbox(ctx context.Context, id string) error {
	ids, err := d.listIDs(ctx, listFilters(d.cfg.NodeName, roleContainer, id))
	if err != nil {
		return err
	}
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs []error
	)
	for _, cid := range ids {
		wg.Go(func() {
			if err := d.kill(ctx, cid); err != nil && !errors.Is(err, runtime.ErrNotFound) {
				mu.Lock()
				errs = append(errs, err)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return err
	}
	if err := d.kill(ctx, id); err != nil && !errors.Is(err, runtime.ErrNotFound) {
		return err
	}
	return nil
}

// RemoveSandbox stops the sandbox if needed and removes its containers and
// its infra container. Containers left of a sandbox whose infra container
// is gone are removed too (the call then succeeds).
func (d *Driver) RemoveSandbox(ctx context.Context, id string) error {
	ctx, done, err := d.op(ctx)
	if err != nil {
		return err
	}
	defer done()
	l := d.sandboxLock(id)
	l.Lock()
	defer l.Unlock()
	_, infraErr := d.sandbox(ctx, id)
	if infraErr != nil && !errors.Is(infraErr, runtime.ErrNotFound) {
		return infraErr
	}
	if infraErr == nil {
		if err := d.stopSandbox(ctx, id); err != nil {
			return err
		}
	}
	ids, err := d.listIDs(ctx, listFilters(d.cfg.NodeName, roleContainer, id))
	if err != nil {
		return err
	}
	for _, cid := range ids {
		if err := d.remove(ctx, cid); err != nil && !errors.Is(err, runtime.ErrNotFound) {
			return err
		}
	}
	if infraErr != nil {
		d.forgetSandbox(id)
		if len(ids) > 0 {
			return nil
		}
		return infraErr
	}
	if err := d.remove(ctx, id); err != nil {
		return err
	}
	d.forgetSandbox(id)
	d.log.Debug("sandbox removed", "sandbox", id, "containers", len(ids))
	return nil
}

// ListSandboxes lists this node's sandboxes (running or stopped), oldest
// first.
func (d *Driver) ListSandboxes(ctx context.Context) ([]runtime.Sandbox, error) {
	ctx, done, err := d.op(ctx)
	if err != nil {
		return nil, err
	}
	defer done()
	found, err := d.inspectAll(ctx, listFilters(d.cfg.NodeName, roleSandbox, ""))
	if err != nil {
		return nil, err
	}
	out := make([]runtime.Sandbox, 0, len(found))
	for _, c := range found {
		out = append(out, sandboxOf(c))
	}
	slices.SortFunc(out, func(a, b runtime.Sandbox) int { return a.CreatedAt.Compare(b.CreatedAt) })
	return out, nil
}

// listIDs lists the IDs of the containers the filters select.
func (d *Driver) listIDs(ctx context.Context, f client.Filters) ([]string, error) {
	res, err := d.cli.ContainerList(ctx, client.ContainerListOptions{All: true, Filters: f})
	if err != nil {
		return nil, d.apiError(err, "list containers")
	}
	ids := make([]string, 0, len(res.Items))
	for _, c := range res.Items {
		ids = append(ids, c.ID)
	}
	return ids, nil
}

// inspectParallel bounds the inspections inspectAll runs at once.
const inspectParallel = 8

// inspectAll inspects the containers the filters select (the list's
// summaries lack exit codes and precise times). Containers removed
// meanwhile are left out.
func (d *Driver) inspectAll(ctx context.Context, f client.Filters) ([]container.InspectResponse, error) {
	ids, err := d.listIDs(ctx, f)
	if err != nil {
		return nil, err
	}
	out := make([]container.InspectResponse, len(ids))
	errs := make([]error, len(ids))
	sem := make(chan struct{}, inspectParallel)
	var wg sync.WaitGroup
	for i, id := range ids {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			res, err := d.cli.ContainerInspect(ctx, id, client.ContainerInspectOptions{})
			if err != nil && !isNotFound(err) {
				errs[i] = d.apiError(err, "inspect container %s", id)
			}
			out[i] = res.Container
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return slices.DeleteFunc(out, func(c container.InspectResponse) bool { return c.ID == "" }), nil
}
