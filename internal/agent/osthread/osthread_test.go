package osthread

import (
	"errors"
	"fmt"
	"os"
	"runtime"
	"syscall"
	"testing"
)

// The main goroutine keeps the main thread (init runs there), so that
// TestMain can exercise the main-thread path.
func init() { runtime.LockOSThread() }

// mainThreadResult is what offMainThread did when called on the main
// thread, checked by TestFromTheMainThread.
var mainThreadResult error

func TestMain(m *testing.M) {
	mainThreadResult = func() error {
		if !onMainThread() {
			return errors.New("TestMain does not run on the main thread")
		}
		runtime.LockOSThread() // offMainThread's caller holds the thread
		var tid int
		if err := offMainThread(func() error { tid = syscall.Gettid(); return nil }); err != nil {
			return err
		}
		if tid == os.Getpid() || tid == 0 {
			return fmt.Errorf("f ran on thread %d, the main thread is %d", tid, os.Getpid())
		}
		if !onMainThread() {
			return errors.New("the caller left the main thread")
		}
		return nil
	}()
	os.Exit(m.Run())
}

func TestFromTheMainThread(t *testing.T) {
	if mainThreadResult != nil {
		t.Fatal(mainThreadResult)
	}
}

func TestThrowaway(t *testing.T) {
	for range 50 {
		var tid int
		if err := Throwaway(func() error { tid = syscall.Gettid(); return nil }); err != nil {
			t.Fatal(err)
		}
		if tid == os.Getpid() {
			t.Fatal("f ran on the main thread")
		}
	}
	want := errors.New("boom")
	if err := Throwaway(func() error { return want }); err != want {
		t.Errorf("error %v, want %v", err, want)
	}
}
