package mock

import (
	"errors"
	"fmt"
	"strings"

	"github.com/berth-dev/berth/internal/agent/runtime"
)

// This file holds the hooks tests use to steer the mock.

// Exit makes a running container exit with code (reason Completed for 0,
// Error otherwise) and returns once it has. An exited container is left
// alone.
func (d *Driver) Exit(id string, code int) error {
	return d.end(id, exitInfo{code: code})
}

// OOMKill makes a running container exit as the kernel's OOM killer would
// have: code 137, reason OOMKilled.
func (d *Driver) OOMKill(id string) error {
	return d.end(id, exitInfo{code: ExitKILL, reason: "OOMKilled", message: "killed by the OOM killer (mock)"})
}

func (d *Driver) end(id string, e exitInfo) error {
	d.mu.Lock()
	c, err := d.get(id)
	if err != nil {
		d.mu.Unlock()
		return err
	}
	d.terminateLocked(c, e)
	d.mu.Unlock()
	<-c.done
	return nil
}

// Starts counts the start attempts of containers with this name (in any
// sandbox), failed ones included.
func (d *Driver) Starts(name string) int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.starts[name]
}

// FailStarts makes the next n starts of containers named name fail with
// err (n < 0: every start until FailStarts(name, 0, nil)). A failed start
// leaves an exited container (exit code 128, reason Error, err as the
// message) whose ID CreateAndStart returns with the error.
func (d *Driver) FailStarts(name string, n int, err error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if n == 0 {
		delete(d.startFailures, name)
		return
	}
	if err == nil {
		err = errors.New("injected start failure")
	}
	d.startFailures[name] = &failure{n: n, err: err}
}

// InjectError makes the next n calls of the named Driver method fail with
// err (n < 0: every call until InjectError(method, 0, nil)). method is
// one of RunSandbox, StopSandbox, RemoveSandbox, ListSandboxes,
// CreateAndStart, Stop, Inspect, Remove, ListContainers, Exec,
// ContainerStats and SandboxStats. Calls about unknown IDs fail with
// runtime.ErrNotFound first.
func (d *Driver) InjectError(method string, n int, err error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if n == 0 {
		delete(d.callFailures, method)
		return
	}
	if err == nil {
		err = errors.New("injected failure")
	}
	d.callFailures[method] = &failure{n: n, err: err}
}

// SetExecHandler replaces Exec's behaviour (nil restores the default).
func (d *Driver) SetExecHandler(h ExecHandler) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.execHandler = h
}

// SetStats fixes the figures ContainerStats reports for a container (a
// zero Timestamp becomes the time of the call).
func (d *Driver) SetStats(id string, s runtime.Stats) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	c, err := d.get(id)
	if err != nil {
		return err
	}
	c.stats = &s
	return nil
}

// Output appends text to a running or exited container's log as if the
// container wrote it; stream is "stdout" or "stderr".
func (d *Driver) Output(id, stream, text string) error {
	s := streamStdout
	switch stream {
	case "stdout":
	case "stderr":
		s = streamStderr
	default:
		return fmt.Errorf("mock: unknown stream %q", stream)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	c, err := d.get(id)
	if err != nil {
		return err
	}
	if !strings.HasSuffix(text, "\n") {
		text += "\n"
	}
	d.appendLocked(c, s, text)
	return nil
}

// ContainerSpec returns the request a container was started with.
func (d *Driver) ContainerSpec(id string) (runtime.ContainerSpec, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	c, err := d.get(id)
	if err != nil {
		return runtime.ContainerSpec{}, err
	}
	return cloneSpec(c.spec), nil
}

// SandboxSpec returns the request a sandbox was created with, and whether
// it is stopped.
func (d *Driver) SandboxSpec(id string) (spec runtime.SandboxSpec, stopped bool, err error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	sb, ok := d.sandboxes[id]
	if !ok {
		return runtime.SandboxSpec{}, false, notFound("sandbox", id)
	}
	spec = sb.spec
	spec.Labels = cloneSandbox(runtime.Sandbox{Labels: sb.spec.Labels}).Labels
	return spec, sb.stopped, nil
}
