package process

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	goruntime "runtime"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/berth-dev/berth/internal/agent/osthread"
	"github.com/berth-dev/berth/internal/agent/runtime"
	"golang.org/x/sys/unix"
)

// defaultPath is searched for commands when the container's env has no
// PATH.
const defaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// initTimeout bounds how long a container init may take to report.
const initTimeout = 30 * time.Second

// started is a started container process.
type started struct {
	pid       int
	startTime uint64
	started   time.Time
	cgroup    string
}

// startContainer starts the container's process with its output going
// to the raw files the log pump reads.
func (d *Driver) startContainer(ctx context.Context, c *container, argv []string, netns string) (started, error) {
	d.mu.Lock()
	spec, workDir := c.rec.Spec, c.rec.WorkDir
	d.mu.Unlock()

	stdout, stderr, err := openRawForWriting(c.dir)
	if err != nil {
		return started{}, err
	}
	defer stdout.Close()
	defer stderr.Close()

	var cg string
	if d.cfg.Cgroups != nil {
		cg, err = d.cfg.Cgroups.Create(c.id, spec.CPUMilliLimit, spec.CPUMilliRequest, spec.MemoryLimitBytes)
		if err != nil {
			return started{}, fmt.Errorf("create cgroup: %w", err)
		}
		d.mu.Lock()
		c.rec.CgroupPath = cg
		d.mu.Unlock()
	}
	if len(spec.Mounts) > 0 && !d.canMount {
		if err := linkMounts(filepath.Join(c.dir, workDirName), spec.Mounts); err != nil {
			return started{}, err
		}
	}
	p, err := d.run(ctx, runRequest{
		argv: argv, env: spec.Env, dir: workDir, mounts: spec.Mounts, netns: netns, cgroup: cg,
		stdout: stdout, stderr: stderr,
	})
	if err != nil {
		return started{}, err
	}
	p.cmd.Process.Release() // the monitor reaps it
	return started{pid: p.pid, startTime: p.startTime, started: p.started, cgroup: cg}, nil
}

// runRequest is a process to start for a container or an exec.
type runRequest struct {
	argv   []string
	env    []string
	dir    string
	mounts []runtime.Mount
	netns  string
	cgroup string
	stdin  io.Reader
	stdout io.Writer
	stderr io.Writer
	// ctx, if set, kills the process group when done (exec).
	ctx context.Context
}

// running is a started process.
type running struct {
	cmd       *exec.Cmd
	pid       int
	startTime uint64
	started   time.Time
}

// run starts a process in its own process group, in the network
// namespace netns ("" for the agent's) and the cgroup. With mounts (as
// root) the process starts in a new mount namespace with the bind mounts:
// made by the agent itself on a thread of its own that enters the
// namespaces and starts the process from there (the process inherits
// them), or, where that thread cannot get a mount namespace, by the init
// binary, which sets up the mounts and executes the command. Either way
// the process only runs once it is in its cgroup.
func (d *Driver) run(ctx context.Context, r runRequest) (running, error) {
	env := r.env
	if env == nil {
		env = []string{} // nil would mean the agent's environment
	}
	cmd := &exec.Cmd{
		Env:         env,
		Stdin:       r.stdin,
		Stdout:      r.stdout,
		Stderr:      r.stderr,
		SysProcAttr: &syscall.SysProcAttr{Setpgid: true},
	}
	if r.ctx != nil {
		// Built like exec.CommandContext so that Cancel applies.
		cmd = exec.CommandContext(r.ctx, "/")
		cmd.Err = nil // Path and Args are set below
		cmd.Env, cmd.Stdin, cmd.Stdout, cmd.Stderr = env, r.stdin, r.stdout, r.stderr
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
		cmd.Cancel = func() error {
			if cmd.Process == nil {
				return nil
			}
			return unix.Kill(-cmd.Process.Pid, unix.SIGKILL)
		}
		cmd.WaitDelay = 2 * time.Second
	}
	// Mounts need a mount namespace: made on the agent's starting thread
	// (mountNS) or by the init binary, a start of the 150 MB berth binary
	// that costs ~50 ms of CPU per container.
	mountNS := len(r.mounts) > 0 && d.canMount && d.mountNS
	useInit := len(r.mounts) > 0 && d.canMount && !d.mountNS
	// With mounts on cgroup v1, the starting thread (which ends after the
	// start anyway) joins the cgroup first: the process is born in it.
	var threadCG ThreadCgroupAdder
	if mountNS && r.cgroup != "" {
		threadCG, _ = d.cfg.Cgroups.(ThreadCgroupAdder)
	}
	// Otherwise, without the init, a container with a cgroup starts behind
	// a small shell gate that waits on fd 3 until the process is in its
	// cgroup, then execs the command (same PID): started directly,
	// whatever it forked in its first instant (a shell's child) would
	// escape the cgroup's limits. The gate costs a shell start, not a
	// berth start.
	var gateW *os.File
	if !useInit && r.cgroup != "" && threadCG == nil {
		if _, err := os.Stat(gateShell); err == nil {
			gr, gw, err := os.Pipe()
			if err != nil {
				return running{}, fmt.Errorf("start gate: %w", err)
			}
			defer gr.Close()
			defer gw.Close()
			gateW = gw
			cmd.ExtraFiles = []*os.File{gr}
		}
	}
	var cfgW, statusR *os.File
	if useInit {
		path, err := lookPath(d.cfg.InitBinary[0], os.Environ(), "")
		if err != nil {
			return running{}, fmt.Errorf("container init: %w", err)
		}
		cfgR, w, err := os.Pipe()
		if err != nil {
			return running{}, fmt.Errorf("container init: %w", err)
		}
		r2, statusW, err := os.Pipe()
		if err != nil {
			cfgR.Close()
			w.Close()
			return running{}, fmt.Errorf("container init: %w", err)
		}
		defer cfgR.Close()
		defer statusW.Close()
		defer w.Close()
		defer r2.Close()
		cfgW, statusR = w, r2
		cmd.Path, cmd.Args = path, append(slices.Clone(d.cfg.InitBinary), initArgs...)
		cmd.ExtraFiles = []*os.File{cfgR, statusW}
		cmd.SysProcAttr.Cloneflags = unix.CLONE_NEWNS
	}
	// resolve finds the command (inside the mount namespace with mounts:
	// it may be on a volume) and sets what to execute.
	resolve := func() error {
		path, err := lookPath(r.argv[0], env, r.dir)
		if err != nil {
			return err
		}
		cmd.Path, cmd.Args, cmd.Dir = path, r.argv, r.dir
		if gateW != nil {
			cmd.Path = gateShell
			cmd.Args = append([]string{gateShell, "-c", `read -r _ <&3; exec 3<&-; exec "$0" "$@"`, path}, r.argv[1:]...)
		}
		return nil
	}
	var err error
	switch {
	case mountNS:
		err = inContainerNS(r.netns, r.mounts, r.stderr, func() error {
			if err := resolve(); err != nil {
				return err
			}
			if threadCG != nil {
				if err := threadCG.AddThread(r.cgroup, unix.Gettid()); err != nil {
					return fmt.Errorf("add the starting thread to the cgroup: %w", err)
				}
			}
			return cmd.Start()
		})
	case useInit:
		err = inNetNS(r.netns, cmd.Start)
	default:
		if err = resolve(); err == nil {
			err = inNetNS(r.netns, cmd.Start)
		}
	}
	if err != nil {
		return running{}, err
	}
	if useInit {
		// Close the child's ends so that EOF on the status pipe means the
		// init executed the command.
		cmd.ExtraFiles[0].Close()
		cmd.ExtraFiles[1].Close()
	}
	p := running{cmd: cmd, pid: cmd.Process.Pid, started: time.Now()}
	fail := func(err error) (running, error) {
		_ = unix.Kill(-p.pid, unix.SIGKILL)
		if r.ctx != nil {
			_ = cmd.Wait()
		} else {
			var ws unix.WaitStatus
			_, _ = unix.Wait4(p.pid, &ws, 0, nil)
			cmd.Process.Release()
		}
		return running{}, err
	}
	st, err := readStat(p.pid)
	if err != nil {
		return fail(err)
	}
	p.startTime = st.startTime
	if r.cgroup != "" && threadCG == nil {
		if err := d.cfg.Cgroups.AddProcess(r.cgroup, p.pid); err != nil {
			return fail(fmt.Errorf("add process to cgroup: %w", err))
		}
	}
	if gateW != nil {
		if _, err := gateW.Write([]byte("\n")); err != nil {
			return fail(fmt.Errorf("start gate: %w", err))
		}
		gateW.Close()
	}
	if useInit {
		if err := sendInit(ctx, cfgW, statusR, initConfig{Argv: r.argv, Env: env, Dir: r.dir, Mounts: r.mounts}); err != nil {
			return fail(err)
		}
	}
	if (mountNS || useInit) && r.ctx == nil {
		// A container's own mount namespace (exec processes end soon).
		d.schedulePrune(p.pid, p.startTime)
	}
	return p, nil
}

// gateShell runs the start gate.
const gateShell = "/bin/sh"

// sendInit hands the configuration to the init and waits until it has
// executed the command (the status pipe closes) or failed (it writes why).
func sendInit(ctx context.Context, cfgW, statusR *os.File, cfg initConfig) error {
	data, err := json.Marshal(cfg)
	if err != nil {
		return fmt.Errorf("container init: %w", err)
	}
	if _, err := cfgW.Write(data); err != nil {
		return fmt.Errorf("container init: send configuration: %w", err)
	}
	if err := cfgW.Close(); err != nil {
		return fmt.Errorf("container init: send configuration: %w", err)
	}
	deadline := time.Now().Add(initTimeout)
	if dl, ok := ctx.Deadline(); ok && dl.Before(deadline) {
		deadline = dl
	}
	_ = statusR.SetReadDeadline(deadline)
	msg, err := io.ReadAll(statusR)
	if err != nil {
		return fmt.Errorf("container init: no report: %w", err)
	}
	if len(msg) > 0 {
		return fmt.Errorf("container init: %s", msg)
	}
	return nil
}

// inNetNS calls start on an OS thread in the network namespace netns, so
// that a process started there inherits it ("" calls start directly).
func inNetNS(netns string, start func() error) error {
	if netns == "" {
		return start()
	}
	target, err := os.Open(netns)
	if err != nil {
		return fmt.Errorf("open network namespace: %w", err)
	}
	defer target.Close()
	errc := make(chan error, 1)
	go func() {
		goruntime.LockOSThread()
		// If the thread cannot return to its namespace it stays locked,
		// and the runtime ends it with this goroutine.
		orig, err := os.Open(fmt.Sprintf("/proc/%d/task/%d/ns/net", os.Getpid(), unix.Gettid()))
		if err != nil {
			goruntime.UnlockOSThread()
			errc <- fmt.Errorf("open current network namespace: %w", err)
			return
		}
		defer orig.Close()
		if err := unix.Setns(int(target.Fd()), unix.CLONE_NEWNET); err != nil {
			goruntime.UnlockOSThread()
			errc <- fmt.Errorf("enter network namespace %s: %w", netns, err)
			return
		}
		serr := start()
		if err := unix.Setns(int(orig.Fd()), unix.CLONE_NEWNET); err != nil {
			errc <- errors.Join(serr, fmt.Errorf("return from network namespace %s: %w", netns, err))
			return
		}
		goruntime.UnlockOSThread()
		errc <- serr
	}()
	return <-errc
}

// inContainerNS calls start on an OS thread that entered the network
// namespace netns ("" for the agent's) and a new mount namespace in which
// every mount is private and the bind mounts are made, so that a process
// started there inherits both. The thread is a throwaway one
// (osthread.Throwaway): the runtime ends it instead of reusing it in these
// namespaces. The runtime makes no new thread from a locked one, and unshare moves
// only this thread (with CLONE_NEWNS the kernel unshares its file system
// information, cwd and root, too). A failure to set the namespaces up is
// returned as a "container init" error and, as the init binary would,
// written to report (the container's standard error, so its log says why)
// when it is not nil.
func inContainerNS(netns string, mounts []runtime.Mount, report io.Writer, start func() error) error {
	var target *os.File
	if netns != "" {
		f, err := os.Open(netns)
		if err != nil {
			return fmt.Errorf("open network namespace: %w", err)
		}
		defer f.Close()
		target = f
	}
	return osthread.Throwaway(func() error {
		if err := enterContainerNS(target, netns, mounts); err != nil {
			if report != nil {
				fmt.Fprintf(report, "berth container init: %s\n", err)
			}
			return fmt.Errorf("container init: %w", err)
		}
		return start()
	})
}

// enterContainerNS moves the calling thread into the network namespace
// target (nil: stay) and a new mount namespace with the mounts.
func enterContainerNS(target *os.File, netns string, mounts []runtime.Mount) error {
	if target != nil {
		if err := unix.Setns(int(target.Fd()), unix.CLONE_NEWNET); err != nil {
			return fmt.Errorf("enter network namespace %s: %w", netns, err)
		}
	}
	if err := unix.Unshare(unix.CLONE_NEWNS); err != nil {
		return fmt.Errorf("new mount namespace: %w", err)
	}
	if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
		return fmt.Errorf("make mounts private: %w", err)
	}
	for _, m := range mounts {
		if err := bindMount(m); err != nil {
			return err
		}
	}
	return nil
}

// probeMountNS checks that a thread of this process can get a mount
// namespace of its own (inContainerNS), on a thread that then ends.
func probeMountNS() error {
	return osthread.Throwaway(func() error { return unix.Unshare(unix.CLONE_NEWNS) })
}

// lookPath finds name like a shell would with the PATH of env (or
// defaultPath); relative entries are relative to dir.
func lookPath(name string, env []string, dir string) (string, error) {
	if strings.Contains(name, "/") {
		return name, nil
	}
	path := defaultPath
	for _, kv := range env {
		if v, ok := strings.CutPrefix(kv, "PATH="); ok {
			path = v
		}
	}
	for _, p := range filepath.SplitList(path) {
		if p == "" {
			p = "."
		}
		f := filepath.Join(p, name)
		if !filepath.IsAbs(f) && dir != "" {
			f = filepath.Join(dir, f)
		}
		if fi, err := os.Stat(f); err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0 {
			return f, nil
		}
	}
	return "", fmt.Errorf("%q: executable file not found in PATH %q", name, path)
}

// linkMounts is the fallback without root: dir gets a symlink named after
// each mount's container path base name, pointing at the host path.
func linkMounts(dir string, mounts []runtime.Mount) error {
	for _, m := range mounts {
		link := filepath.Join(dir, filepath.Base(filepath.Clean(m.ContainerPath)))
		if err := os.Remove(link); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("link volume %s: %w", m.ContainerPath, err)
		}
		if err := os.Symlink(m.HostPath, link); err != nil {
			return fmt.Errorf("link volume %s: %w", m.ContainerPath, err)
		}
	}
	return nil
}
