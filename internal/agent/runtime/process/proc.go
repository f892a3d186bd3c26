package process

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strconv"
	"syscall"

	"golang.org/x/sys/unix"
)

// clockTick is the unit of the times in /proc/<pid>/stat (USER_HZ, 100 on
// every Linux architecture Go supports).
const clockTick = 10_000_000 // nanoseconds

// procStat is what the driver reads from /proc/<pid>/stat.
type procStat struct {
	state byte
	pgrp  int
	// cpuTicks is utime+stime+cutime+cstime (the process and its reaped
	// children).
	cpuTicks uint64
	// startTime is when the process started, in clock ticks after boot;
	// with the PID it identifies a process across PID reuse.
	startTime uint64
	// rssPages is the resident set size.
	rssPages uint64
}

// readStat reads /proc/<pid>/stat. A missing process is an error matching
// fs.ErrNotExist.
func readStat(pid int) (procStat, error) {
	if pid <= 0 {
		return procStat{}, fmt.Errorf("process: pid %d: %w", pid, fs.ErrNotExist)
	}
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return procStat{}, fmt.Errorf("process: read stat of pid %d: %w", pid, err)
	}
	return parseStat(b)
}

// parseStat parses the contents of /proc/<pid>/stat. The command name may
// hold spaces and parentheses, so the fields start after the last ')'.
func parseStat(b []byte) (procStat, error) {
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return procStat{}, fmt.Errorf("process: malformed /proc stat %q", b)
	}
	f := bytes.Fields(b[i+1:])
	// f[0] is field 3 (state) of proc(5); field k is f[k-3].
	if len(f) < 22 || len(f[0]) != 1 {
		return procStat{}, fmt.Errorf("process: malformed /proc stat %q", b)
	}
	num := func(k int) uint64 {
		v, _ := strconv.ParseUint(string(f[k-3]), 10, 64)
		return v
	}
	pgrp, err := strconv.Atoi(string(f[5-3]))
	if err != nil {
		return procStat{}, fmt.Errorf("process: malformed /proc stat %q: %w", b, err)
	}
	return procStat{
		state:     f[0][0],
		pgrp:      pgrp,
		cpuTicks:  num(14) + num(15) + num(16) + num(17),
		startTime: num(22),
		rssPages:  num(24),
	}, nil
}

// exitStatus is how a container process ended.
type exitStatus struct {
	// known is false when the driver could not learn the status (the
	// process was not its child).
	known  bool
	code   int
	signal syscall.Signal
}

// fromWait converts a wait status.
func fromWait(ws unix.WaitStatus) exitStatus {
	if ws.Signaled() {
		return exitStatus{known: true, code: 128 + int(ws.Signal()), signal: ws.Signal()}
	}
	return exitStatus{known: true, code: ws.ExitStatus()}
}

// probe tells whether the process pid that started at startTime has
// exited, reaping it when it is a child of this process. child says that
// it is (the driver started it): a child's PID cannot be reused before it
// is reaped here, so one wait4 tells, without reading /proc. Other
// processes (adopted after an agent restart) are watched through /proc; a
// different start time means the PID was reused, so the container's
// process is gone (and the PID, possibly another child's now, must not be
// waited for).
func probe(pid int, startTime uint64, child bool) (bool, exitStatus) {
	var st procStat
	if !child {
		var err error
		if st, err = readStat(pid); err != nil || st.startTime != startTime {
			return true, exitStatus{}
		}
	}
	for {
		var ws unix.WaitStatus
		wpid, err := unix.Wait4(pid, &ws, unix.WNOHANG, nil)
		switch {
		case errors.Is(err, unix.EINTR):
			continue
		case err == nil && wpid == pid:
			return true, fromWait(ws)
		case err == nil:
			return false, exitStatus{} // a running child
		}
		break // ECHILD: someone else's process
	}
	if child {
		// Not waitable after all: watch it through /proc like the others.
		var err error
		if st, err = readStat(pid); err != nil || st.startTime != startTime {
			return true, exitStatus{}
		}
	}
	if st.state == 'Z' || st.state == 'X' {
		return true, exitStatus{}
	}
	return false, exitStatus{}
}

// alive reports whether pid is the process that started at startTime and
// has not exited.
func alive(pid int, startTime uint64) bool {
	st, err := readStat(pid)
	return err == nil && st.startTime == startTime && st.state != 'Z' && st.state != 'X'
}

// signalContainer sends sig to the container's process group (or to the
// process alone if it left its group), after checking that pid is still
// the container's process. It reports whether a signal was sent.
func signalContainer(pid int, startTime uint64, sig syscall.Signal) (bool, error) {
	if pid <= 1 || pid == os.Getpid() {
		return false, fmt.Errorf("process: refusing to signal pid %d", pid)
	}
	st, err := readStat(pid)
	if err != nil || st.startTime != startTime {
		return false, nil // gone
	}
	target := pid
	if st.pgrp == pid && pid != unix.Getpgrp() {
		target = -pid
	}
	if err := unix.Kill(target, sig); err != nil && !errors.Is(err, unix.ESRCH) {
		return false, fmt.Errorf("process: signal %s to pid %d: %w", unix.SignalName(sig), target, err)
	}
	return true, nil
}

// killLeftovers kills what remains of the process group of an exited
// container process, unless the PID was reused meanwhile (a new process
// with that PID could lead a group of the same ID).
func killLeftovers(pid int, startTime uint64) {
	if pid <= 1 || pid == unix.Getpgrp() {
		return
	}
	if st, err := readStat(pid); err == nil && st.startTime != startTime {
		return
	}
	_ = unix.Kill(-pid, unix.SIGKILL)
}
