package process

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"syscall"

	"github.com/berth-dev/berth/internal/agent/runtime"
)

// Exec runs cmd in the container's environment: its env, working
// directory, network namespace, cgroup and (as root) mounts, in a process
// group of its own. It returns the command's exit code (128+signal when a
// signal ended it). When ctx is done the command's process group is
// killed and ctx's error returned.
func (d *Driver) Exec(ctx context.Context, id string, cmd []string, stdin io.Reader, stdout, stderr io.Writer) (int, error) {
	c, err := d.get(id)
	if err != nil {
		return -1, err
	}
	if len(cmd) == 0 {
		return -1, fmt.Errorf("process: exec in container %s: empty command", id)
	}
	d.mu.Lock()
	st, spec, workDir, cg := c.rec.Status, c.rec.Spec, c.rec.WorkDir, c.rec.CgroupPath
	var netns string
	if sb, ok := d.sandboxes[st.SandboxID]; ok {
		netns = sb.rec.Sandbox.NetNS
	}
	d.mu.Unlock()
	if st.State != runtime.StateRunning {
		return -1, fmt.Errorf("process: exec in container %s: %w", id, errNotRunning)
	}
	p, err := d.run(ctx, runRequest{
		argv: cmd, env: spec.Env, dir: workDir, mounts: spec.Mounts, netns: netns, cgroup: cg,
		stdin: stdin, stdout: stdout, stderr: stderr, ctx: ctx,
	})
	if err != nil {
		return -1, fmt.Errorf("process: exec in container %s: %w", id, err)
	}
	err = p.cmd.Wait()
	code := -1
	if ps := p.cmd.ProcessState; ps != nil {
		if ws, ok := ps.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			code = 128 + int(ws.Signal())
		} else {
			code = ps.ExitCode()
		}
	}
	if cerr := ctx.Err(); cerr != nil {
		return code, fmt.Errorf("process: exec in container %s: %w", id, cerr)
	}
	var exitErr *exec.ExitError
	if err != nil && !errors.As(err, &exitErr) {
		return code, fmt.Errorf("process: exec in container %s: %w", id, err)
	}
	return code, nil
}
