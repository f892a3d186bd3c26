package process

import (
	"bytes"
	"errors"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/berth-dev/berth/internal/agent/runtime"
	"github.com/berth-dev/berth/internal/agent/runtime/runtimetest"
)

// testConfig is a driver configuration for tests: a temporary state
// directory, the test binary as init and a short poll interval.
func testConfig(t testing.TB) Config {
	return Config{
		StateDir:     t.TempDir(),
		InitBinary:   []string{os.Args[0], InitCommand},
		PollInterval: 10 * time.Millisecond,
		Logger:       slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelDebug})),
	}
}

// newDriver starts a driver that is closed when the test ends.
func newDriver(t testing.TB, cfg Config) *Driver {
	t.Helper()
	d, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = d.Close() })
	return d
}

func TestConformance(t *testing.T) {
	runtimetest.Run(t, func(t *testing.T) runtime.Driver { return newDriver(t, testConfig(t)) },
		runtimetest.Capabilities{Exec: true, Stats: true, RequiresCommand: true})
}

func TestEnvExactly(t *testing.T) {
	tests := []struct {
		name string
		env  []string
		want string
	}{
		{name: "given", env: []string{"A=1", "B=two words", "EMPTY="}, want: "A=1\nB=two words\nEMPTY=\n"},
		{name: "none", env: nil, want: ""},
	}
	d := newDriver(t, testConfig(t))
	sb := sandboxFor(t, d, runtime.SandboxSpec{Name: "p"})
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			id, err := d.CreateAndStart(t.Context(), runtime.ContainerSpec{SandboxID: sb.ID, Name: "env", Command: []string{"/usr/bin/env"}, Env: tc.env})
			if err != nil {
				t.Fatal(err)
			}
			wait(t, d, id)
			if got := logs(t, d, id); got != tc.want {
				t.Errorf("env %q, want %q", got, tc.want)
			}
		})
	}
}

func TestDefaultWorkingDir(t *testing.T) {
	d := newDriver(t, testConfig(t))
	sb := sandboxFor(t, d, runtime.SandboxSpec{Name: "p"})
	id := sh(t, d, sb, "pwd", "pwd; echo x > file", nil)
	wait(t, d, id)
	dir := filepath.Join(d.cfg.StateDir, containersDir, id, workDirName)
	if got := logs(t, d, id); got != dir+"\n" {
		t.Errorf("working directory %q, want %s", got, dir)
	}
	if _, err := os.Stat(filepath.Join(dir, "file")); err != nil {
		t.Errorf("file written in the working directory: %v", err)
	}
	if err := d.Remove(t.Context(), id); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("working directory kept after Remove: %v", err)
	}
}

func TestStartFailure(t *testing.T) {
	tests := []struct {
		name    string
		command []string
		dir     string
		message string
	}{
		{name: "missing binary", command: []string{"/no/such/binary"}, message: "no such file"},
		{name: "not in PATH", command: []string{"no-such-command-berth"}, message: "not found in PATH"},
		{name: "missing working directory", command: []string{"/bin/true"}, dir: "/no/such/dir", message: "no such file"},
	}
	d := newDriver(t, testConfig(t))
	sb := sandboxFor(t, d, runtime.SandboxSpec{Name: "p"})
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			id, err := d.CreateAndStart(t.Context(), runtime.ContainerSpec{SandboxID: sb.ID, Name: "bad", Command: tc.command, WorkingDir: tc.dir})
			if err == nil || id == "" {
				t.Fatalf("CreateAndStart: %q, %v; want an ID and an error", id, err)
			}
			st, err := d.Inspect(t.Context(), id)
			if err != nil || st.State != runtime.StateExited || st.ExitCode != 128 || st.Reason != "Error" || !strings.Contains(st.Message, tc.message) {
				t.Errorf("failed container: %+v, %v; want exit 128 with %q", st, err, tc.message)
			}
			if err := d.Logs(t.Context(), id, runtime.LogOptions{TailLines: -1, Follow: true}, io.Discard); err != nil {
				t.Errorf("Logs: %v", err)
			}
			if err := d.Remove(t.Context(), id); err != nil {
				t.Errorf("Remove: %v", err)
			}
		})
	}
}

func TestExecStdin(t *testing.T) {
	d := newDriver(t, testConfig(t))
	sb := sandboxFor(t, d, runtime.SandboxSpec{Name: "p"})
	id := sh(t, d, sb, "c", "exec sleep 30", nil)
	var out bytes.Buffer
	code, err := d.Exec(t.Context(), id, []string{"cat"}, strings.NewReader("from stdin"), &out, io.Discard)
	if err != nil || code != 0 || out.String() != "from stdin" {
		t.Errorf("Exec cat: %d, %v, %q", code, err, out.String())
	}
	code, err = d.Exec(t.Context(), id, []string{"/bin/sh", "-c", "kill -9 $$"}, nil, nil, nil)
	if err != nil || code != 137 {
		t.Errorf("Exec of a killed command: %d, %v; want 137", code, err)
	}
	if _, err := d.Exec(t.Context(), id, nil, nil, nil, nil); err == nil {
		t.Errorf("Exec of an empty command succeeded")
	}
}

func TestCloseKeepsContainers(t *testing.T) {
	cfg := testConfig(t)
	d, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	sb := sandboxFor(t, d, runtime.SandboxSpec{Name: "p"})
	id := sh(t, d, sb, "c", "exec sleep 30", nil)
	st, _ := d.Inspect(t.Context(), id)
	start := mustStat(t, st.PID, false).startTime
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	if err := d.Close(); err != nil { // twice is fine
		t.Fatal(err)
	}
	select {
	case <-d.monitorDone:
	default:
		t.Errorf("monitor still running after Close")
	}
	if !alive(st.PID, start) {
		t.Fatalf("Close killed the container")
	}
	if _, err := d.Wait(t.Context(), id); err == nil {
		t.Errorf("Wait on a closed driver succeeded")
	}
	if _, err := d.RunSandbox(t.Context(), runtime.SandboxSpec{}); err == nil {
		t.Errorf("RunSandbox on a closed driver succeeded")
	}
	d2 := newDriver(t, cfg)
	if err := d2.RemoveSandbox(t.Context(), sb.ID); err != nil {
		t.Fatal(err)
	}
	if alive(st.PID, start) {
		t.Errorf("RemoveSandbox left the container running")
	}
}

func TestInitByHand(t *testing.T) {
	cmd := exec.Command(os.Args[0], InitCommand)
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 2 || !strings.Contains(string(out), "not to be run by hand") {
		t.Errorf("init without the driver: %v, %q; want exit 2 and an explanation", err, out)
	}
}
