package runtimetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"maps"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/berth-dev/berth/internal/agent/runtime"
)

// Capabilities says which optional features the driver under test has;
// the subtests of missing features are skipped.
type Capabilities struct {
	// Exec: the driver implements runtime.Execer.
	Exec bool
	// Stats: the driver implements runtime.StatsReader and the CPU usage
	// of a busy container grows.
	Stats bool
	// RequiresCommand: a container without a command fails with
	// runtime.ErrNoCommand (drivers without images).
	RequiresCommand bool
}

// timeout bounds every wait of the harness.
const timeout = 30 * time.Second

// Run runs the subtests every driver must pass. newDriver returns a fresh
// driver for one subtest and registers its clean-up with t; it is called
// from parallel subtests. Containers run Behaviour scripts through
// /bin/sh (see Behaviour); drivers may write lines of their own before a
// container's output (the mock does), so output checks look at the end of
// the logs.
func Run(t *testing.T, newDriver func(t *testing.T) runtime.Driver, caps Capabilities) {
	t.Helper()
	tests := []struct {
		name string
		// skip, when set, says why the driver skips the subtest.
		skip string
		run  func(t *testing.T, h *harness)
	}{
		{name: "SandboxLifecycle", run: testSandboxLifecycle},
		{name: "ExitCodes", run: testExitCodes},
		{name: "InspectRunning", run: testInspectRunning},
		{name: "WaitHonoursContext", run: testWaitContext},
		{name: "StopGrace", run: testStopGrace},
		{name: "EnvAndWorkingDir", run: testEnvAndWorkingDir},
		{name: "Logs", run: testLogs},
		{name: "LogsStderr", run: testLogsStderr},
		{name: "LogsSince", run: testLogsSince},
		{name: "LogsFollow", run: testLogsFollow},
		{name: "ListContainers", run: testListContainers},
		{name: "Remove", run: testRemove},
		{name: "StopSandboxKillsContainers", run: testStopSandbox},
		{name: "NotFound", run: testNotFound},
		{name: "NoCommand", skip: unless(caps.RequiresCommand, "driver takes commands from images"), run: testNoCommand},
		{name: "Exec", skip: unless(caps.Exec, "driver has no Exec"), run: testExec},
		{name: "Stats", skip: unless(caps.Stats, "driver reports no stats"), run: testStats},
		{name: "ConcurrentStarts", run: testConcurrentStarts},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.skip != "" {
				t.Skip(tc.skip)
			}
			t.Parallel()
			tc.run(t, &harness{d: newDriver(t), caps: caps})
		})
	}
}

func unless(ok bool, why string) string {
	if ok {
		return ""
	}
	return why
}

// harness drives one driver in one subtest.
type harness struct {
	d    runtime.Driver
	caps Capabilities
}

// seq numbers pods across subtests.
var seq atomic.Int64

// ctx is a context for one call, cancelled with the test.
func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(t.Context(), timeout)
	t.Cleanup(cancel)
	return c
}

// sandboxSpec is a pod sandbox request with labels.
func sandboxSpec() runtime.SandboxSpec {
	n := seq.Add(1)
	uid := fmt.Sprintf("uid-%d", n)
	name := fmt.Sprintf("pod-%d", n)
	return runtime.SandboxSpec{
		PodUID: uid, Namespace: "default", Name: name, Hostname: name,
		Labels: map[string]string{
			runtime.LabelPodUID: uid, runtime.LabelPodName: name, runtime.LabelPodNamespace: "default",
			"runtimetest/extra": "kept",
		},
	}
}

// sandbox runs a sandbox that is stopped and removed when the test ends.
func (h *harness) sandbox(t *testing.T) runtime.Sandbox {
	t.Helper()
	sb, err := h.d.RunSandbox(ctx(t), sandboxSpec())
	if err != nil {
		t.Fatalf("RunSandbox: %v", err)
	}
	t.Cleanup(func() {
		c, cancel := context.WithTimeout(context.Background(), timeout)
		defer cancel()
		if err := h.d.StopSandbox(c, sb.ID); err != nil && !errors.Is(err, runtime.ErrNotFound) {
			t.Errorf("clean-up: StopSandbox: %v", err)
		}
		if err := h.d.RemoveSandbox(c, sb.ID); err != nil && !errors.Is(err, runtime.ErrNotFound) {
			t.Errorf("clean-up: RemoveSandbox: %v", err)
		}
	})
	return sb
}

// spec is a container request running b.
func spec(sb runtime.Sandbox, name string, b Behaviour) runtime.ContainerSpec {
	return runtime.ContainerSpec{
		SandboxID: sb.ID, Name: name, Image: "busybox",
		Command: b.Command(),
		Env:     []string{DefaultPath},
		Labels: map[string]string{
			runtime.LabelPodUID: sb.Labels[runtime.LabelPodUID], runtime.LabelContainer: name, runtime.LabelAttempt: "0",
		},
	}
}

// start starts a container running b; mod, if set, edits the request.
func (h *harness) start(t *testing.T, sb runtime.Sandbox, name string, b Behaviour, mod func(*runtime.ContainerSpec)) string {
	t.Helper()
	s := spec(sb, name, b)
	if mod != nil {
		mod(&s)
	}
	id, err := h.d.CreateAndStart(ctx(t), s)
	if err != nil {
		t.Fatalf("CreateAndStart %s: %v", name, err)
	}
	if id == "" {
		t.Fatalf("CreateAndStart %s: empty ID", name)
	}
	return id
}

// wait waits for the container to exit.
func (h *harness) wait(t *testing.T, id string) runtime.ContainerStatus {
	t.Helper()
	st := Wait(t, h.d, id)
	if st.State != runtime.StateExited {
		t.Fatalf("Wait %s: state %q, want exited", id, st.State)
	}
	return st
}

// all selects the whole log.
var all = AllLogs

// logs reads the container's logs.
func (h *harness) logs(t *testing.T, id string, opts runtime.LogOptions) string {
	t.Helper()
	return Logs(t, h.d, id, opts)
}

// waitOutput waits until the container's logs hold want.
func (h *harness) waitOutput(t *testing.T, id, want string) {
	t.Helper()
	WaitLogs(t, h.d, id, want)
}

// lines splits output into lines (without the final empty one).
func lines(s string) []string {
	s = strings.TrimSuffix(s, "\n")
	if s == "" {
		return nil
	}
	return strings.Split(s, "\n")
}

// hasSuffixLines reports whether the output ends with the lines want.
func hasSuffixLines(out string, want ...string) bool {
	got := lines(out)
	return len(got) >= len(want) && slices.Equal(got[len(got)-len(want):], want)
}

func findSandbox(list []runtime.Sandbox, id string) *runtime.Sandbox {
	for i := range list {
		if list[i].ID == id {
			return &list[i]
		}
	}
	return nil
}

func findContainer(list []runtime.ContainerStatus, id string) *runtime.ContainerStatus {
	for i := range list {
		if list[i].ID == id {
			return &list[i]
		}
	}
	return nil
}

func testSandboxLifecycle(t *testing.T, h *harness) {
	spec1, spec2 := sandboxSpec(), sandboxSpec()
	sb1, err := h.d.RunSandbox(ctx(t), spec1)
	if err != nil {
		t.Fatalf("RunSandbox: %v", err)
	}
	if sb1.ID == "" || sb1.CreatedAt.IsZero() {
		t.Errorf("sandbox %+v: want an ID and a creation time", sb1)
	}
	if !maps.Equal(sb1.Labels, spec1.Labels) {
		t.Errorf("labels %v, want %v", sb1.Labels, spec1.Labels)
	}
	sb2, err := h.d.RunSandbox(ctx(t), spec2)
	if err != nil {
		t.Fatalf("RunSandbox: %v", err)
	}
	if sb2.ID == sb1.ID {
		t.Fatalf("two sandboxes share the ID %s", sb1.ID)
	}
	t.Cleanup(func() {
		c, cancel := context.WithTimeout(context.Background(), timeout)
		defer cancel()
		_ = h.d.StopSandbox(c, sb2.ID)
		_ = h.d.RemoveSandbox(c, sb2.ID)
	})

	list, err := h.d.ListSandboxes(ctx(t))
	if err != nil {
		t.Fatalf("ListSandboxes: %v", err)
	}
	for _, want := range []runtime.Sandbox{sb1, sb2} {
		got := findSandbox(list, want.ID)
		if got == nil {
			t.Fatalf("sandbox %s not listed in %+v", want.ID, list)
		}
		if !maps.Equal(got.Labels, want.Labels) || got.IP != want.IP || got.HostNetwork != want.HostNetwork {
			t.Errorf("listed %+v, want %+v", *got, want)
		}
	}

	for i := range 2 { // stopping twice is fine
		if err := h.d.StopSandbox(ctx(t), sb1.ID); err != nil {
			t.Fatalf("StopSandbox #%d: %v", i+1, err)
		}
	}
	list, _ = h.d.ListSandboxes(ctx(t))
	if findSandbox(list, sb1.ID) == nil {
		t.Errorf("stopped sandbox %s not listed", sb1.ID)
	}
	if err := h.d.RemoveSandbox(ctx(t), sb1.ID); err != nil {
		t.Fatalf("RemoveSandbox: %v", err)
	}
	list, _ = h.d.ListSandboxes(ctx(t))
	if findSandbox(list, sb1.ID) != nil || findSandbox(list, sb2.ID) == nil {
		t.Errorf("after removing %s: listed %+v", sb1.ID, list)
	}
	if err := h.d.RemoveSandbox(ctx(t), sb1.ID); !errors.Is(err, runtime.ErrNotFound) {
		t.Errorf("RemoveSandbox of a removed sandbox: %v, want ErrNotFound", err)
	}
	if _, err := h.d.CreateAndStart(ctx(t), spec(sb1, "late", Behaviour{})); !errors.Is(err, runtime.ErrNotFound) {
		t.Errorf("CreateAndStart in a removed sandbox: %v, want ErrNotFound", err)
	}
}

func testExitCodes(t *testing.T, h *harness) {
	sb := h.sandbox(t)
	tests := []struct {
		name   string
		b      Behaviour
		code   int
		reason string
	}{
		{name: "success", b: Behaviour{Stdout: []string{"hi"}}, code: 0, reason: "Completed"},
		{name: "failure", b: Behaviour{Stdout: []string{"hi"}, ExitCode: 3}, code: 3, reason: "Error"},
		{name: "high", b: Behaviour{ExitCode: 42}, code: 42, reason: "Error"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := time.Now().Add(-time.Second)
			id := h.start(t, sb, tc.name, tc.b, nil)
			st := h.wait(t, id)
			if st.ExitCode != tc.code || st.Reason != tc.reason {
				t.Errorf("exit %d %q, want %d %q (status %+v)", st.ExitCode, st.Reason, tc.code, tc.reason, st)
			}
			if st.ID != id || st.Name != tc.name || st.SandboxID != sb.ID || st.Labels[runtime.LabelContainer] != tc.name {
				t.Errorf("status %+v does not describe container %s (%s) of sandbox %s", st, id, tc.name, sb.ID)
			}
			if st.CreatedAt.Before(before) || st.StartedAt.Before(st.CreatedAt) || st.FinishedAt.Before(st.StartedAt) {
				t.Errorf("times created %v started %v finished %v", st.CreatedAt, st.StartedAt, st.FinishedAt)
			}
			in, err := h.d.Inspect(ctx(t), id)
			if err != nil {
				t.Fatalf("Inspect: %v", err)
			}
			if in.State != st.State || in.ExitCode != st.ExitCode || in.Reason != st.Reason || !in.FinishedAt.Equal(st.FinishedAt) {
				t.Errorf("Inspect %+v differs from Wait %+v", in, st)
			}
		})
	}
}

func testInspectRunning(t *testing.T, h *harness) {
	sb := h.sandbox(t)
	id := h.start(t, sb, "sleeper", Behaviour{Stdout: []string{"ready"}, Sleep: time.Minute}, nil)
	h.waitOutput(t, id, "ready")
	st, err := h.d.Inspect(ctx(t), id)
	if err != nil {
		t.Fatalf("Inspect: %v", err)
	}
	if st.State != runtime.StateRunning || st.StartedAt.IsZero() || !st.FinishedAt.IsZero() {
		t.Errorf("running container: %+v", st)
	}
}

func testWaitContext(t *testing.T, h *harness) {
	sb := h.sandbox(t)
	id := h.start(t, sb, "sleeper", Behaviour{Sleep: time.Minute}, nil)
	c, cancel := context.WithTimeout(t.Context(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	if _, err := h.d.Wait(c, id); err == nil {
		t.Errorf("Wait of a running container with an expiring context returned no error")
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("Wait returned %v after its context expired", d)
	}
}

func testStopGrace(t *testing.T, h *harness) {
	sb := h.sandbox(t)
	tests := []struct {
		name             string
		b                Behaviour
		grace            time.Duration
		minTook, maxTook time.Duration
		code             int
	}{
		{name: "exits on SIGTERM", b: Behaviour{Stdout: []string{"ready"}, Sleep: time.Minute},
			grace: 20 * time.Second, maxTook: 10 * time.Second, code: 143},
		{name: "busy exits on SIGTERM", b: Behaviour{Stdout: []string{"ready"}, Busy: true},
			grace: 20 * time.Second, maxTook: 10 * time.Second, code: 143},
		{name: "ignores SIGTERM", b: Behaviour{IgnoreTERM: true, Stdout: []string{"ready"}, Sleep: time.Minute},
			grace: time.Second, minTook: 900 * time.Millisecond, maxTook: 15 * time.Second, code: 137},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			id := h.start(t, sb, strings.ReplaceAll(tc.name, " ", "-"), tc.b, nil)
			h.waitOutput(t, id, "ready")
			start := time.Now()
			if err := h.d.Stop(ctx(t), id, tc.grace); err != nil {
				t.Fatalf("Stop: %v", err)
			}
			took := time.Since(start)
			if took < tc.minTook || took > tc.maxTook {
				t.Errorf("Stop took %v, want within [%v, %v]", took, tc.minTook, tc.maxTook)
			}
			st, err := h.d.Inspect(ctx(t), id)
			if err != nil {
				t.Fatalf("Inspect: %v", err)
			}
			if st.State != runtime.StateExited || st.ExitCode != tc.code || st.Reason != "Error" {
				t.Errorf("after Stop: %+v, want exited with %d (Error)", st, tc.code)
			}
			if err := h.d.Stop(ctx(t), id, tc.grace); err != nil {
				t.Errorf("Stop of an exited container: %v", err)
			}
			if again, _ := h.d.Inspect(ctx(t), id); again.ExitCode != st.ExitCode || !again.FinishedAt.Equal(st.FinishedAt) {
				t.Errorf("second Stop changed the status: %+v, was %+v", again, st)
			}
		})
	}
}

func testEnvAndWorkingDir(t *testing.T, h *harness) {
	sb := h.sandbox(t)
	dir := t.TempDir()
	id := h.start(t, sb, "env", Behaviour{PrintEnv: []string{"GREETING", "EMPTY", "UNSET"}, PrintCwd: true},
		func(s *runtime.ContainerSpec) {
			s.Env = append(s.Env, "GREETING=hello world", "EMPTY=")
			s.WorkingDir = dir
		})
	if st := h.wait(t, id); st.ExitCode != 0 {
		t.Fatalf("exit %d", st.ExitCode)
	}
	out := h.logs(t, id, all)
	real, _ := filepath.EvalSymlinks(dir)
	if !hasSuffixLines(out, "hello world", "", "", dir) && !hasSuffixLines(out, "hello world", "", "", real) {
		t.Errorf("output %q, want the env values and %s", out, dir)
	}
}

func testLogs(t *testing.T, h *harness) {
	sb := h.sandbox(t)
	before := time.Now().Add(-time.Second)
	id := h.start(t, sb, "talker", Behaviour{Stdout: []string{"one", "two", "three"}}, nil)
	h.wait(t, id)
	after := time.Now().Add(time.Second)
	tests := []struct {
		name  string
		opts  runtime.LogOptions
		check func(t *testing.T, out string)
	}{
		{name: "all", opts: all, check: func(t *testing.T, out string) {
			if !hasSuffixLines(out, "one", "two", "three") {
				t.Errorf("output %q, want it to end with one, two, three", out)
			}
		}},
		{name: "tail 2", opts: runtime.LogOptions{TailLines: 2}, check: func(t *testing.T, out string) {
			if out != "two\nthree\n" {
				t.Errorf("output %q, want two, three", out)
			}
		}},
		{name: "tail 0", opts: runtime.LogOptions{TailLines: 0}, check: func(t *testing.T, out string) {
			if out != "" {
				t.Errorf("output %q, want nothing", out)
			}
		}},
		{name: "tail 1000", opts: runtime.LogOptions{TailLines: 1000}, check: func(t *testing.T, out string) {
			if !hasSuffixLines(out, "one", "two", "three") {
				t.Errorf("output %q, want it to end with one, two, three", out)
			}
		}},
		{name: "timestamps", opts: runtime.LogOptions{TailLines: 3, Timestamps: true}, check: func(t *testing.T, out string) {
			ls := lines(out)
			if len(ls) != 3 {
				t.Fatalf("output %q, want 3 lines", out)
			}
			var prev time.Time
			for i, l := range ls {
				ts, text, ok := strings.Cut(l, " ")
				tm, err := time.Parse(time.RFC3339Nano, ts)
				if !ok || err != nil {
					t.Fatalf("line %q: no RFC 3339 timestamp (%v)", l, err)
				}
				if want := []string{"one", "two", "three"}[i]; text != want {
					t.Errorf("line %q: text %q, want %q", l, text, want)
				}
				if tm.Before(before) || tm.After(after) || tm.Before(prev) {
					t.Errorf("line %q: time %v outside [%v, %v] or before the previous line's", l, tm, before, after)
				}
				prev = tm
			}
		}},
		{name: "limit bytes", opts: runtime.LogOptions{TailLines: -1, LimitBytes: 5}, check: func(t *testing.T, out string) {
			if len(out) != 5 {
				t.Errorf("output %q: %d bytes, want 5", out, len(out))
			}
		}},
		{name: "tail and limit", opts: runtime.LogOptions{TailLines: 2, LimitBytes: 6}, check: func(t *testing.T, out string) {
			if out != "two\nth" {
				t.Errorf("output %q, want %q", out, "two\nth")
			}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.check(t, h.logs(t, id, tc.opts))
		})
	}
}

func testLogsStderr(t *testing.T, h *harness) {
	sb := h.sandbox(t)
	id := h.start(t, sb, "grumbler", Behaviour{Stderr: []string{"oops"}, ExitCode: 1}, nil)
	h.wait(t, id)
	if out := h.logs(t, id, all); !hasSuffixLines(out, "oops") {
		t.Errorf("output %q, want the stderr line oops", out)
	}
}

func testLogsSince(t *testing.T, h *harness) {
	sb := h.sandbox(t)
	id := h.start(t, sb, "slow", Behaviour{Stdout: []string{"early"}, Sleep: 1500 * time.Millisecond, After: []string{"late"}}, nil)
	st := h.wait(t, id)
	if out := h.logs(t, id, runtime.LogOptions{TailLines: -1, Since: st.StartedAt.Add(700 * time.Millisecond)}); out != "late\n" {
		t.Errorf("since start+700ms: output %q, want late", out)
	}
	if out := h.logs(t, id, runtime.LogOptions{TailLines: -1, Since: st.CreatedAt.Add(-time.Second)}); !hasSuffixLines(out, "early", "late") {
		t.Errorf("since before the start: output %q, want early, late", out)
	}
	if out := h.logs(t, id, runtime.LogOptions{TailLines: -1, Since: time.Now().Add(time.Second)}); out != "" {
		t.Errorf("since the future: output %q, want nothing", out)
	}
}

func testLogsFollow(t *testing.T, h *harness) {
	sb := h.sandbox(t)
	t.Run("until exit", func(t *testing.T) {
		id := h.start(t, sb, "follow", Behaviour{Stdout: []string{"a"}, Sleep: 500 * time.Millisecond, After: []string{"b"}}, nil)
		var out bytes.Buffer
		if err := h.d.Logs(ctx(t), id, runtime.LogOptions{Follow: true, TailLines: -1}, &out); err != nil {
			t.Fatalf("Logs: %v", err)
		}
		if !hasSuffixLines(out.String(), "a", "b") {
			t.Errorf("followed %q, want it to end with a, b", out.String())
		}
		if st, _ := h.d.Inspect(ctx(t), id); st.State != runtime.StateExited {
			t.Errorf("follow returned while the container is %s", st.State)
		}
	})
	t.Run("until cancelled", func(t *testing.T) {
		id := h.start(t, sb, "forever", Behaviour{Stdout: []string{"x"}, Sleep: time.Minute}, nil)
		h.waitOutput(t, id, "x\n")
		c, cancel := context.WithTimeout(t.Context(), 300*time.Millisecond)
		defer cancel()
		var out bytes.Buffer
		start := time.Now()
		err := h.d.Logs(c, id, runtime.LogOptions{Follow: true, TailLines: -1}, &out)
		if err != nil && !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("Logs: %v, want nil or the context's error", err)
		}
		if took := time.Since(start); took > 10*time.Second {
			t.Errorf("follow returned %v after its context expired", took)
		}
		if !hasSuffixLines(out.String(), "x") {
			t.Errorf("followed %q, want x", out.String())
		}
	})
	t.Run("exited, tail 1", func(t *testing.T) {
		id := h.start(t, sb, "done", Behaviour{Stdout: []string{"p", "q"}}, nil)
		h.wait(t, id)
		if out := h.logs(t, id, runtime.LogOptions{Follow: true, TailLines: 1}); out != "q\n" {
			t.Errorf("followed %q, want q", out)
		}
	})
}

func testListContainers(t *testing.T, h *harness) {
	sb := h.sandbox(t)
	want := map[string]runtime.ContainerStatus{}
	for i := range 4 {
		name := fmt.Sprintf("c%d", i)
		id := h.start(t, sb, name, Behaviour{Stdout: []string{name}, ExitCode: i}, nil)
		want[id] = h.wait(t, id)
	}
	for range 3 { // a container restarted: every instance is listed
		id := h.start(t, sb, "restarted", Behaviour{ExitCode: 1}, nil)
		want[id] = h.wait(t, id)
	}
	running := h.start(t, sb, "running", Behaviour{Sleep: time.Minute}, nil)
	list, err := h.d.ListContainers(ctx(t))
	if err != nil {
		t.Fatalf("ListContainers: %v", err)
	}
	for id, w := range want {
		got := findContainer(list, id)
		if got == nil {
			t.Errorf("container %s (%s) not listed", id, w.Name)
			continue
		}
		if got.Name != w.Name || got.SandboxID != sb.ID || got.State != runtime.StateExited || got.ExitCode != w.ExitCode ||
			got.Labels[runtime.LabelContainer] != w.Name {
			t.Errorf("listed %+v, want %+v", *got, w)
		}
	}
	if got := findContainer(list, running); got == nil || got.State != runtime.StateRunning {
		t.Errorf("running container listed as %+v", got)
	}
}

func testRemove(t *testing.T, h *harness) {
	sb := h.sandbox(t)
	id := h.start(t, sb, "gone", Behaviour{Stdout: []string{"bye"}}, nil)
	h.wait(t, id)
	if err := h.d.Remove(ctx(t), id); err != nil {
		t.Fatalf("Remove: %v", err)
	}
	if _, err := h.d.Inspect(ctx(t), id); !errors.Is(err, runtime.ErrNotFound) {
		t.Errorf("Inspect after Remove: %v, want ErrNotFound", err)
	}
	if err := h.d.Logs(ctx(t), id, all, &bytes.Buffer{}); !errors.Is(err, runtime.ErrNotFound) {
		t.Errorf("Logs after Remove: %v, want ErrNotFound", err)
	}
	list, _ := h.d.ListContainers(ctx(t))
	if findContainer(list, id) != nil {
		t.Errorf("removed container %s still listed", id)
	}
	if err := h.d.Remove(ctx(t), id); !errors.Is(err, runtime.ErrNotFound) {
		t.Errorf("second Remove: %v, want ErrNotFound", err)
	}

	// Removing the sandbox removes its containers.
	sb2 := h.sandbox(t)
	id2 := h.start(t, sb2, "inner", Behaviour{Sleep: time.Minute}, nil)
	if err := h.d.StopSandbox(ctx(t), sb2.ID); err != nil {
		t.Fatalf("StopSandbox: %v", err)
	}
	if err := h.d.RemoveSandbox(ctx(t), sb2.ID); err != nil {
		t.Fatalf("RemoveSandbox: %v", err)
	}
	if _, err := h.d.Inspect(ctx(t), id2); !errors.Is(err, runtime.ErrNotFound) {
		t.Errorf("Inspect of a removed sandbox's container: %v, want ErrNotFound", err)
	}
}

func testStopSandbox(t *testing.T, h *harness) {
	sb := h.sandbox(t)
	ids := []string{
		h.start(t, sb, "polite", Behaviour{Stdout: []string{"ready"}, Sleep: time.Minute}, nil),
		h.start(t, sb, "stubborn", Behaviour{IgnoreTERM: true, Stdout: []string{"ready"}, Sleep: time.Minute}, nil),
	}
	for _, id := range ids {
		h.waitOutput(t, id, "ready")
	}
	start := time.Now()
	if err := h.d.StopSandbox(ctx(t), sb.ID); err != nil {
		t.Fatalf("StopSandbox: %v", err)
	}
	if took := time.Since(start); took > 15*time.Second {
		t.Errorf("StopSandbox took %v", took)
	}
	for _, id := range ids {
		st, err := h.d.Inspect(ctx(t), id)
		if err != nil || st.State != runtime.StateExited || st.ExitCode == 0 {
			t.Errorf("after StopSandbox: %+v, %v; want exited, killed", st, err)
		}
	}
	if _, err := h.d.CreateAndStart(ctx(t), spec(sb, "late", Behaviour{})); err == nil {
		t.Errorf("CreateAndStart in a stopped sandbox succeeded")
	}
}

func testNotFound(t *testing.T, h *harness) {
	const id = "no-such-id"
	sb := h.sandbox(t)
	tests := []struct {
		name string
		call func(ctx context.Context) error
	}{
		{"Stop", func(c context.Context) error { return h.d.Stop(c, id, time.Second) }},
		{"Inspect", func(c context.Context) error { _, err := h.d.Inspect(c, id); return err }},
		{"Wait", func(c context.Context) error { _, err := h.d.Wait(c, id); return err }},
		{"Remove", func(c context.Context) error { return h.d.Remove(c, id) }},
		{"Logs", func(c context.Context) error { return h.d.Logs(c, id, all, &bytes.Buffer{}) }},
		{"StopSandbox", func(c context.Context) error { return h.d.StopSandbox(c, id) }},
		{"RemoveSandbox", func(c context.Context) error { return h.d.RemoveSandbox(c, id) }},
		{"CreateAndStart", func(c context.Context) error {
			s := spec(sb, "x", Behaviour{})
			s.SandboxID = id
			_, err := h.d.CreateAndStart(c, s)
			return err
		}},
	}
	if e, ok := h.d.(runtime.Execer); ok && h.caps.Exec {
		tests = append(tests, struct {
			name string
			call func(ctx context.Context) error
		}{"Exec", func(c context.Context) error {
			_, err := e.Exec(c, id, []string{"true"}, nil, &bytes.Buffer{}, &bytes.Buffer{})
			return err
		}})
	}
	if s, ok := h.d.(runtime.StatsReader); ok && h.caps.Stats {
		tests = append(tests, struct {
			name string
			call func(ctx context.Context) error
		}{"ContainerStats", func(c context.Context) error { _, err := s.ContainerStats(c, id); return err }},
			struct {
				name string
				call func(ctx context.Context) error
			}{"SandboxStats", func(c context.Context) error { _, err := s.SandboxStats(c, id); return err }})
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.call(ctx(t)); !errors.Is(err, runtime.ErrNotFound) {
				t.Errorf("%s(%q): %v, want ErrNotFound", tc.name, id, err)
			}
		})
	}
}

func testNoCommand(t *testing.T, h *harness) {
	sb := h.sandbox(t)
	s := spec(sb, "empty", Behaviour{})
	s.Command, s.Args = nil, nil
	if _, err := h.d.CreateAndStart(ctx(t), s); !errors.Is(err, runtime.ErrNoCommand) {
		t.Errorf("CreateAndStart without a command: %v, want ErrNoCommand", err)
	}
}

func testExec(t *testing.T, h *harness) {
	e, ok := h.d.(runtime.Execer)
	if !ok {
		t.Fatalf("driver %T does not implement runtime.Execer", h.d)
	}
	sb := h.sandbox(t)
	dir := t.TempDir()
	id := h.start(t, sb, "target", Behaviour{Stdout: []string{"ready"}, Sleep: time.Minute}, func(s *runtime.ContainerSpec) {
		s.Env = append(s.Env, "FOO=bar")
		s.WorkingDir = dir
	})
	h.waitOutput(t, id, "ready")
	var stdout, stderr bytes.Buffer
	code, err := e.Exec(ctx(t), id, Behaviour{PrintEnv: []string{"FOO"}, PrintCwd: true, Stderr: []string{"warn"}, ExitCode: 4}.Command(),
		nil, &stdout, &stderr)
	if err != nil {
		t.Fatalf("Exec: %v", err)
	}
	real, _ := filepath.EvalSymlinks(dir)
	if code != 4 || (stdout.String() != "bar\n"+dir+"\n" && stdout.String() != "bar\n"+real+"\n") || stderr.String() != "warn\n" {
		t.Errorf("Exec: code %d, stdout %q, stderr %q; want 4, bar and %s, warn", code, stdout.String(), stderr.String(), dir)
	}

	c, cancel := context.WithTimeout(t.Context(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	if _, err := e.Exec(c, id, Behaviour{Sleep: time.Minute}.Command(), nil, &stdout, &stderr); err == nil {
		t.Errorf("Exec with an expiring context returned no error")
	}
	if took := time.Since(start); took > 10*time.Second {
		t.Errorf("Exec returned %v after its context expired", took)
	}

	if err := h.d.Stop(ctx(t), id, 0); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	if _, err := e.Exec(ctx(t), id, []string{"true"}, nil, &stdout, &stderr); err == nil {
		t.Errorf("Exec in an exited container succeeded")
	}
}

func testStats(t *testing.T, h *harness) {
	s, ok := h.d.(runtime.StatsReader)
	if !ok {
		t.Fatalf("driver %T does not implement runtime.StatsReader", h.d)
	}
	sb := h.sandbox(t)
	id := h.start(t, sb, "busy", Behaviour{Stdout: []string{"ready"}, Busy: true}, nil)
	h.waitOutput(t, id, "ready")
	var first, prev runtime.Stats
	for i := range 6 {
		if i > 0 {
			time.Sleep(200 * time.Millisecond)
		}
		st, err := s.ContainerStats(ctx(t), id)
		if err != nil {
			t.Fatalf("ContainerStats: %v", err)
		}
		if st.Timestamp.IsZero() {
			t.Errorf("stats without a timestamp: %+v", st)
		}
		if i == 0 {
			first = st
		} else if st.CPUUsageNanos < prev.CPUUsageNanos {
			t.Errorf("CPU usage went down: %d after %d", st.CPUUsageNanos, prev.CPUUsageNanos)
		}
		prev = st
	}
	if prev.CPUUsageNanos <= first.CPUUsageNanos {
		t.Errorf("a busy container's CPU usage did not grow in a second: %d then %d", first.CPUUsageNanos, prev.CPUUsageNanos)
	}
	pod, err := s.SandboxStats(ctx(t), sb.ID)
	if err != nil {
		t.Fatalf("SandboxStats: %v", err)
	}
	if pod.CPUUsageNanos < first.CPUUsageNanos || pod.Timestamp.IsZero() {
		t.Errorf("sandbox stats %+v below the container's %+v", pod, first)
	}
}

func testConcurrentStarts(t *testing.T, h *harness) {
	const n = 20
	sb := h.sandbox(t)
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		ids  = map[string]int{}
		done = make(chan struct{})
	)
	// A reader lists and inspects while the containers start.
	var readers sync.WaitGroup
	readers.Go(func() {
		for {
			select {
			case <-done:
				return
			default:
			}
			list, err := h.d.ListContainers(t.Context())
			if err != nil {
				t.Errorf("ListContainers: %v", err)
				return
			}
			for _, c := range list {
				_, _ = h.d.Inspect(t.Context(), c.ID)
			}
			time.Sleep(time.Millisecond)
		}
	})
	for i := range n {
		wg.Go(func() {
			name := fmt.Sprintf("c%02d", i)
			id, err := h.d.CreateAndStart(ctx(t), spec(sb, name, Behaviour{Stdout: []string{name}, ExitCode: i % 3}))
			if err != nil {
				t.Errorf("CreateAndStart %s: %v", name, err)
				return
			}
			st, err := h.d.Wait(ctx(t), id)
			if err != nil || st.ExitCode != i%3 || st.Name != name {
				t.Errorf("container %s: %+v, %v; want exit %d", name, st, err, i%3)
			}
			mu.Lock()
			ids[id] = i
			mu.Unlock()
		})
	}
	wg.Wait()
	close(done)
	readers.Wait()
	if len(ids) != n {
		t.Fatalf("%d distinct containers, want %d", len(ids), n)
	}
	list, err := h.d.ListContainers(ctx(t))
	if err != nil {
		t.Fatalf("ListContainers: %v", err)
	}
	for id, i := range ids {
		if got := findContainer(list, id); got == nil || got.ExitCode != i%3 {
			t.Errorf("container %s listed as %+v", id, got)
		}
		if out := h.logs(t, id, all); !hasSuffixLines(out, fmt.Sprintf("c%02d", i)) {
			t.Errorf("container c%02d wrote %q", i, out)
		}
	}
}
