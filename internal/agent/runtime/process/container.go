package process

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/berth-dev/berth/internal/agent/runtime"
	"golang.org/x/sys/unix"
)

type container struct {
	id, dir string
	// persistMu serialises writes of the record file.
	persistMu sync.Mutex
	// logMu is held exclusively while the log rotates, shared while a
	// reader opens the log files.
	logMu sync.RWMutex

	// Guarded by Driver.mu:
	rec containerRecord
	// child says that this driver started the process, so it is a child
	// of this process until the monitor reaps it.
	child bool

	// exited is closed once the exit is recorded, logDone once the output
	// is all in the log (before exited).
	exited, logDone chan struct{}
	// pump copies output into the log; the monitor owns it while the
	// container runs.
	pump *logPump
}

func newContainer(dir string, rec containerRecord) *container {
	return &container{
		id:      rec.Status.ID,
		dir:     dir,
		rec:     rec,
		exited:  make(chan struct{}),
		logDone: make(chan struct{}),
	}
}

// persist writes the container's record.
func (d *Driver) persist(c *container) {
	c.persistMu.Lock()
	defer c.persistMu.Unlock()
	d.mu.Lock()
	rec := c.rec
	d.mu.Unlock()
	if err := writeJSON(filepath.Join(c.dir, recordFile), rec); err != nil {
		d.log.Error("cannot persist container record", "container", c.id, "err", err)
	}
}

func (d *Driver) get(id string) (*container, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	c, ok := d.containers[id]
	if !ok {
		return nil, notFound("container", id)
	}
	return c, nil
}

func cloneStatus(s runtime.ContainerStatus) runtime.ContainerStatus {
	s.Labels = maps.Clone(s.Labels)
	return s
}

func cloneSpec(s runtime.ContainerSpec) runtime.ContainerSpec {
	s.Command, s.Args, s.Env, s.Mounts = slices.Clone(s.Command), slices.Clone(s.Args), slices.Clone(s.Env), slices.Clone(s.Mounts)
	s.Labels = maps.Clone(s.Labels)
	return s
}

// CreateAndStart starts Command+Args as a process in its own process
// group, with exactly spec.Env, in spec.WorkingDir (default: a directory
// of its own under the state directory), in the sandbox's network
// namespace and in a cgroup of its own. The image is ignored; a container
// without a command fails with runtime.ErrNoCommand. A process that
// cannot be started leaves an exited container (code 128, the error as
// its message) whose ID is returned with the error.
func (d *Driver) CreateAndStart(ctx context.Context, spec runtime.ContainerSpec) (string, error) {
	argv := append(slices.Clone(spec.Command), spec.Args...)
	if len(argv) == 0 {
		return "", fmt.Errorf("process: container %q: %w: the process driver runs no images (image %q is ignored), so the container must set command",
			spec.Name, runtime.ErrNoCommand, spec.Image)
	}
	if d.closed() {
		return "", errClosed
	}
	sb, err := d.getSandbox(spec.SandboxID)
	if err != nil {
		return "", err
	}
	sb.ops.RLock()
	defer sb.ops.RUnlock()
	d.mu.Lock()
	sbrec := sb.rec
	_, exists := d.sandboxes[sb.id]
	d.mu.Unlock()
	if !exists {
		return "", notFound("sandbox", spec.SandboxID)
	}
	if sbrec.Stopped {
		return "", fmt.Errorf("process: sandbox %s is stopped", sb.id)
	}

	id := newID()
	dir := filepath.Join(d.cfg.StateDir, containersDir, id)
	spec = cloneSpec(spec)
	if spec.LogMaxBytes <= 0 {
		spec.LogMaxBytes = DefaultLogMaxBytes
	}
	workDir := spec.WorkingDir
	if workDir == "" {
		workDir = filepath.Join(dir, workDirName)
	}
	c := newContainer(dir, containerRecord{
		Status: runtime.ContainerStatus{
			ID: id, SandboxID: sb.id, Name: spec.Name, State: runtime.StateCreated, CreatedAt: time.Now(),
			Labels: maps.Clone(spec.Labels),
		},
		Spec:    spec,
		WorkDir: workDir,
	})
	if err := os.MkdirAll(filepath.Join(dir, workDirName), 0o755); err != nil {
		return "", fmt.Errorf("process: create container %s: %w", spec.Name, err)
	}
	pump, err := openPump(dir, spec.LogMaxBytes, &c.logMu)
	if err != nil {
		_ = os.RemoveAll(dir)
		return "", fmt.Errorf("process: create container %s: %w", spec.Name, err)
	}
	c.pump = pump
	d.mu.Lock()
	d.containers[id] = c
	d.mu.Unlock()
	// The record is first written once the process runs: one file
	// creation per start, not two and a deletion (on ext4 every creation
	// costs, more so after deletions). A driver that stops in between
	// leaves a directory without a record, which the next one removes.
	p, err := d.startContainer(ctx, c, argv, sbrec.Sandbox.NetNS)
	if err != nil {
		err = fmt.Errorf("process: start container %s: %w", spec.Name, err)
		d.finishStart(c, err)
		return id, err
	}
	d.mu.Lock()
	c.rec.Status.State, c.rec.Status.PID, c.rec.Status.StartedAt = runtime.StateRunning, p.pid, p.started
	c.rec.StartTime, c.rec.CgroupPath, c.child = p.startTime, p.cgroup, true
	d.mu.Unlock()
	d.persist(c)
	d.nudge()
	d.log.Debug("container started", "container", id, "name", spec.Name, "sandbox", sb.id, "pid", p.pid)
	return id, nil
}

// finishStart records a failed start.
func (d *Driver) finishStart(c *container, err error) {
	if c.pump != nil {
		c.pump.drain()
		c.pump.close(true)
		c.pump = nil
	}
	now := time.Now()
	d.mu.Lock()
	s := &c.rec.Status
	s.State, s.PID, s.ExitCode, s.Reason, s.Message = runtime.StateExited, 0, 128, "Error", err.Error()
	if s.StartedAt.IsZero() {
		s.StartedAt = now
	}
	s.FinishedAt = now
	d.mu.Unlock()
	d.persist(c)
	close(c.logDone)
	close(c.exited)
}

// finish records the exit of a container's process: it kills what is
// left of its process group, copies the rest of its output into the log
// and tells the reason (OOMKilled when its cgroup says so).
func (d *Driver) finish(c *container, ex exitStatus) {
	d.mu.Lock()
	pid, startTime, cg, killed := c.rec.Status.PID, c.rec.StartTime, c.rec.CgroupPath, c.rec.Killed
	d.mu.Unlock()
	killLeftovers(pid, startTime)
	if c.pump != nil {
		c.pump.drain()
		c.pump.close(true)
		c.pump = nil
	}
	code, message := ex.code, ""
	switch {
	case ex.known && ex.signal != 0:
		message = "killed by signal " + unix.SignalName(ex.signal)
	case !ex.known && killed:
		code, message = 128+int(unix.SIGKILL), "killed by the driver (SIGKILL); the process was adopted, its exit status is unknown"
	case !ex.known:
		code, message = ExitUnknown, "exit status unknown: the process ended while the driver was not its parent"
	}
	reason := "Completed"
	if code != 0 {
		reason = "Error"
	}
	if cg != "" && d.cfg.Cgroups != nil {
		if oom, err := d.cfg.Cgroups.OOMKilled(cg); err != nil {
			d.log.Warn("cannot read the OOM state of a container's cgroup", "container", c.id, "cgroup", cg, "err", err)
		} else if oom {
			reason = "OOMKilled"
		}
	}
	d.mu.Lock()
	s := &c.rec.Status
	s.State, s.PID, s.ExitCode, s.Reason, s.Message, s.FinishedAt = runtime.StateExited, 0, code, reason, message, time.Now()
	d.mu.Unlock()
	d.persist(c)
	close(c.logDone)
	close(c.exited)
	d.log.Debug("container exited", "container", c.id, "name", s.Name, "code", code, "reason", reason)
}

// Stop sends SIGTERM to the container's process group, waits up to grace
// and then sends SIGKILL (at once when grace <= 0), and waits for the
// exit. Stopping an exited container does nothing.
func (d *Driver) Stop(ctx context.Context, id string, grace time.Duration) error {
	c, err := d.get(id)
	if err != nil {
		return err
	}
	if grace <= 0 {
		return d.kill(ctx, c)
	}
	if err := d.signal(c, unix.SIGTERM); err != nil {
		return err
	}
	t := time.NewTimer(grace)
	defer t.Stop()
	select {
	case <-c.exited:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-d.stop:
		return errClosed
	case <-t.C:
	}
	return d.kill(ctx, c)
}

// kill sends SIGKILL to a running container and waits for its exit.
func (d *Driver) kill(ctx context.Context, c *container) error {
	if err := d.signal(c, unix.SIGKILL); err != nil {
		return err
	}
	select {
	case <-c.exited:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-d.stop:
		return errClosed
	}
}

// signal signals a running container's process group.
func (d *Driver) signal(c *container, sig unix.Signal) error {
	d.mu.Lock()
	running := c.rec.Status.State == runtime.StateRunning
	pid, startTime := c.rec.Status.PID, c.rec.StartTime
	if running && sig == unix.SIGKILL {
		c.rec.Killed = true
	}
	d.mu.Unlock()
	if !running {
		// A container being started is not stopped here; one that failed
		// to start or exited has nothing to stop.
		return nil
	}
	if _, err := signalContainer(pid, startTime, sig); err != nil {
		return err
	}
	d.nudge()
	return nil
}

// Inspect returns the container's status.
func (d *Driver) Inspect(ctx context.Context, id string) (runtime.ContainerStatus, error) {
	if err := ctx.Err(); err != nil {
		return runtime.ContainerStatus{}, err
	}
	c, err := d.get(id)
	if err != nil {
		return runtime.ContainerStatus{}, err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	return cloneStatus(c.rec.Status), nil
}

// Wait blocks until the container has exited.
func (d *Driver) Wait(ctx context.Context, id string) (runtime.ContainerStatus, error) {
	c, err := d.get(id)
	if err != nil {
		return runtime.ContainerStatus{}, err
	}
	select {
	case <-c.exited:
	case <-ctx.Done():
		return runtime.ContainerStatus{}, ctx.Err()
	case <-d.stop:
		return runtime.ContainerStatus{}, errClosed
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	return cloneStatus(c.rec.Status), nil
}

// Remove deletes a container (killing it first if it runs), its cgroup,
// logs and default working directory.
func (d *Driver) Remove(ctx context.Context, id string) error {
	c, err := d.get(id)
	if err != nil {
		return err
	}
	return d.remove(ctx, c)
}

func (d *Driver) remove(ctx context.Context, c *container) error {
	d.mu.Lock()
	state, cg := c.rec.Status.State, c.rec.CgroupPath
	d.mu.Unlock()
	if state == runtime.StateCreated {
		return fmt.Errorf("process: container %s is still being started", c.id)
	}
	if err := d.kill(ctx, c); err != nil {
		return err
	}
	if cg != "" && d.cfg.Cgroups != nil {
		if err := d.cfg.Cgroups.Delete(cg); err != nil {
			d.log.Warn("cannot delete a container's cgroup", "container", c.id, "cgroup", cg, "err", err)
		}
	}
	d.mu.Lock()
	_, ok := d.containers[c.id]
	delete(d.containers, c.id)
	d.mu.Unlock()
	if !ok {
		return notFound("container", c.id)
	}
	c.persistMu.Lock() // no record write may follow the removal
	defer c.persistMu.Unlock()
	if err := os.RemoveAll(c.dir); err != nil {
		return fmt.Errorf("process: remove container %s: %w", c.id, err)
	}
	return nil
}

// ListContainers lists every container, oldest first.
func (d *Driver) ListContainers(ctx context.Context) ([]runtime.ContainerStatus, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	out := make([]runtime.ContainerStatus, 0, len(d.containers))
	for _, c := range d.containers {
		out = append(out, cloneStatus(c.rec.Status))
	}
	slices.SortFunc(out, func(a, b runtime.ContainerStatus) int {
		if c := a.CreatedAt.Compare(b.CreatedAt); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
	return out, nil
}

// errNotRunning is returned by Exec for containers that do not run.
var errNotRunning = errors.New("container is not running")
