package process

import (
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

func TestParseStat(t *testing.T) {
	tail := " 0 0 0 0 0 0 0 11 12 13 14 20 0 1 0 4242 1000 77 rest"
	tests := []struct {
		name string
		stat string
		want procStat
		bad  bool
	}{
		{name: "plain", stat: "123 (sleep) S 1 123 123" + tail,
			want: procStat{state: 'S', pgrp: 123, cpuTicks: 50, startTime: 4242, rssPages: 77}},
		{name: "name with spaces and parens", stat: "9 (a ) b (c)) Z 1 5 5" + tail,
			want: procStat{state: 'Z', pgrp: 5, cpuTicks: 50, startTime: 4242, rssPages: 77}},
		{name: "truncated", stat: "9 (x) S 1 5", bad: true},
		{name: "no name", stat: "garbage", bad: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseStat([]byte(tc.stat))
			if tc.bad {
				if err == nil {
					t.Errorf("parsed %+v, want an error", got)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Errorf("got %+v, %v; want %+v", got, err, tc.want)
			}
		})
	}
}

func TestReadStatSelf(t *testing.T) {
	st, err := readStat(os.Getpid())
	if err != nil || st.startTime == 0 || st.state == 0 {
		t.Errorf("own stat %+v, %v", st, err)
	}
	if _, err := readStat(0); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("pid 0: %v, want not exist", err)
	}
}

func TestLookPath(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(dir, "bin")
	if err := os.MkdirAll(bin, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, mode := range map[string]os.FileMode{"tool": 0o755, "data": 0o644} {
		if err := os.WriteFile(filepath.Join(bin, name), nil, mode); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		name, cmd string
		env       []string
		dir       string
		want      string
		bad       bool
	}{
		{name: "with slash", cmd: "./x", want: "./x"},
		{name: "container PATH", cmd: "tool", env: []string{"PATH=/nowhere:" + bin}, want: filepath.Join(bin, "tool")},
		{name: "relative PATH entry", cmd: "tool", env: []string{"PATH=bin"}, dir: dir, want: filepath.Join(dir, "bin", "tool")},
		{name: "default PATH", cmd: "sh", want: "/usr/local/sbin/sh", bad: true},
		{name: "not executable", cmd: "data", env: []string{"PATH=" + bin}, bad: true},
		{name: "missing", cmd: "nope", env: []string{"PATH=" + bin}, bad: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := lookPath(tc.cmd, tc.env, tc.dir)
			if tc.name == "default PATH" { // wherever sh lives
				if err != nil || filepath.Base(got) != "sh" {
					t.Errorf("got %q, %v", got, err)
				}
				return
			}
			if tc.bad != (err != nil) || (!tc.bad && got != tc.want) {
				t.Errorf("got %q, %v; want %q (error %v)", got, err, tc.want, tc.bad)
			}
		})
	}
}

func TestProbe(t *testing.T) {
	cmd := exec.Command("sleep", "30")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	pid := cmd.Process.Pid
	st, err := readStat(pid)
	if err != nil {
		t.Fatal(err)
	}
	init1, err := readStat(1)
	if err != nil {
		t.Skipf("cannot read PID 1: %v", err)
	}
	// Not children: watched through /proc, by start time.
	for _, tc := range []struct {
		name       string
		pid        int
		startTime  uint64
		wantExited bool
	}{
		{"another process, running", 1, init1.startTime, false},
		{"another process, PID reused", 1, init1.startTime + 1, true},
		{"no such process", 1 << 30, 1, true},
	} {
		if exited, _ := probe(tc.pid, tc.startTime, false); exited != tc.wantExited {
			t.Errorf("%s: probe = %v, want %v", tc.name, exited, tc.wantExited)
		}
	}
	// A child: wait4 alone.
	if exited, _ := probe(pid, st.startTime, true); exited {
		t.Fatal("running child reported exited")
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		exited, ex := probe(pid, st.startTime, true)
		if exited {
			if !ex.known || ex.signal != syscall.SIGKILL || ex.code != 137 {
				t.Errorf("exit status %+v, want SIGKILL (137)", ex)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("killed child never reported exited")
		}
		time.Sleep(10 * time.Millisecond)
	}
	cmd.Process.Release()
}
