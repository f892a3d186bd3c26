//go:build linux

package process

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"time"

	"github.com/berth-dev/berth/internal/agent/osthread"
	"golang.org/x/sys/unix"
)

// DefaultNamespacePruneDelay is Config.NamespacePruneDelay's default.
const DefaultNamespacePruneDelay = 10 * time.Second

// maxStacked bounds the unmounts of one directory in dropNamespaceDirs.
const maxStacked = 8

// pruneJob is a container whose mount namespace still has its copies of
// Config.NamespaceDirs.
type pruneJob struct {
	pid       int
	startTime uint64
	due       time.Time
}

// schedulePrune has the copies of Config.NamespaceDirs in the mount
// namespace of the process pid unmounted NamespacePruneDelay from now.
func (d *Driver) schedulePrune(pid int, startTime uint64) {
	if d.pruneQ == nil {
		return
	}
	select {
	case d.pruneQ <- pruneJob{pid: pid, startTime: startTime, due: time.Now().Add(d.cfg.NamespacePruneDelay)}:
	default:
		d.log.Debug("namespace prune queue full: a container keeps its copies of the namespace mounts", "pid", pid)
	}
}

// pruneLoop works off the prune jobs, each when it is due, until Close.
// The unmounts wait: each costs the kernel an expedited RCU grace period,
// which on the start path of every container measurably slowed bursts of
// pod starts.
func (d *Driver) pruneLoop() {
	defer close(d.pruneDone)
	var pending []pruneJob
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		wait := time.Hour
		if len(pending) > 0 {
			wait = max(time.Until(pending[0].due), 0)
		}
		timer.Reset(wait)
		select {
		case <-d.stop:
			return
		case j := <-d.pruneQ:
			pending = append(pending, j) // due times only grow
			continue
		case <-timer.C:
		}
		for len(pending) > 0 && !time.Now().Before(pending[0].due) {
			j := pending[0]
			pending = pending[1:]
			if err := pruneNamespaceDirs(j.pid, j.startTime, d.cfg.NamespaceDirs); err != nil {
				d.log.Debug("cannot unmount a container's copies of the namespace mounts", "pid", j.pid, "err", err)
			}
		}
	}
}

// pruneNamespaceDirs unmounts the namespace directories in the mount
// namespace of the process pid (if it is still the process that started
// at startTime), from a throwaway thread that joins that namespace.
func pruneNamespaceDirs(pid int, startTime uint64, dirs []string) error {
	if !alive(pid, startTime) {
		return nil
	}
	ns, err := os.Open("/proc/" + strconv.Itoa(pid) + "/ns/mnt")
	if err != nil {
		return fmt.Errorf("open the mount namespace: %w", err)
	}
	defer ns.Close()
	if !alive(pid, startTime) { // the PID was not reused meanwhile
		return nil
	}
	return osthread.Throwaway(func() error {
		// setns into a mount namespace needs a file system context of
		// this thread's own.
		if err := unix.Unshare(unix.CLONE_FS); err != nil {
			return fmt.Errorf("unshare the file system context: %w", err)
		}
		if err := unix.Setns(int(ns.Fd()), unix.CLONE_NEWNS); err != nil {
			return fmt.Errorf("enter the mount namespace: %w", err)
		}
		return dropNamespaceDirs(dirs)
	})
}

// dropNamespaceDirs lazily unmounts the directories in the calling
// thread's mount namespace: a directory mounted several times over
// (stacked) as often; one that is not a mount point is left.
func dropNamespaceDirs(dirs []string) error {
	for _, dir := range dirs {
		for range maxStacked {
			err := unix.Unmount(dir, unix.MNT_DETACH)
			if errors.Is(err, unix.EINVAL) || errors.Is(err, unix.ENOENT) {
				break // not (or no longer) a mount point
			}
			if err != nil {
				return fmt.Errorf("unmount %s: %w", dir, err)
			}
		}
	}
	return nil
}
