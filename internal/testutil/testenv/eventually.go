package testenv

import (
	"testing"
	"time"
)

// Eventually calls f every 20 ms until it returns nil. If timeout passes
// first, it fails the test with what, the timeout and f's last error.
func Eventually(t *testing.T, timeout time.Duration, what string, f func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		err := f()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %v: %v", what, timeout, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
