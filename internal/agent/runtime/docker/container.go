package docker

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"

	"github.com/berth-dev/berth/internal/agent/runtime"
)

// stopTimeout bounds the clean-up calls the driver makes on its own
// (without a caller's context).
const stopTimeout = 30 * time.Second

// CreateAndStart creates the container in the sandbox's namespaces
// (network and IPC of the infra container) from an image that must be on
// the node (runtime.ErrImageNotPresent otherwise: it never pulls) and
// starts it. Command and args are combined with the image's ENTRYPOINT
// and CMD as Kubernetes does; env comes on top of the image's; a start
// that fails (e.g. a missing executable) leaves an exited container whose
// ID is returned with the error.
func (d *Driver) CreateAndStart(ctx context.Context, spec runtime.ContainerSpec) (string, error) {
	ctx, done, err := d.op(ctx)
	if err != nil {
		return "", err
	}
	defer done()
	if err := checkLabels(spec.Labels); err != nil {
		return "", err
	}
	l := d.sandboxLock(spec.SandboxID)
	l.RLock()
	defer l.RUnlock()
	infra, err := d.sandbox(ctx, spec.SandboxID)
	if err != nil {
		if errors.Is(err, runtime.ErrNotFound) {
			d.forgetSandbox(spec.SandboxID)
		}
		return "", err
	}
	if infra.State == nil || !infra.State.Running {
		return "", fmt.Errorf("docker: sandbox %s is stopped", spec.SandboxID)
	}
	img, err := d.image(ctx, spec.Image)
	if err != nil {
		return "", fmt.Errorf("docker: container %q: %w", spec.Name, err)
	}
	entrypoint, cmd := mergeCommand(img.Entrypoint, img.Cmd, spec.Command, spec.Args)
	if len(entrypoint) == 0 && len(cmd) == 0 {
		return "", fmt.Errorf("docker: container %q: %w: image %q has no ENTRYPOINT or CMD", spec.Name, runtime.ErrNoCommand, spec.Image)
	}
	res, err := resources(spec.CPUMilliLimit, spec.CPUMilliRequest, spec.MemoryLimitBytes)
	if err != nil {
		return "", err
	}
	ms, err := mounts(spec.Mounts)
	if err != nil {
		return "", err
	}
	cfg := &container.Config{
		Image:      spec.Image,
		Entrypoint: entrypoint,
		Cmd:        cmd,
		Env:        slices.Clone(spec.Env),
		WorkingDir: spec.WorkingDir,
		Labels: withDriverLabels(spec.Labels, d.cfg.NodeName, roleContainer, map[string]string{
			LabelSandbox: spec.SandboxID, LabelName: spec.Name,
		}),
	}
	host := &container.HostConfig{
		NetworkMode:   container.NetworkMode("container:" + spec.SandboxID),
		IpcMode:       container.IpcMode("container:" + spec.SandboxID),
		RestartPolicy: container.RestartPolicy{Name: container.RestartPolicyDisabled},
		LogConfig:     logConfig(spec.LogMaxBytes),
		Resources:     res,
		Mounts:        ms,
	}
	if !d.cfg.DisableInit {
		init := true
		host.Init = &init
	}
	created, err := d.cli.ContainerCreate(ctx, client.ContainerCreateOptions{
		Config: cfg, HostConfig: host, Name: containerName(append(podNameParts(infra.Name, spec.SandboxID), spec.Name)...),
	})
	if err != nil {
		return "", d.apiError(err, "create container %q", spec.Name)
	}
	id := created.ID
	if _, err := d.cli.ContainerStart(ctx, id, client.ContainerStartOptions{}); err != nil {
		// Docker keeps the container, "created" with the error: it is
		// reported exited.
		return id, d.apiError(err, "start container %q", spec.Name)
	}
	d.log.Debug("container started", "container", id, "name", spec.Name, "sandbox", spec.SandboxID)
	return id, nil
}

// get inspects this node's app container id.
func (d *Driver) get(ctx context.Context, id string) (container.InspectResponse, error) {
	if id == "" {
		return container.InspectResponse{}, notFound("container", id)
	}
	res, err := d.cli.ContainerInspect(ctx, id, client.ContainerInspectOptions{})
	if isNotFound(err) {
		return container.InspectResponse{}, notFound("container", id)
	}
	if err != nil {
		return container.InspectResponse{}, d.apiError(err, "inspect container %s", id)
	}
	c := res.Container
	if c.ID != id || c.Config == nil || !owned(c.Config.Labels, d.cfg.NodeName, roleContainer) {
		return container.InspectResponse{}, notFound("container", id)
	}
	return c, nil
}

// running reports whether an inspected container runs.
func running(c container.InspectResponse) bool {
	return c.State != nil && (c.State.Running || c.State.Restarting)
}

// Stop sends the container's stop signal (its image's STOPSIGNAL, else
// SIGTERM) to its PID 1 (docker-init, which passes it on to the command),
// waits up to grace, then kills it (at once for a grace <= 0), and waits
// for its exit. Stopping an exited container does nothing.
func (d *Driver) Stop(ctx context.Context, id string, grace time.Duration) error {
	ctx, done, err := d.op(ctx)
	if err != nil {
		return err
	}
	defer done()
	c, err := d.get(ctx, id)
	if err != nil {
		return err
	}
	if !running(c) {
		return nil
	}
	if grace <= 0 {
		return d.kill(ctx, id)
	}
	sig := "SIGTERM"
	if c.Config.StopSignal != "" {
		sig = c.Config.StopSignal
	}
	if err := d.signal(ctx, id, sig); err != nil {
		return err
	}
	wctx, cancel := context.WithTimeout(ctx, grace)
	err = d.waitExit(wctx, id)
	cancel()
	if err == nil || ctx.Err() != nil {
		return err
	}
	if !errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	return d.kill(ctx, id)
}

// signal sends sig to a container; one that is not running is fine.
func (d *Driver) signal(ctx context.Context, id, sig string) error {
	_, err := d.cli.ContainerKill(ctx, id, client.ContainerKillOptions{Signal: sig})
	if err != nil && !isConflict(err) {
		return d.apiError(err, "signal container %s (%s)", id, sig)
	}
	return nil
}

// kill sends SIGKILL to a container and waits for its exit.
func (d *Driver) kill(ctx context.Context, id string) error {
	if err := d.signal(ctx, id, "SIGKILL"); err != nil {
		return err
	}
	return d.waitExit(ctx, id)
}

// waitExit waits until the container does not run (ctx's error when it
// is done first).
func (d *Driver) waitExit(ctx context.Context, id string) error {
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	w := d.cli.ContainerWait(wctx, id, client.ContainerWaitOptions{Condition: container.WaitConditionNotRunning})
	select {
	case <-w.Result:
		return nil
	case err := <-w.Error:
		if cerr := ctx.Err(); cerr != nil {
			return cerr
		}
		return d.apiError(err, "wait for container %s", id)
	case <-ctx.Done():
		cancel()
		// The client's goroutine ends by sending on one of the channels
		// (Result is unbuffered): receive it, so that it does not leak.
		go func() {
			select {
			case <-w.Result:
			case <-w.Error:
			}
		}()
		return ctx.Err()
	}
}

// Inspect returns the container's status.
func (d *Driver) Inspect(ctx context.Context, id string) (runtime.ContainerStatus, error) {
	ctx, done, err := d.op(ctx)
	if err != nil {
		return runtime.ContainerStatus{}, err
	}
	defer done()
	c, err := d.get(ctx, id)
	if err != nil {
		return runtime.ContainerStatus{}, err
	}
	return statusOf(c), nil
}

// Wait blocks until the container has exited (or ctx is done) and returns
// its final status.
func (d *Driver) Wait(ctx context.Context, id string) (runtime.ContainerStatus, error) {
	ctx, done, err := d.op(ctx)
	if err != nil {
		return runtime.ContainerStatus{}, err
	}
	defer done()
	if _, err := d.get(ctx, id); err != nil {
		return runtime.ContainerStatus{}, err
	}
	if err := d.waitExit(ctx, id); err != nil {
		return runtime.ContainerStatus{}, d.closedOr(err)
	}
	c, err := d.get(ctx, id)
	if err != nil {
		return runtime.ContainerStatus{}, err
	}
	return statusOf(c), nil
}

// closedOr returns errClosed for an error caused by Close, else err.
func (d *Driver) closedOr(err error) error {
	if d.ctx.Err() != nil && errors.Is(err, context.Canceled) {
		return errClosed
	}
	return err
}

// Remove deletes the container (killing it if it runs), its logs and its
// anonymous volumes.
func (d *Driver) Remove(ctx context.Context, id string) error {
	ctx, done, err := d.op(ctx)
	if err != nil {
		return err
	}
	defer done()
	if _, err := d.get(ctx, id); err != nil {
		return err
	}
	return d.remove(ctx, id)
}

// remove force-removes a container.
func (d *Driver) remove(ctx context.Context, id string) error {
	_, err := d.cli.ContainerRemove(ctx, id, client.ContainerRemoveOptions{Force: true, RemoveVolumes: true})
	if isNotFound(err) {
		return notFound("container", id)
	}
	return d.apiError(err, "remove container %s", id)
}

// ListContainers lists this node's app containers (every state), oldest
// first.
func (d *Driver) ListContainers(ctx context.Context) ([]runtime.ContainerStatus, error) {
	ctx, done, err := d.op(ctx)
	if err != nil {
		return nil, err
	}
	defer done()
	found, err := d.inspectAll(ctx, listFilters(d.cfg.NodeName, roleContainer, ""))
	if err != nil {
		return nil, err
	}
	out := make([]runtime.ContainerStatus, 0, len(found))
	for _, c := range found {
		out = append(out, statusOf(c))
	}
	slices.SortFunc(out, func(a, b runtime.ContainerStatus) int {
		if c := a.CreatedAt.Compare(b.CreatedAt); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
	return out, nil
}
