package process

import (
	"context"
	"testing"

	"github.com/berth-dev/berth/internal/agent/runtime"
	"github.com/berth-dev/berth/internal/agent/runtime/runtimetest"
)

// pathEnv lets shells find their tools.
const pathEnv = "PATH=" + defaultPath

// sandboxFor runs a sandbox on d.
func sandboxFor(t testing.TB, d *Driver, spec runtime.SandboxSpec) runtime.Sandbox {
	t.Helper()
	sb, err := d.RunSandbox(t.Context(), spec)
	if err != nil {
		t.Fatalf("RunSandbox: %v", err)
	}
	// Kill what the test left running (fails harmlessly once d is closed).
	t.Cleanup(func() { _ = d.RemoveSandbox(context.Background(), sb.ID) })
	return sb
}

// sh starts a container running script with /bin/sh.
func sh(t *testing.T, d *Driver, sb runtime.Sandbox, name, script string, mod func(*runtime.ContainerSpec)) string {
	t.Helper()
	spec := runtime.ContainerSpec{SandboxID: sb.ID, Name: name, Command: []string{runtimetest.Shell, "-c", script}, Env: []string{pathEnv}}
	if mod != nil {
		mod(&spec)
	}
	id, err := d.CreateAndStart(t.Context(), spec)
	if err != nil {
		t.Fatalf("CreateAndStart: %v", err)
	}
	return id
}

// wait waits for the container's exit.
func wait(t *testing.T, d *Driver, id string) runtime.ContainerStatus {
	t.Helper()
	return runtimetest.Wait(t, d, id)
}

// logs returns the container's whole log.
func logs(t *testing.T, d *Driver, id string) string {
	t.Helper()
	return runtimetest.Logs(t, d, id, runtimetest.AllLogs)
}

// waitLogs waits until the container's log holds want.
func waitLogs(t *testing.T, d *Driver, id, want string) {
	t.Helper()
	runtimetest.WaitLogs(t, d, id, want)
}
