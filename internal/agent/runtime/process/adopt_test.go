package process

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/berth-dev/berth/internal/agent/runtime"
)

func TestAdoptionByNewDriver(t *testing.T) {
	cfg := testConfig(t)
	d1, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	sb := sandboxFor(t, d1, runtime.SandboxSpec{Name: "p", Labels: map[string]string{runtime.LabelPodUID: "u1"}})
	id := sh(t, d1, sb, "sleeper", "echo before; sleep 0.5; echo during; exec sleep 30", nil)
	waitLogs(t, d1, id, "before\n")
	st1, _ := d1.Inspect(t.Context(), id)
	start1 := mustStat(t, st1.PID, false).startTime
	if err := d1.Close(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(800 * time.Millisecond) // "during" is written while no driver runs

	d2 := newDriver(t, cfg)
	sbs, _ := d2.ListSandboxes(t.Context())
	if len(sbs) != 1 || sbs[0].ID != sb.ID || sbs[0].Labels[runtime.LabelPodUID] != "u1" {
		t.Errorf("adopted sandboxes %+v, want %+v", sbs, sb)
	}
	list, _ := d2.ListContainers(t.Context())
	if len(list) != 1 || list[0].ID != id || list[0].State != runtime.StateRunning || list[0].PID != st1.PID {
		t.Fatalf("adopted containers %+v, want %s running as pid %d", list, id, st1.PID)
	}
	waitLogs(t, d2, id, "during\n")
	if out := logs(t, d2, id); out != "before\nduring\n" {
		t.Errorf("logs %q: want each line once", out)
	}
	if code, err := d2.Exec(t.Context(), id, []string{"true"}, nil, nil, nil); err != nil || code != 0 {
		t.Errorf("Exec in an adopted container: %d, %v", code, err)
	}
	start := time.Now()
	if err := d2.Stop(t.Context(), id, 10*time.Second); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	if took := time.Since(start); took > 5*time.Second {
		t.Errorf("Stop took %v", took)
	}
	st, _ := d2.Inspect(t.Context(), id)
	// The process is still a child of this test process, so its status
	// is known (after a real agent restart it would be ExitUnknown).
	if st.State != runtime.StateExited || st.ExitCode != 143 {
		t.Errorf("after Stop: %+v", st)
	}
	if alive(st1.PID, start1) {
		t.Errorf("process %d still runs", st1.PID)
	}
	if err := d2.Close(); err != nil {
		t.Fatal(err)
	}

	d3 := newDriver(t, cfg)
	if st3, err := d3.Inspect(t.Context(), id); err != nil || st3.ExitCode != 143 || !st3.FinishedAt.Equal(st.FinishedAt) {
		t.Errorf("third driver: %+v, %v; want the recorded exit", st3, err)
	}
}

// mustStat reads /proc/<pid>/stat; gone tolerates a missing process.
func mustStat(t *testing.T, pid int, gone bool) procStat {
	t.Helper()
	st, err := readStat(pid)
	if err != nil && !gone {
		t.Fatal(err)
	}
	return st
}

// orphan starts command in a session of its own as a process that is not
// a child of the test process, and returns its PID.
func orphan(t *testing.T, command string) int {
	t.Helper()
	out, err := exec.Command("/bin/sh", "-c", "setsid "+command+" </dev/null >/dev/null 2>&1 & echo $!").Output()
	if err != nil {
		t.Skipf("cannot start an orphan process: %v", err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(out)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = syscall.Kill(pid, syscall.SIGKILL) })
	deadline := time.Now().Add(5 * time.Second)
	for { // wait until it is reparented and runs the command
		st, err := readStat(pid)
		if err == nil && st.pgrp == pid {
			if b, _ := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status"); !strings.Contains(string(b), "PPid:\t"+strconv.Itoa(os.Getpid())+"\n") {
				return pid
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("orphan %d did not start", pid)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// craft records a running container with the given process, as an
// earlier driver would have, and returns its ID.
func craft(t *testing.T, stateDir, sandboxID string, pid int, startTime uint64) string {
	t.Helper()
	id := newID()
	dir := filepath.Join(stateDir, containersDir, id)
	if err := os.MkdirAll(filepath.Join(dir, workDirName), 0o755); err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	rec := containerRecord{
		Status: runtime.ContainerStatus{ID: id, SandboxID: sandboxID, Name: "crafted", State: runtime.StateRunning, PID: pid,
			CreatedAt: now, StartedAt: now},
		Spec:      runtime.ContainerSpec{SandboxID: sandboxID, Name: "crafted", Command: []string{"sleep", "30"}, LogMaxBytes: DefaultLogMaxBytes},
		StartTime: startTime,
		WorkDir:   filepath.Join(dir, workDirName),
	}
	if err := writeJSON(filepath.Join(dir, recordFile), rec); err != nil {
		t.Fatal(err)
	}
	return id
}

func TestAdoptNonChild(t *testing.T) {
	tests := []struct {
		name    string
		command string
		// end ends the process: by Stop (grace) or an outside kill.
		stop    bool
		grace   time.Duration
		code    int
		message string
	}{
		{name: "killed from outside", command: "sleep 30", code: ExitUnknown, message: "unknown"},
		{name: "stopped by SIGTERM", command: "sleep 30", stop: true, grace: 10 * time.Second, code: ExitUnknown, message: "unknown"},
		{name: "ignores SIGTERM", command: `sh -c "trap '' TERM; sleep 30"`, stop: true, grace: 300 * time.Millisecond, code: 137, message: "SIGKILL"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := testConfig(t)
			d1 := newDriver(t, cfg)
			sb := sandboxFor(t, d1, runtime.SandboxSpec{Name: "p"})
			_ = d1.Close()
			pid := orphan(t, tc.command)
			time.Sleep(100 * time.Millisecond) // let sh install its trap
			startTime := mustStat(t, pid, false).startTime
			id := craft(t, cfg.StateDir, sb.ID, pid, startTime)

			d := newDriver(t, cfg)
			if st, err := d.Inspect(t.Context(), id); err != nil || st.State != runtime.StateRunning {
				t.Fatalf("adopted: %+v, %v; want running", st, err)
			}
			if tc.stop {
				if err := d.Stop(t.Context(), id, tc.grace); err != nil {
					t.Fatalf("Stop: %v", err)
				}
			} else {
				if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
					t.Fatal(err)
				}
			}
			st := wait(t, d, id)
			if st.ExitCode != tc.code || st.Reason != "Error" || !strings.Contains(st.Message, tc.message) {
				t.Errorf("exit %+v, want code %d and a message about %q", st, tc.code, tc.message)
			}
			if alive(pid, startTime) {
				t.Errorf("process %d still runs", pid)
			}
		})
	}
}

func TestPIDReuseGuard(t *testing.T) {
	cfg := testConfig(t)
	d1 := newDriver(t, cfg)
	sb := sandboxFor(t, d1, runtime.SandboxSpec{Name: "p"})
	_ = d1.Close()

	// An unrelated process now has the PID the record names, but it
	// started at another time.
	other := exec.Command("sleep", "30")
	other.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := other.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = other.Process.Kill()
		_ = other.Wait()
	})
	pid := other.Process.Pid
	real := mustStat(t, pid, false).startTime
	id := craft(t, cfg.StateDir, sb.ID, pid, real+1)

	d := newDriver(t, cfg)
	st, err := d.Inspect(t.Context(), id)
	if err != nil || st.State != runtime.StateExited || st.ExitCode != ExitUnknown {
		t.Errorf("container whose PID was reused: %+v, %v; want exited with %d", st, err, ExitUnknown)
	}
	if err := d.Stop(t.Context(), id, 0); err != nil {
		t.Errorf("Stop: %v", err)
	}
	if err := d.Remove(t.Context(), id); err != nil {
		t.Errorf("Remove: %v", err)
	}
	if err := d.RemoveSandbox(t.Context(), sb.ID); err != nil {
		t.Errorf("RemoveSandbox: %v", err)
	}
	if !alive(pid, real) {
		t.Errorf("the unrelated process %d was killed", pid)
	}
}

// TestInterruptedStartRemoved: a container directory without a record is
// what a driver that stopped in the middle of a start leaves; the next
// driver removes it and keeps the recorded containers.
func TestInterruptedStartRemoved(t *testing.T) {
	cfg := testConfig(t)
	d1 := newDriver(t, cfg)
	sb := sandboxFor(t, d1, runtime.SandboxSpec{Name: "p"})
	id := sh(t, d1, sb, "sleeper", "exec sleep 30", nil)
	if err := d1.Close(); err != nil {
		t.Fatal(err)
	}
	orphan := filepath.Join(cfg.StateDir, containersDir, "0123456789abcdef0123456789abcdef")
	if err := os.MkdirAll(filepath.Join(orphan, workDirName), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(orphan, "stdout"), nil, 0o600); err != nil {
		t.Fatal(err)
	}

	d2 := newDriver(t, cfg)
	if _, err := os.Stat(orphan); !os.IsNotExist(err) {
		t.Errorf("directory of the interrupted start kept: %v", err)
	}
	list, _ := d2.ListContainers(t.Context())
	if len(list) != 1 || list[0].ID != id || list[0].State != runtime.StateRunning {
		t.Errorf("containers %+v, want only %s, running", list, id)
	}
	if err := d2.Stop(t.Context(), id, 0); err != nil {
		t.Fatal(err)
	}
}

// TestQuietContainerFiles: a container is recorded once it runs, and its
// log offsets file only appears with its first output.
func TestQuietContainerFiles(t *testing.T) {
	d := newDriver(t, testConfig(t))
	sb := sandboxFor(t, d, runtime.SandboxSpec{Name: "p"})
	id := sh(t, d, sb, "quiet", "while [ ! -e go ]; do sleep 0.02; done; echo first; exec sleep 30", nil)
	dir := filepath.Join(d.cfg.StateDir, containersDir, id)
	var rec containerRecord
	if err := readJSON(filepath.Join(dir, recordFile), &rec); err != nil || rec.Status.State != runtime.StateRunning || rec.Status.PID == 0 {
		t.Fatalf("record after the start: %+v, %v; want running with its pid", rec.Status, err)
	}
	for _, f := range []string{offsetsFile, logFile} {
		if _, err := os.Stat(filepath.Join(dir, f)); !os.IsNotExist(err) {
			t.Errorf("%s of a container without output: %v, want none", f, err)
		}
	}
	if out := logs(t, d, id); out != "" {
		t.Errorf("logs %q, want none yet", out)
	}
	// A follower started before the first output gets it.
	followed := make(chan string, 1)
	go func() {
		var b bytes.Buffer
		ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
		defer cancel()
		w := &lineWatcher{w: &b, line: "first\n", done: cancel}
		_ = d.Logs(ctx, id, runtime.LogOptions{Follow: true, TailLines: -1}, w)
		followed <- b.String()
	}()
	time.Sleep(50 * time.Millisecond)                                                  // the follower polls the missing log
	if err := os.WriteFile(filepath.Join(rec.WorkDir, "go"), nil, 0o644); err != nil { // its cue to write
		t.Fatal(err)
	}
	waitLogs(t, d, id, "first\n")
	if got := <-followed; got != "first\n" {
		t.Errorf("follower got %q, want the first line", got)
	}
	for _, f := range []string{offsetsFile, logFile} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Errorf("%s after the first output: %v", f, err)
		}
	}
	if err := d.Stop(t.Context(), id, 0); err != nil {
		t.Fatal(err)
	}
}

// lineWatcher passes writes to w and calls done once w holds line.
type lineWatcher struct {
	w    *bytes.Buffer
	line string
	done func()
}

func (l *lineWatcher) Write(p []byte) (int, error) {
	n, err := l.w.Write(p)
	if strings.Contains(l.w.String(), l.line) {
		l.done()
	}
	return n, err
}
