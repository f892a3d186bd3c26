package runtimetest

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/berth-dev/berth/internal/agent/runtime"
)

// Helpers for drivers' own tests, shared with the harness.

// Wait waits (up to a minute) for the container to exit and returns its
// final status; it fails the test on an error.
func Wait(t *testing.T, d runtime.Driver, id string) runtime.ContainerStatus {
	t.Helper()
	st, err := d.Wait(ctx(t), id)
	if err != nil {
		t.Fatalf("Wait %s: %v", id, err)
	}
	return st
}

// Logs reads the container's logs with opts; it fails the test on an
// error.
func Logs(t *testing.T, d runtime.Driver, id string, opts runtime.LogOptions) string {
	t.Helper()
	var b bytes.Buffer
	if err := d.Logs(ctx(t), id, opts, &b); err != nil {
		t.Fatalf("Logs %s %+v: %v", id, opts, err)
	}
	return b.String()
}

// AllLogs selects a container's whole log.
var AllLogs = runtime.LogOptions{TailLines: -1}

// WaitLogs waits until the container's whole log holds want.
func WaitLogs(t *testing.T, d runtime.Driver, id, want string) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		out := Logs(t, d, id, AllLogs)
		if strings.Contains(out, want) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("container %s never wrote %q; logs:\n%s", id, want, out)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
