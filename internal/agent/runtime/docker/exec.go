package docker

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/moby/moby/api/pkg/stdcopy"
	"github.com/moby/moby/client"
)

// errNotRunning fails Exec in a container that does not run.
var errNotRunning = errors.New("container is not running")

// Exec runs cmd in the container through the exec API, without a TTY: in
// the container's env, working directory, namespaces and cgroup. stdin
// (nil: none) is copied to the command and closed at its end; stdout and
// stderr (nil: discarded) get its output. It returns the command's exit
// code. When ctx is done first, the command is killed (best effort: its
// process, found from the exec's host PID when the daemon runs on this
// machine; Docker has no API to stop an exec) and ctx's error returned.
func (d *Driver) Exec(ctx context.Context, id string, cmd []string, stdin io.Reader, stdout, stderr io.Writer) (int, error) {
	ctx, done, err := d.op(ctx)
	if err != nil {
		return -1, err
	}
	defer done()
	c, err := d.get(ctx, id)
	if err != nil {
		return -1, err
	}
	if len(cmd) == 0 {
		return -1, fmt.Errorf("docker: exec in container %s: empty command", id)
	}
	if !running(c) {
		return -1, fmt.Errorf("docker: exec in container %s: %w", id, errNotRunning)
	}
	ex, err := d.cli.ExecCreate(ctx, id, client.ExecCreateOptions{
		AttachStdin: stdin != nil, AttachStdout: true, AttachStderr: true, Cmd: cmd,
	})
	if err != nil {
		return -1, d.apiError(err, "exec in container %s", id)
	}
	att, err := d.cli.ExecAttach(ctx, ex.ID, client.ExecAttachOptions{})
	if err != nil {
		return -1, d.apiError(err, "exec in container %s", id)
	}
	defer att.Close()
	stop := context.AfterFunc(ctx, func() {
		att.Close()
		d.killExec(ex.ID, id)
	})
	defer stop()
	if stdin != nil {
		go func() {
			// Ends when stdin does or the connection is closed.
			_, _ = io.Copy(att.Conn, stdin)
			_ = att.CloseWrite()
		}()
	}
	if stdout == nil {
		stdout = io.Discard
	}
	if stderr == nil {
		stderr = io.Discard
	}
	_, err = stdcopy.StdCopy(stdout, stderr, att.Reader)
	if cerr := ctx.Err(); cerr != nil {
		return -1, fmt.Errorf("docker: exec in container %s: %w", id, d.closedOr(cerr))
	}
	if err != nil {
		return -1, fmt.Errorf("docker: exec in container %s: read output: %w", id, err)
	}
	return d.execExitCode(ctx, ex.ID, id)
}

// execExitCode waits for the exec to be recorded as ended (it may lag
// behind its output stream) and returns its exit code.
func (d *Driver) execExitCode(ctx context.Context, execID, id string) (int, error) {
	delay := 5 * time.Millisecond
	for {
		res, err := d.cli.ExecInspect(ctx, execID, client.ExecInspectOptions{})
		if err != nil {
			return -1, d.apiError(err, "exec in container %s: inspect", id)
		}
		if !res.Running {
			return res.ExitCode, nil
		}
		t := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			t.Stop()
			return -1, fmt.Errorf("docker: exec in container %s: %w", id, d.closedOr(ctx.Err()))
		case <-t.C:
		}
		delay = min(2*delay, 100*time.Millisecond)
	}
}

// killExec kills an abandoned exec's process, when the daemon's host PID
// of it is a process of the container on this machine (its cgroup names
// the container), so that a PID seen by a remote daemon never hits an
// unrelated local process.
func (d *Driver) killExec(execID, containerID string) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	res, err := d.cli.ExecInspect(ctx, execID, client.ExecInspectOptions{})
	if err != nil || !res.Running || res.PID <= 0 {
		return
	}
	cg, err := os.ReadFile("/proc/" + strconv.Itoa(res.PID) + "/cgroup")
	if err != nil || !strings.Contains(string(cg), containerID) {
		d.log.Debug("cannot kill an abandoned exec: its process is not visible here", "exec", execID, "pid", res.PID)
		return
	}
	if err := syscall.Kill(res.PID, syscall.SIGKILL); err != nil {
		d.log.Debug("cannot kill an abandoned exec", "exec", execID, "pid", res.PID, "err", err)
	}
}
