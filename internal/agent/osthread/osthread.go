package osthread

import (
	"os"
	"runtime"
	"syscall"
)

// Throwaway calls f on a locked OS thread that is not the process's main
// thread, and ends that thread afterwards: whatever f changed about its
// thread (namespaces, cgroups) goes with it. The main thread is excluded
// because the Go runtime never ends it (it would stay in f's state) and
// because on Linux its thread ID is the process ID, so that a change to
// it shows as a change of the whole process (/proc/<pid>/ns,
// /proc/<pid>/cgroup).
func Throwaway(f func() error) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		// Unlocked only on the main thread, which f did not run on; any
		// other thread ends with this goroutine.
		errc <- offMainThread(f)
	}()
	return <-errc
}

// offMainThread runs f on the calling (locked) thread, or, if that is the
// main thread, on a new locked goroutine: while the caller holds the main
// thread, that goroutine runs on another one. It unlocks the main thread
// before it returns.
func offMainThread(f func() error) error {
	if !onMainThread() {
		return f()
	}
	inner := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		inner <- f()
	}()
	err := <-inner
	runtime.UnlockOSThread()
	return err
}

// onMainThread reports whether the calling thread is the main thread.
func onMainThread() bool {
	return syscall.Gettid() == os.Getpid()
}
