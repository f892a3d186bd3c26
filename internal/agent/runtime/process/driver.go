package process

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"maps"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"sync"
	"syscall"
	"time"

	"github.com/berth-dev/berth/internal/agent/runtime"
)

// Defaults of Config.
const (
	// DefaultStateDir is where the driver keeps its records and logs.
	DefaultStateDir = "/var/lib/berth/agent/process"
	// DefaultPollInterval is how often processes the driver did not
	// start are checked and output is logged.
	DefaultPollInterval = 50 * time.Millisecond
	// DefaultLogMaxBytes is the size beyond which a container's log
	// rotates.
	DefaultLogMaxBytes = 10 << 20
	// InitCommand is the hidden subcommand of the berth binary that runs
	// InitMain.
	InitCommand = "__container-init"
)

// ExitUnknown is the exit code reported when the process ended while no
// driver of this agent process was its parent, so its real status is lost.
const ExitUnknown = 255

// Config configures New.
type Config struct {
	// StateDir holds the driver's records, logs and default working
	// directories (default DefaultStateDir). A new driver on the same
	// directory takes over the sandboxes and containers recorded there.
	StateDir string
	// Network isolates pods; nil runs every pod in the host's network.
	Network Network
	// Cgroups confines containers; nil runs them without cgroups (stats
	// then come from /proc).
	Cgroups CgroupManager
	// NamespaceDirs are directories of namespace bind mounts on the host
	// (the Network's network namespace files). A container's own mount
	// namespace copies them, and the copies would keep the namespaces of
	// pods deleted later alive as long as the container runs: the driver
	// unmounts them there NamespacePruneDelay after the start.
	NamespaceDirs []string
	// NamespacePruneDelay is how long after a container's start its
	// copies of NamespaceDirs go (default DefaultNamespacePruneDelay).
	NamespacePruneDelay time.Duration
	// InitBinary is the command that runs InitMain, used to start
	// containers with mounts in their own mount namespace (default
	// ["/proc/self/exe", InitCommand]).
	InitBinary []string
	// PollInterval is how often the driver checks processes it did not
	// start and copies output into the logs (default 50ms).
	PollInterval time.Duration
	// Logger receives logs (default slog.Default).
	Logger *slog.Logger
}

// Driver runs pods as plain processes. It implements runtime.Driver,
// runtime.Execer and runtime.StatsReader.
type Driver struct {
	cfg Config
	log *slog.Logger
	// canMount: the driver may create mount namespaces (root).
	canMount bool
	// mountNS: with canMount, the driver makes containers' mount
	// namespaces on a thread of its own rather than through the init
	// binary.
	mountNS bool

	// stop is closed by Close; monitorDone when the monitor returned.
	stop, monitorDone chan struct{}
	// prepare tracks the network's background preparation.
	prepare sync.WaitGroup
	// pruneQ feeds pruneLoop (nil without NamespaceDirs or root);
	// pruneDone is closed when it returned.
	pruneQ    chan pruneJob
	pruneDone chan struct{}
	closeOnce sync.Once
	// wake nudges the monitor.
	wake  chan struct{}
	sigch chan os.Signal

	mu         sync.Mutex
	sandboxes  map[string]*sandbox
	containers map[string]*container
}

// Interface checks.
var (
	_ runtime.Driver      = (*Driver)(nil)
	_ runtime.Execer      = (*Driver)(nil)
	_ runtime.StatsReader = (*Driver)(nil)
)

type sandbox struct {
	id string
	// ops is held shared while containers start in the sandbox and
	// exclusively while it is stopped or removed.
	ops sync.RWMutex
	// rec is guarded by Driver.mu.
	rec sandboxRecord
}

// New returns a driver on cfg.StateDir, taking over the sandboxes and
// containers recorded there: running processes are adopted (after
// checking their identity), the others are reported as exited.
func New(cfg Config) (*Driver, error) {
	if cfg.StateDir == "" {
		cfg.StateDir = DefaultStateDir
	}
	if len(cfg.InitBinary) == 0 {
		cfg.InitBinary = []string{"/proc/self/exe", InitCommand}
	}
	if cfg.PollInterval <= 0 {
		cfg.PollInterval = DefaultPollInterval
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	for _, dir := range []string{cfg.StateDir, filepath.Join(cfg.StateDir, sandboxesDir), filepath.Join(cfg.StateDir, containersDir)} {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return nil, fmt.Errorf("process: create state directory: %w", err)
		}
	}
	d := &Driver{
		cfg:         cfg,
		log:         cfg.Logger.With("component", "process-driver"),
		canMount:    os.Geteuid() == 0,
		stop:        make(chan struct{}),
		monitorDone: make(chan struct{}),
		wake:        make(chan struct{}, 1),
		sigch:       make(chan os.Signal, 1),
		sandboxes:   map[string]*sandbox{},
		containers:  map[string]*container{},
	}
	if d.canMount {
		if err := probeMountNS(); err != nil {
			d.log.Info("containers with mounts start through the init binary", "reason", err)
		} else {
			d.mountNS = true
		}
	}
	if err := d.load(); err != nil {
		return nil, err
	}
	signal.Notify(d.sigch, syscall.SIGCHLD)
	go d.monitor()
	if d.canMount && len(cfg.NamespaceDirs) > 0 {
		if d.cfg.NamespacePruneDelay <= 0 {
			d.cfg.NamespacePruneDelay = DefaultNamespacePruneDelay
		}
		d.pruneQ, d.pruneDone = make(chan pruneJob, 1024), make(chan struct{})
		go d.pruneLoop()
	}
	if p, ok := cfg.Network.(preparer); ok {
		d.prepare.Go(func() { d.prepareNetwork(p) })
	}
	return d, nil
}

// preparer is a Network that can do its one-time set-up ahead of the
// first sandbox (network.CNI: plugin versions, the node's masquerade
// rule).
type preparer interface {
	Prepare(ctx context.Context) error
}

// prepareNetwork runs the network's one-time set-up in the background, so
// that the first pods do not wait for it; Close cancels it and waits for
// it. A failure is only logged: the first Setup tries again and reports
// it.
func (d *Driver) prepareNetwork(p preparer) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		select {
		case <-d.stop:
			cancel()
		case <-ctx.Done():
		}
	}()
	if err := p.Prepare(ctx); err != nil && !d.closed() {
		d.log.Warn("preparing the pod network failed; the first pod's setup tries again", "err", err)
	}
}

// Name returns "process".
func (d *Driver) Name() string { return "process" }

// Close stops the driver's background work; containers keep running (a
// new driver on the same state directory adopts them). Later calls fail.
func (d *Driver) Close() error {
	d.closeOnce.Do(func() {
		signal.Stop(d.sigch)
		close(d.stop)
		<-d.monitorDone
		if d.pruneDone != nil {
			<-d.pruneDone
		}
		d.prepare.Wait()
	})
	return nil
}

var errClosed = errors.New("process: driver closed")

func (d *Driver) closed() bool {
	select {
	case <-d.stop:
		return true
	default:
		return false
	}
}

// nudge wakes the monitor.
func (d *Driver) nudge() {
	select {
	case d.wake <- struct{}{}:
	default:
	}
}

func notFound(kind, id string) error {
	return fmt.Errorf("process: %s %q: %w", kind, id, runtime.ErrNotFound)
}

// load reads the state directory.
func (d *Driver) load() error {
	files, err := filepath.Glob(filepath.Join(d.cfg.StateDir, sandboxesDir, "*.json"))
	if err != nil {
		return fmt.Errorf("process: list sandboxes: %w", err)
	}
	for _, f := range files {
		var rec sandboxRecord
		if err := readJSON(f, &rec); err != nil {
			d.log.Warn("skipping unreadable sandbox record", "file", f, "err", err)
			continue
		}
		d.sandboxes[rec.Sandbox.ID] = &sandbox{id: rec.Sandbox.ID, rec: rec}
	}
	dirs, err := os.ReadDir(filepath.Join(d.cfg.StateDir, containersDir))
	if err != nil {
		return fmt.Errorf("process: list containers: %w", err)
	}
	for _, e := range dirs {
		if !e.IsDir() {
			continue
		}
		dir := filepath.Join(d.cfg.StateDir, containersDir, e.Name())
		var rec containerRecord
		if err := readJSON(filepath.Join(dir, recordFile), &rec); errors.Is(err, fs.ErrNotExist) {
			// The driver stopped before the process ran or was recorded.
			d.log.Warn("removing a container whose start was interrupted", "dir", dir)
			if err := os.RemoveAll(dir); err != nil {
				d.log.Warn("cannot remove the directory of an interrupted container", "dir", dir, "err", err)
			}
			continue
		} else if err != nil {
			d.log.Warn("skipping unreadable container record", "dir", dir, "err", err)
			continue
		}
		c := newContainer(dir, rec)
		d.containers[c.id] = c
		switch rec.Status.State {
		case runtime.StateExited:
			close(c.exited)
			close(c.logDone)
		case runtime.StateRunning:
			if err := d.adopt(c); err != nil {
				return err
			}
		default: // the driver stopped in the middle of the start
			d.finishStart(c, errors.New("the driver stopped while starting the container"))
		}
	}
	return nil
}

// adopt takes over a container recorded as running.
func (d *Driver) adopt(c *container) error {
	pump, err := openPump(c.dir, c.rec.Spec.LogMaxBytes, &c.logMu)
	if err != nil {
		return fmt.Errorf("process: adopt container %s: %w", c.id, err)
	}
	c.pump = pump
	if alive(c.rec.Status.PID, c.rec.StartTime) {
		d.log.Info("adopted running container", "container", c.id, "name", c.rec.Status.Name, "pid", c.rec.Status.PID)
		return nil
	}
	d.finish(c, exitStatus{})
	return nil
}

// RunSandbox creates a sandbox: with Config.Network and without
// spec.HostNetwork, a network namespace and IP from Network.Setup;
// otherwise the host's network.
func (d *Driver) RunSandbox(ctx context.Context, spec runtime.SandboxSpec) (runtime.Sandbox, error) {
	if d.closed() {
		return runtime.Sandbox{}, errClosed
	}
	spec.Labels = maps.Clone(spec.Labels)
	sb := runtime.Sandbox{ID: newID(), Labels: maps.Clone(spec.Labels), CreatedAt: time.Now(), HostNetwork: true}
	if !spec.HostNetwork && d.cfg.Network != nil {
		netns, ip, err := d.cfg.Network.Setup(ctx, sb.ID)
		if err != nil {
			return runtime.Sandbox{}, fmt.Errorf("process: set up the network of pod %s/%s: %w", spec.Namespace, spec.Name, err)
		}
		sb.NetNS, sb.IP, sb.HostNetwork = netns, ip, false
	}
	rec := sandboxRecord{Sandbox: sb, Spec: spec, NetworkReleased: sb.HostNetwork}
	if err := writeJSON(d.sandboxFile(sb.ID), rec); err != nil {
		if !sb.HostNetwork {
			if terr := d.cfg.Network.Teardown(context.WithoutCancel(ctx), sb.ID, sb.NetNS); terr != nil {
				d.log.Warn("cannot tear down the network of a failed sandbox", "sandbox", sb.ID, "err", terr)
			}
		}
		return runtime.Sandbox{}, err
	}
	d.mu.Lock()
	d.sandboxes[sb.ID] = &sandbox{id: sb.ID, rec: rec}
	d.mu.Unlock()
	d.log.Debug("sandbox created", "sandbox", sb.ID, "pod", spec.Namespace+"/"+spec.Name, "ip", sb.IP, "netns", sb.NetNS)
	return cloneSandbox(sb), nil
}

func (d *Driver) sandboxFile(id string) string {
	return filepath.Join(d.cfg.StateDir, sandboxesDir, id+".json")
}

func cloneSandbox(sb runtime.Sandbox) runtime.Sandbox {
	sb.Labels = maps.Clone(sb.Labels)
	return sb
}

func (d *Driver) getSandbox(id string) (*sandbox, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	sb, ok := d.sandboxes[id]
	if !ok {
		return nil, notFound("sandbox", id)
	}
	return sb, nil
}

// StopSandbox kills the sandbox's containers (SIGKILL to their process
// groups), waits for them and tears down its network.
func (d *Driver) StopSandbox(ctx context.Context, id string) error {
	sb, err := d.getSandbox(id)
	if err != nil {
		return err
	}
	sb.ops.Lock()
	defer sb.ops.Unlock()
	return d.stopSandbox(ctx, sb)
}

// stopSandbox does StopSandbox's work with sb.ops held.
func (d *Driver) stopSandbox(ctx context.Context, sb *sandbox) error {
	for _, c := range d.sandboxContainers(sb.id) {
		if err := d.kill(ctx, c); err != nil {
			return err
		}
	}
	d.mu.Lock()
	rec := sb.rec
	d.mu.Unlock()
	if !rec.NetworkReleased && d.cfg.Network != nil {
		if err := d.cfg.Network.Teardown(ctx, sb.id, rec.Sandbox.NetNS); err != nil {
			return fmt.Errorf("process: tear down the network of sandbox %s: %w", sb.id, err)
		}
	}
	if rec.Stopped && rec.NetworkReleased {
		return nil
	}
	d.mu.Lock()
	sb.rec.Stopped, sb.rec.NetworkReleased = true, true
	rec = sb.rec
	d.mu.Unlock()
	return writeJSON(d.sandboxFile(sb.id), rec)
}

// sandboxContainers lists the sandbox's containers.
func (d *Driver) sandboxContainers(id string) []*container {
	d.mu.Lock()
	defer d.mu.Unlock()
	var out []*container
	for _, c := range d.containers {
		if c.rec.Status.SandboxID == id {
			out = append(out, c)
		}
	}
	return out
}

// RemoveSandbox stops the sandbox if needed and removes it with its
// containers.
func (d *Driver) RemoveSandbox(ctx context.Context, id string) error {
	sb, err := d.getSandbox(id)
	if err != nil {
		return err
	}
	sb.ops.Lock()
	defer sb.ops.Unlock()
	if err := d.stopSandbox(ctx, sb); err != nil {
		return err
	}
	for _, c := range d.sandboxContainers(id) {
		if err := d.remove(ctx, c); err != nil {
			return err
		}
	}
	if err := os.Remove(d.sandboxFile(id)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("process: remove sandbox %s: %w", id, err)
	}
	d.mu.Lock()
	delete(d.sandboxes, id)
	d.mu.Unlock()
	return nil
}

// ListSandboxes lists the sandboxes, oldest first.
func (d *Driver) ListSandboxes(ctx context.Context) ([]runtime.Sandbox, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	out := make([]runtime.Sandbox, 0, len(d.sandboxes))
	for _, sb := range d.sandboxes {
		out = append(out, cloneSandbox(sb.rec.Sandbox))
	}
	slices.SortFunc(out, func(a, b runtime.Sandbox) int { return a.CreatedAt.Compare(b.CreatedAt) })
	return out, nil
}
