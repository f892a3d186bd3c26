package mock

import (
	"bytes"
	"context"
	"errors"
	"io"
	goruntime "runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/berth-dev/berth/internal/agent/runtime"
	"github.com/berth-dev/berth/internal/agent/runtime/runtimetest"
)

func newDriver(t *testing.T) *Driver {
	d := New()
	t.Cleanup(func() { _ = d.Close() })
	return d
}

func TestConformance(t *testing.T) {
	runtimetest.Run(t, func(t *testing.T) runtime.Driver { return newDriver(t) },
		runtimetest.Capabilities{Exec: true, Stats: true})
}

// setup returns a driver with a sandbox.
func setup(t *testing.T) (*Driver, runtime.Sandbox) {
	d := newDriver(t)
	sb, err := d.RunSandbox(t.Context(), runtime.SandboxSpec{Name: "p", Labels: map[string]string{runtime.LabelPodName: "p"}})
	if err != nil {
		t.Fatal(err)
	}
	return d, sb
}

func start(t *testing.T, d *Driver, sb runtime.Sandbox, name string, cmd []string, env ...string) string {
	t.Helper()
	id, err := d.CreateAndStart(t.Context(), runtime.ContainerSpec{SandboxID: sb.ID, Name: name, Command: cmd, Env: env})
	if err != nil {
		t.Fatalf("CreateAndStart: %v", err)
	}
	return id
}

func logs(t *testing.T, d *Driver, id string) string {
	t.Helper()
	var b bytes.Buffer
	if err := d.Logs(t.Context(), id, runtime.LogOptions{TailLines: -1}, &b); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

func TestScripts(t *testing.T) {
	tests := []struct {
		name   string
		script string
		env    []string
		out    string
		code   int
	}{
		{name: "printf", script: `printf '%s\n' a 'b c'`, out: "a\nb c\n"},
		{name: "printf reuses format", script: `printf '%s-%s\n' 1 2 3`, out: "1-2\n3-\n"},
		{name: "printf literal", script: `printf 'x\ty%%\n'`, out: "x\ty%\n"},
		{name: "echo", script: `echo hello   world; echo -n no; echo`, out: "hello world\nno\n"},
		{name: "variables", script: `echo "$A" "${B}x" $C '$A'`, env: []string{"A=1", "B=2"}, out: "1 2x  $A\n"},
		{name: "escapes", script: `echo "a\"b" c\ d 'it'\''s'`, out: "a\"b c d it's\n"},
		{name: "stderr", script: `echo out; echo err >&2; echo gone >/dev/null; echo gone2 2>/dev/null >&2`, out: "out\nerr\n"},
		{name: "quoted redirection", script: `echo '>&2'`, out: ">&2\n"},
		{name: "exit", script: `echo a; exit 7; echo b`, out: "a\n", code: 7},
		{name: "last status", script: `false`, code: 1},
		{name: "unknown command", script: `frobnicate`, out: "sh: frobnicate: not found\n", code: 127},
		{name: "pwd and cd", script: "pwd\ncd /tmp # comment\npwd", out: "/\n/tmp\n"},
		{name: "env", script: `env`, env: []string{"X=1", "Y=2"}, out: "X=1\nY=2\n"},
		{name: "sleep", script: `sleep 0.01; sleep 10ms; echo done`, out: "sleep: invalid time interval \"10m\"\ndone\n"},
		{name: "pipe", script: `echo a | cat`, out: "sh: unsupported shell syntax: '|'\n", code: 2},
		{name: "behaviour", script: runtimetest.Behaviour{Stdout: []string{"it's"}, Stderr: []string{"e"}, PrintEnv: []string{"V"},
			PrintCwd: true, Sleep: time.Millisecond, After: []string{"z"}, ExitCode: 5}.Script(),
			env: []string{"V=v"}, out: "it's\ne\nv\n/\nz\n", code: 5},
	}
	d, sb := setup(t)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			id := start(t, d, sb, "s", []string{"/bin/sh", "-c", tc.script}, tc.env...)
			st, err := d.Wait(t.Context(), id)
			if err != nil {
				t.Fatal(err)
			}
			out := strings.SplitN(logs(t, d, id), "\n", 2)[1] // drop the start line
			if out != tc.out || st.ExitCode != tc.code {
				t.Errorf("output %q, exit %d; want %q, %d", out, st.ExitCode, tc.out, tc.code)
			}
		})
	}
}

func TestStartLineAndCounts(t *testing.T) {
	d, sb := setup(t)
	var last string
	for range 3 {
		last = start(t, d, sb, "web", []string{"sh", "-c", "exit 1"})
	}
	if got := logs(t, d, last); got != "started web attempt 3\n" {
		t.Errorf("logs %q", got)
	}
	if n := d.Starts("web"); n != 3 {
		t.Errorf("Starts = %d, want 3", n)
	}
	list, _ := d.ListContainers(t.Context())
	var ids []string
	for _, c := range list {
		ids = append(ids, c.ID)
	}
	if want := []string{"mock-ctr-1", "mock-ctr-2", "mock-ctr-3"}; !slices.Equal(ids, want) {
		t.Errorf("listed %v, want %v", ids, want)
	}
	if n := d.Starts("other"); n != 0 {
		t.Errorf("Starts(other) = %d", n)
	}
	// Scripts without blocking statements have exited when CreateAndStart
	// returns.
	if st, _ := d.Inspect(t.Context(), last); st.State != runtime.StateExited || st.ExitCode != 1 {
		t.Errorf("status %+v", st)
	}
}

func TestHooks(t *testing.T) {
	tests := []struct {
		name   string
		hook   func(d *Driver, id string) error
		code   int
		reason string
	}{
		{name: "exit 0", hook: func(d *Driver, id string) error { return d.Exit(id, 0) }, code: 0, reason: "Completed"},
		{name: "crash", hook: func(d *Driver, id string) error { return d.Exit(id, 2) }, code: 2, reason: "Error"},
		{name: "oom", hook: (*Driver).OOMKill, code: 137, reason: "OOMKilled"},
	}
	d, sb := setup(t)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			id := start(t, d, sb, "app", []string{"nginx"})
			if st, _ := d.Inspect(t.Context(), id); st.State != runtime.StateRunning {
				t.Fatalf("a command runs until stopped; status %+v", st)
			}
			if err := tc.hook(d, id); err != nil {
				t.Fatal(err)
			}
			st, _ := d.Inspect(t.Context(), id)
			if st.State != runtime.StateExited || st.ExitCode != tc.code || st.Reason != tc.reason {
				t.Errorf("status %+v, want %d %s", st, tc.code, tc.reason)
			}
			if err := tc.hook(d, id); err != nil { // no-op on exited containers
				t.Errorf("second call: %v", err)
			}
		})
	}
	if err := d.Exit("nope", 1); !errors.Is(err, runtime.ErrNotFound) {
		t.Errorf("Exit(unknown) = %v", err)
	}
}

func TestExitAfterEnv(t *testing.T) {
	tests := []struct {
		name string
		env  []string
		code int
	}{
		{name: "code", env: []string{EnvExitAfter + "=20ms", EnvExitCode + "=4"}, code: 4},
		{name: "default code", env: []string{EnvExitAfter + "=0s"}, code: 0},
		{name: "bad duration", env: []string{EnvExitAfter + "=soon"}, code: ExitStartFailure},
	}
	d, sb := setup(t)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			id := start(t, d, sb, "job", []string{"run-job"}, tc.env...)
			ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
			defer cancel()
			st, err := d.Wait(ctx, id)
			if err != nil || st.ExitCode != tc.code {
				t.Errorf("Wait: %+v, %v; want exit %d", st, err, tc.code)
			}
		})
	}
}

func TestFailStarts(t *testing.T) {
	d, sb := setup(t)
	boom := errors.New("boom")
	d.FailStarts("web", 2, boom)
	for i := range 3 {
		id, err := d.CreateAndStart(t.Context(), runtime.ContainerSpec{SandboxID: sb.ID, Name: "web", Command: []string{"web"}})
		if id == "" {
			t.Fatalf("start %d: no ID", i)
		}
		st, _ := d.Inspect(t.Context(), id)
		if i < 2 {
			if !errors.Is(err, boom) || st.State != runtime.StateExited || st.ExitCode != ExitStartFailure || st.Message != "boom" {
				t.Errorf("start %d: %v, %+v; want the injected failure", i, err, st)
			}
		} else if err != nil || st.State != runtime.StateRunning {
			t.Errorf("start %d: %v, %+v; want running", i, err, st)
		}
	}
	if n := d.Starts("web"); n != 3 {
		t.Errorf("Starts = %d, want 3", n)
	}
}

func TestInjectError(t *testing.T) {
	d := newDriver(t)
	bad := errors.New("cni down")
	d.InjectError("RunSandbox", 1, bad)
	if _, err := d.RunSandbox(t.Context(), runtime.SandboxSpec{}); !errors.Is(err, bad) {
		t.Errorf("first RunSandbox: %v, want the injected error", err)
	}
	if _, err := d.RunSandbox(t.Context(), runtime.SandboxSpec{}); err != nil {
		t.Errorf("second RunSandbox: %v", err)
	}
	d.InjectError("ListContainers", -1, bad)
	for range 2 {
		if _, err := d.ListContainers(t.Context()); !errors.Is(err, bad) {
			t.Errorf("ListContainers: %v", err)
		}
	}
	d.InjectError("ListContainers", 0, nil)
	if _, err := d.ListContainers(t.Context()); err != nil {
		t.Errorf("after clearing: %v", err)
	}
}

func TestExecHandlerStatsOutputSpecs(t *testing.T) {
	d, sb := setup(t)
	id := start(t, d, sb, "app", []string{"app"}, EnvMemoryBytes+"=4096", "K=V")
	d.SetExecHandler(func(_ context.Context, c runtime.ContainerStatus, cmd []string, _ io.Reader, stdout, _ io.Writer) (int, error) {
		_, _ = io.WriteString(stdout, c.Name+":"+strings.Join(cmd, " "))
		return 9, nil
	})
	var out bytes.Buffer
	if code, err := d.Exec(t.Context(), id, []string{"probe"}, nil, &out, io.Discard); err != nil || code != 9 || out.String() != "app:probe" {
		t.Errorf("Exec with a handler: %d %v %q", code, err, out.String())
	}
	d.SetExecHandler(nil)
	if code, err := d.Exec(t.Context(), id, []string{"cat", "/healthy"}, nil, io.Discard, io.Discard); err != nil || code != 0 {
		t.Errorf("default Exec: %d %v", code, err)
	}

	s, _ := d.ContainerStats(t.Context(), id)
	if s.MemoryWorkingSetBytes != 4096 {
		t.Errorf("stats %+v, want 4096 bytes", s)
	}
	if err := d.SetStats(id, runtime.Stats{CPUUsageNanos: 7}); err != nil {
		t.Fatal(err)
	}
	if s, _ := d.ContainerStats(t.Context(), id); s.CPUUsageNanos != 7 || s.Timestamp.IsZero() {
		t.Errorf("fixed stats %+v", s)
	}

	if err := d.Output(id, "stderr", "injected"); err != nil {
		t.Fatal(err)
	}
	if got := logs(t, d, id); !strings.HasSuffix(got, "injected\n") {
		t.Errorf("logs %q", got)
	}
	spec, err := d.ContainerSpec(id)
	if err != nil || spec.Env[1] != "K=V" {
		t.Errorf("ContainerSpec: %+v %v", spec, err)
	}
	if ss, stopped, err := d.SandboxSpec(sb.ID); err != nil || stopped || ss.Name != "p" {
		t.Errorf("SandboxSpec: %+v %v %v", ss, stopped, err)
	}
}

func TestCloseStopsContainers(t *testing.T) {
	d := New()
	sb, _ := d.RunSandbox(t.Context(), runtime.SandboxSpec{})
	id := start(t, d, sb, "a", []string{"/bin/sh", "-c", "trap '' TERM; sleep 3600"})
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	if st, _ := d.Inspect(t.Context(), id); st.State != runtime.StateExited || st.ExitCode != ExitKILL {
		t.Errorf("after Close: %+v", st)
	}
	if _, err := d.RunSandbox(t.Context(), runtime.SandboxSpec{}); err == nil {
		t.Errorf("RunSandbox after Close succeeded")
	}
}

// TestNoGoroutineLeak checks that a closed mock leaves no goroutine behind.
func TestNoGoroutineLeak(t *testing.T) {
	before := goruntime.NumGoroutine()
	d := New()
	ctx := context.Background()
	sb, _ := d.RunSandbox(ctx, runtime.SandboxSpec{})
	for _, script := range []string{"sleep 3600", "trap '' TERM; sleep 3600", "echo hi"} {
		if _, err := d.CreateAndStart(ctx, runtime.ContainerSpec{SandboxID: sb.ID, Name: "c", Command: []string{"sh", "-c", script}}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := d.CreateAndStart(ctx, runtime.ContainerSpec{SandboxID: sb.ID, Name: "server", Command: []string{"server"}}); err != nil {
		t.Fatal(err)
	}
	cctx, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	_ = d.Logs(cctx, "mock-ctr-1", runtime.LogOptions{Follow: true, TailLines: -1}, io.Discard)
	cancel()
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for goruntime.NumGoroutine() > before {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			t.Fatalf("%d goroutines, %d before:\n%s", goruntime.NumGoroutine(), before, buf[:goruntime.Stack(buf, true)])
		}
		time.Sleep(10 * time.Millisecond)
	}
}
