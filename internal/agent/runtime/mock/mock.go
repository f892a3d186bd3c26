package mock

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/berth-dev/berth/internal/agent/runtime"
)

// Environment variables a container's spec can set to control the mock.
const (
	// EnvExitAfter makes the container exit after this duration
	// (time.ParseDuration syntax) unless it ended before.
	EnvExitAfter = "MOCK_EXIT_AFTER"
	// EnvExitCode is the exit code used with EnvExitAfter (default 0).
	EnvExitCode = "MOCK_EXIT_CODE"
	// EnvMemoryBytes is the memory working set the stats report.
	EnvMemoryBytes = "MOCK_MEMORY_BYTES"
)

// Exit codes and reasons the mock reports.
const (
	// ExitTERM is the code of a container ended by SIGTERM (128+15).
	ExitTERM = 143
	// ExitKILL is the code of a killed container (128+9).
	ExitKILL = 137
	// ExitStartFailure is the code of a container whose start failed.
	ExitStartFailure = 128
	// ExitSyntax is the code of a script the mock cannot parse.
	ExitSyntax = 2
)

// ExecHandler replaces the mock's Exec; c is the container's status.
type ExecHandler func(ctx context.Context, c runtime.ContainerStatus, cmd []string, stdin io.Reader, stdout, stderr io.Writer) (int, error)

// Driver is an in-memory runtime driver. The zero value is not usable;
// call New.
type Driver struct {
	// wg tracks the containers' program goroutines.
	wg sync.WaitGroup

	mu            sync.Mutex
	closed        bool
	nextSandbox   int
	nextContainer int
	sandboxes     map[string]*sandbox
	containers    map[string]*container
	// starts counts start attempts by container name; attempts by
	// sandbox ID and name.
	starts   map[string]int
	attempts map[string]int
	// startFailures and callFailures are the injected errors, by
	// container name and by method name.
	startFailures map[string]*failure
	callFailures  map[string]*failure
	execHandler   ExecHandler
}

// Interface checks.
var (
	_ runtime.Driver      = (*Driver)(nil)
	_ runtime.Execer      = (*Driver)(nil)
	_ runtime.StatsReader = (*Driver)(nil)
)

// failure is an injected error for the next n calls (n < 0: every call).
type failure struct {
	n   int
	err error
}

// take consumes one failure; it returns nil when none is left.
func (f *failure) take() error {
	if f == nil || f.n == 0 {
		return nil
	}
	if f.n > 0 {
		f.n--
	}
	return f.err
}

type sandbox struct {
	seq     int
	sb      runtime.Sandbox
	spec    runtime.SandboxSpec
	stopped bool
}

type container struct {
	seq  int
	spec runtime.ContainerSpec
	env  map[string]string
	cwd  string

	// Guarded by Driver.mu:
	status runtime.ContainerStatus
	logs   []logLine
	// pending holds unterminated output by stream.
	pending [3]string
	// changed is closed and replaced whenever logs or status change.
	changed chan struct{}
	stats   *runtime.Stats
	// kill is why the container must end (set once, then killCh closes).
	kill *exitInfo

	// termCh is closed by Stop (SIGTERM), killCh once kill is set, done
	// when the container has exited, settled once the program blocked or
	// ended for the first time.
	termCh, killCh, done, settled chan struct{}
	termOnce, settleOnce          sync.Once
}

// logLine is one line of output.
type logLine struct {
	t      time.Time
	stream int
	text   string
}

// New returns an empty mock driver.
func New() *Driver {
	return &Driver{
		sandboxes:     map[string]*sandbox{},
		containers:    map[string]*container{},
		starts:        map[string]int{},
		attempts:      map[string]int{},
		startFailures: map[string]*failure{},
		callFailures:  map[string]*failure{},
	}
}

// Name returns "mock".
func (d *Driver) Name() string { return "mock" }

// Close kills every running container and waits for their goroutines.
// Later calls fail.
func (d *Driver) Close() error {
	d.mu.Lock()
	d.closed = true
	for _, c := range d.containers {
		d.terminateLocked(c, exitInfo{code: ExitKILL, reason: "Error", message: "driver closed"})
	}
	d.mu.Unlock()
	d.wg.Wait()
	return nil
}

func notFound(kind, id string) error {
	return fmt.Errorf("mock: %s %q: %w", kind, id, runtime.ErrNotFound)
}

var errClosed = errors.New("mock: driver closed")

// injected returns the injected error for method, if any.
func (d *Driver) injected(method string) error {
	if err := d.callFailures[method].take(); err != nil {
		return fmt.Errorf("mock: %s: %w", method, err)
	}
	return nil
}

// RunSandbox creates a sandbox. Its IP is 10.88.x.y (none with host
// networking) and its NetNS a made-up path.
func (d *Driver) RunSandbox(ctx context.Context, spec runtime.SandboxSpec) (runtime.Sandbox, error) {
	if err := ctx.Err(); err != nil {
		return runtime.Sandbox{}, err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return runtime.Sandbox{}, errClosed
	}
	if err := d.injected("RunSandbox"); err != nil {
		return runtime.Sandbox{}, err
	}
	d.nextSandbox++
	n := d.nextSandbox
	sb := runtime.Sandbox{
		ID:          fmt.Sprintf("mock-sandbox-%d", n),
		HostNetwork: spec.HostNetwork,
		Labels:      maps.Clone(spec.Labels),
		CreatedAt:   time.Now(),
	}
	if !spec.HostNetwork {
		sb.IP = fmt.Sprintf("10.88.%d.%d", n/250, n%250+2)
		sb.NetNS = "/run/netns/" + sb.ID
	}
	spec.Labels = maps.Clone(spec.Labels)
	d.sandboxes[sb.ID] = &sandbox{seq: n, sb: sb, spec: spec}
	return cloneSandbox(sb), nil
}

func cloneSandbox(sb runtime.Sandbox) runtime.Sandbox {
	sb.Labels = maps.Clone(sb.Labels)
	return sb
}

// StopSandbox kills the sandbox's running containers (exit code 137).
func (d *Driver) StopSandbox(ctx context.Context, id string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	d.mu.Lock()
	sb, ok := d.sandboxes[id]
	if !ok {
		d.mu.Unlock()
		return notFound("sandbox", id)
	}
	if err := d.injected("StopSandbox"); err != nil {
		d.mu.Unlock()
		return err
	}
	sb.stopped = true
	var wait []*container
	for _, c := range d.containers {
		if c.spec.SandboxID == id && c.status.State != runtime.StateExited {
			d.terminateLocked(c, exitInfo{code: ExitKILL, reason: "Error", message: "sandbox stopped"})
			wait = append(wait, c)
		}
	}
	d.mu.Unlock()
	return waitAll(ctx, wait)
}

func waitAll(ctx context.Context, cs []*container) error {
	for _, c := range cs {
		select {
		case <-c.done:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

// RemoveSandbox removes a sandbox and its containers (stopping it first
// if needed).
func (d *Driver) RemoveSandbox(ctx context.Context, id string) error {
	d.mu.Lock()
	_, ok := d.sandboxes[id]
	d.mu.Unlock()
	if !ok {
		return notFound("sandbox", id)
	}
	if err := d.StopSandbox(ctx, id); err != nil {
		return err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if err := d.injected("RemoveSandbox"); err != nil {
		return err
	}
	for cid, c := range d.containers {
		if c.spec.SandboxID == id {
			delete(d.containers, cid)
		}
	}
	delete(d.sandboxes, id)
	return nil
}

// ListSandboxes lists the sandboxes in creation order.
func (d *Driver) ListSandboxes(ctx context.Context) ([]runtime.Sandbox, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if err := d.injected("ListSandboxes"); err != nil {
		return nil, err
	}
	sbs := slices.SortedFunc(maps.Values(d.sandboxes), func(a, b *sandbox) int { return a.seq - b.seq })
	out := make([]runtime.Sandbox, 0, len(sbs))
	for _, sb := range sbs {
		out = append(out, cloneSandbox(sb.sb))
	}
	return out, nil
}

// CreateAndStart starts a container. It writes "started <name> attempt N"
// on stdout, then runs the command: an "sh -c" script is interpreted (see
// the package documentation), anything else runs until stopped. It
// returns once the program blocked or ended, so the effects of a script's
// first statements are visible. An injected start failure (FailStarts)
// leaves an exited container (code 128) and returns its ID with the error.
func (d *Driver) CreateAndStart(ctx context.Context, spec runtime.ContainerSpec) (string, error) {
	if err := ctx.Err(); err != nil {
		return "", err
	}
	d.mu.Lock()
	if d.closed {
		d.mu.Unlock()
		return "", errClosed
	}
	sb, ok := d.sandboxes[spec.SandboxID]
	if !ok {
		d.mu.Unlock()
		return "", notFound("sandbox", spec.SandboxID)
	}
	if sb.stopped {
		d.mu.Unlock()
		return "", fmt.Errorf("mock: sandbox %s is stopped", spec.SandboxID)
	}
	if err := d.injected("CreateAndStart"); err != nil {
		d.mu.Unlock()
		return "", err
	}
	spec = cloneSpec(spec)
	d.nextContainer++
	now := time.Now()
	c := &container{
		seq:     d.nextContainer,
		spec:    spec,
		env:     envMap(spec.Env),
		cwd:     spec.WorkingDir,
		changed: make(chan struct{}),
		termCh:  make(chan struct{}),
		killCh:  make(chan struct{}),
		done:    make(chan struct{}),
		settled: make(chan struct{}),
		status: runtime.ContainerStatus{
			ID: fmt.Sprintf("mock-ctr-%d", d.nextContainer), SandboxID: spec.SandboxID, Name: spec.Name,
			State: runtime.StateCreated, CreatedAt: now, Labels: maps.Clone(spec.Labels),
		},
	}
	if c.cwd == "" {
		c.cwd = "/"
	}
	id := c.status.ID
	d.containers[id] = c
	d.starts[spec.Name]++
	key := spec.SandboxID + "/" + spec.Name
	d.attempts[key]++
	attempt := d.attempts[key]
	if err := d.startFailures[spec.Name].take(); err != nil {
		c.status.State, c.status.StartedAt, c.status.FinishedAt = runtime.StateExited, now, now
		c.status.ExitCode, c.status.Reason, c.status.Message = ExitStartFailure, "Error", err.Error()
		close(c.done)
		close(c.settled)
		d.mu.Unlock()
		return id, fmt.Errorf("mock: start container %s: %w", spec.Name, err)
	}
	c.status.State, c.status.StartedAt, c.status.PID = runtime.StateRunning, now, 1000+d.nextContainer
	d.appendLocked(c, streamStdout, fmt.Sprintf("started %s attempt %d\n", spec.Name, attempt))
	prog, perr := program(append(slices.Clone(spec.Command), spec.Args...), c.env)
	exitAfter, exitCode, eerr := exitAfterEnv(c.env)
	d.wg.Add(1)
	d.mu.Unlock()

	go d.runProgram(c, prog, perr, exitAfter, exitCode, eerr)
	select {
	case <-c.settled:
	case <-ctx.Done():
	}
	return id, nil
}

func cloneSpec(s runtime.ContainerSpec) runtime.ContainerSpec {
	s.Command, s.Args, s.Env, s.Mounts = slices.Clone(s.Command), slices.Clone(s.Args), slices.Clone(s.Env), slices.Clone(s.Mounts)
	s.Labels = maps.Clone(s.Labels)
	return s
}

func envMap(env []string) map[string]string {
	m := make(map[string]string, len(env))
	for _, kv := range env {
		k, v, _ := strings.Cut(kv, "=")
		m[k] = v
	}
	return m
}

// program parses the container's command: a script's statements, or a
// program that runs until stopped.
func program(argv []string, env map[string]string) ([]stmt, error) {
	if script, ok := isScript(argv); ok {
		return parseScript(script, env)
	}
	return []stmt{{busy: true}}, nil
}

// exitAfterEnv reads EnvExitAfter and EnvExitCode.
func exitAfterEnv(env map[string]string) (time.Duration, int, error) {
	v, ok := env[EnvExitAfter]
	if !ok {
		return -1, 0, nil
	}
	after, err := time.ParseDuration(v)
	if err != nil {
		return -1, 0, fmt.Errorf("%s=%q: %w", EnvExitAfter, v, err)
	}
	code := 0
	if s, ok := env[EnvExitCode]; ok {
		if code, err = strconv.Atoi(s); err != nil {
			return -1, 0, fmt.Errorf("%s=%q: %w", EnvExitCode, s, err)
		}
	}
	return after, code, nil
}

// runProgram is a container's goroutine: it runs the program and records
// the exit.
func (d *Driver) runProgram(c *container, prog []stmt, perr error, exitAfter time.Duration, exitCode int, eerr error) {
	defer d.wg.Done()
	var exitTimer <-chan time.Time
	if exitAfter >= 0 {
		t := time.NewTimer(exitAfter)
		defer t.Stop()
		exitTimer = t.C
	}
	sh := &shell{
		env: c.spec.Env,
		cwd: c.cwd,
		write: func(stream int, text string) {
			d.mu.Lock()
			d.appendLocked(c, stream, text)
			d.mu.Unlock()
		},
		block: func(dur time.Duration, ignoreTERM bool) (exitInfo, bool) {
			c.settleOnce.Do(func() { close(c.settled) })
			var timer <-chan time.Time
			if dur >= 0 {
				t := time.NewTimer(dur)
				defer t.Stop()
				timer = t.C
			}
			term := c.termCh
			if ignoreTERM {
				term = nil
			}
			select {
			case <-timer:
				return exitInfo{}, true
			case <-c.killCh:
				d.mu.Lock()
				defer d.mu.Unlock()
				return *c.kill, false
			case <-term:
				return exitInfo{code: ExitTERM, message: "terminated by SIGTERM"}, false
			case <-exitTimer:
				return exitInfo{code: exitCode}, false
			}
		},
	}
	var e exitInfo
	switch {
	case perr != nil:
		sh.write(streamStderr, "sh: "+perr.Error()+"\n")
		e = exitInfo{code: ExitSyntax}
	case eerr != nil:
		sh.write(streamStderr, "mock: "+eerr.Error()+"\n")
		e = exitInfo{code: ExitStartFailure}
	default:
		e = sh.run(prog)
	}
	d.mu.Lock()
	// A kill that raced with the program's own end wins.
	if c.kill != nil {
		e = *c.kill
	}
	d.finishLocked(c, e)
	d.mu.Unlock()
	c.settleOnce.Do(func() { close(c.settled) })
}

// finishLocked records the exit.
func (d *Driver) finishLocked(c *container, e exitInfo) {
	for stream, text := range c.pending {
		if text != "" {
			c.logs = append(c.logs, logLine{t: time.Now(), stream: stream, text: text})
			c.pending[stream] = ""
		}
	}
	if e.reason == "" {
		e.reason = "Completed"
		if e.code != 0 {
			e.reason = "Error"
		}
	}
	c.status.State, c.status.FinishedAt, c.status.PID = runtime.StateExited, time.Now(), 0
	c.status.ExitCode, c.status.Reason, c.status.Message = e.code, e.reason, e.message
	close(c.done)
	c.notifyLocked()
}

// appendLocked adds output, splitting it into lines.
func (d *Driver) appendLocked(c *container, stream int, text string) {
	text = c.pending[stream] + text
	now := time.Now()
	for {
		line, rest, ok := strings.Cut(text, "\n")
		if !ok {
			break
		}
		c.logs = append(c.logs, logLine{t: now, stream: stream, text: line})
		text = rest
	}
	c.pending[stream] = text
	c.notifyLocked()
}

func (c *container) notifyLocked() {
	close(c.changed)
	c.changed = make(chan struct{})
}

// terminateLocked makes a running container end with e (the first
// request wins).
func (d *Driver) terminateLocked(c *container, e exitInfo) {
	if c.kill != nil || c.status.State == runtime.StateExited {
		return
	}
	c.kill = &e
	close(c.killCh)
}

func (d *Driver) get(id string) (*container, error) {
	c, ok := d.containers[id]
	if !ok {
		return nil, notFound("container", id)
	}
	return c, nil
}

// Stop delivers SIGTERM: a container that does not ignore it ends with
// 143; otherwise it is killed (137) after grace. With grace <= 0 it is
// killed at once.
func (d *Driver) Stop(ctx context.Context, id string, grace time.Duration) error {
	d.mu.Lock()
	c, err := d.get(id)
	if err == nil {
		err = d.injected("Stop")
	}
	d.mu.Unlock()
	if err != nil {
		return err
	}
	select {
	case <-c.done:
		return nil
	default:
	}
	if grace > 0 {
		c.termOnce.Do(func() { close(c.termCh) })
		t := time.NewTimer(grace)
		defer t.Stop()
		select {
		case <-c.done:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
	d.mu.Lock()
	d.terminateLocked(c, exitInfo{code: ExitKILL, reason: "Error", message: "killed after the grace period"})
	d.mu.Unlock()
	select {
	case <-c.done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Inspect returns the container's status.
func (d *Driver) Inspect(ctx context.Context, id string) (runtime.ContainerStatus, error) {
	if err := ctx.Err(); err != nil {
		return runtime.ContainerStatus{}, err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	c, err := d.get(id)
	if err != nil {
		return runtime.ContainerStatus{}, err
	}
	if err := d.injected("Inspect"); err != nil {
		return runtime.ContainerStatus{}, err
	}
	return cloneStatus(c.status), nil
}

func cloneStatus(s runtime.ContainerStatus) runtime.ContainerStatus {
	s.Labels = maps.Clone(s.Labels)
	return s
}

// Wait blocks until the container has exited.
func (d *Driver) Wait(ctx context.Context, id string) (runtime.ContainerStatus, error) {
	d.mu.Lock()
	c, err := d.get(id)
	d.mu.Unlock()
	if err != nil {
		return runtime.ContainerStatus{}, err
	}
	select {
	case <-c.done:
	case <-ctx.Done():
		return runtime.ContainerStatus{}, ctx.Err()
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	return cloneStatus(c.status), nil
}

// Remove deletes a container, killing it first if it runs.
func (d *Driver) Remove(ctx context.Context, id string) error {
	d.mu.Lock()
	c, err := d.get(id)
	if err == nil {
		err = d.injected("Remove")
	}
	if err != nil {
		d.mu.Unlock()
		return err
	}
	d.terminateLocked(c, exitInfo{code: ExitKILL, reason: "Error", message: "removed"})
	d.mu.Unlock()
	select {
	case <-c.done:
	case <-ctx.Done():
		return ctx.Err()
	}
	d.mu.Lock()
	delete(d.containers, id)
	d.mu.Unlock()
	return nil
}

// ListContainers lists the containers in creation order.
func (d *Driver) ListContainers(ctx context.Context) ([]runtime.ContainerStatus, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if err := d.injected("ListContainers"); err != nil {
		return nil, err
	}
	cs := slices.SortedFunc(maps.Values(d.containers), func(a, b *container) int { return a.seq - b.seq })
	out := make([]runtime.ContainerStatus, 0, len(cs))
	for _, c := range cs {
		out = append(out, cloneStatus(c.status))
	}
	return out, nil
}

// Exec runs cmd in the container: the ExecHandler if one is set, else an
// "sh -c" script is interpreted with the container's env and working
// directory, and any other command succeeds without output.
func (d *Driver) Exec(ctx context.Context, id string, cmd []string, stdin io.Reader, stdout, stderr io.Writer) (int, error) {
	d.mu.Lock()
	c, err := d.get(id)
	if err == nil {
		err = d.injected("Exec")
	}
	var st runtime.ContainerStatus
	if err == nil {
		st = cloneStatus(c.status)
		if st.State != runtime.StateRunning {
			err = fmt.Errorf("mock: exec in container %s: container is %s", id, st.State)
		}
	}
	h := d.execHandler
	d.mu.Unlock()
	if err != nil {
		return -1, err
	}
	if h != nil {
		return h(ctx, st, slices.Clone(cmd), stdin, stdout, stderr)
	}
	script, ok := isScript(cmd)
	if !ok {
		return 0, nil
	}
	prog, err := parseScript(script, c.env)
	if err != nil {
		_, _ = fmt.Fprintf(stderr, "sh: %v\n", err)
		return ExitSyntax, nil
	}
	var werr error
	sh := &shell{
		env: c.spec.Env,
		cwd: c.cwd,
		write: func(stream int, text string) {
			w := stdout
			if stream == streamStderr {
				w = stderr
			}
			if _, err := io.WriteString(w, text); err != nil && werr == nil {
				werr = err
			}
		},
		block: func(dur time.Duration, _ bool) (exitInfo, bool) {
			var timer <-chan time.Time
			if dur >= 0 {
				t := time.NewTimer(dur)
				defer t.Stop()
				timer = t.C
			}
			select {
			case <-timer:
				return exitInfo{}, true
			case <-ctx.Done():
				return exitInfo{code: ExitKILL}, false
			case <-c.done:
				return exitInfo{code: ExitKILL}, false
			}
		},
	}
	e := sh.run(prog)
	if err := ctx.Err(); err != nil {
		return e.code, fmt.Errorf("mock: exec in container %s: %w", id, err)
	}
	if werr != nil {
		return e.code, fmt.Errorf("mock: exec in container %s: write output: %w", id, werr)
	}
	return e.code, nil
}

// ContainerStats reports a CPU usage of a tenth of the container's
// running time and the memory from EnvMemoryBytes, unless SetStats set
// figures.
func (d *Driver) ContainerStats(ctx context.Context, id string) (runtime.Stats, error) {
	if err := ctx.Err(); err != nil {
		return runtime.Stats{}, err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	c, err := d.get(id)
	if err != nil {
		return runtime.Stats{}, err
	}
	if err := d.injected("ContainerStats"); err != nil {
		return runtime.Stats{}, err
	}
	return c.statsLocked(time.Now()), nil
}

func (c *container) statsLocked(now time.Time) runtime.Stats {
	if c.stats != nil {
		s := *c.stats
		if s.Timestamp.IsZero() {
			s.Timestamp = now
		}
		return s
	}
	end := now
	if c.status.State == runtime.StateExited {
		end = c.status.FinishedAt
	}
	s := runtime.Stats{Timestamp: now}
	if !c.status.StartedAt.IsZero() && end.After(c.status.StartedAt) {
		s.CPUUsageNanos = uint64(end.Sub(c.status.StartedAt).Nanoseconds() / 10)
	}
	if c.status.State == runtime.StateRunning {
		s.MemoryWorkingSetBytes, _ = strconv.ParseUint(c.env[EnvMemoryBytes], 10, 64)
	}
	return s
}

// SandboxStats sums the stats of the sandbox's containers.
func (d *Driver) SandboxStats(ctx context.Context, id string) (runtime.Stats, error) {
	if err := ctx.Err(); err != nil {
		return runtime.Stats{}, err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if _, ok := d.sandboxes[id]; !ok {
		return runtime.Stats{}, notFound("sandbox", id)
	}
	if err := d.injected("SandboxStats"); err != nil {
		return runtime.Stats{}, err
	}
	now := time.Now()
	sum := runtime.Stats{Timestamp: now}
	for _, c := range d.containers {
		if c.spec.SandboxID == id {
			s := c.statsLocked(now)
			sum.CPUUsageNanos += s.CPUUsageNanos
			sum.MemoryWorkingSetBytes += s.MemoryWorkingSetBytes
		}
	}
	return sum, nil
}
