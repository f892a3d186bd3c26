package process

import (
	"bytes"
	"context"
	goruntime "runtime"
	"testing"
	"time"

	"github.com/berth-dev/berth/internal/agent/runtime"
	"github.com/berth-dev/berth/internal/agent/runtime/runtimetest"
)

// TestNoGoroutineLeak checks that a closed driver leaves no goroutine
// behind, after starts, follows, execs and stops.
func TestNoGoroutineLeak(t *testing.T) {
	warm, err := New(testConfig(t)) // os/signal starts its goroutine once
	if err != nil {
		t.Fatal(err)
	}
	_ = warm.Close()
	before := goruntime.NumGoroutine()

	d, err := New(testConfig(t))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	sb, err := d.RunSandbox(ctx, runtime.SandboxSpec{Name: "p"})
	if err != nil {
		t.Fatal(err)
	}
	short := runtimetest.Behaviour{Stdout: []string{"a"}, Sleep: 100 * time.Millisecond, After: []string{"b"}}
	long := runtimetest.Behaviour{Stdout: []string{"ready"}, Sleep: time.Minute}
	id1, err := d.CreateAndStart(ctx, runtime.ContainerSpec{SandboxID: sb.ID, Name: "short", Command: short.Command(), Env: []string{pathEnv}})
	if err != nil {
		t.Fatal(err)
	}
	id2, err := d.CreateAndStart(ctx, runtime.ContainerSpec{SandboxID: sb.ID, Name: "long", Command: long.Command(), Env: []string{pathEnv}})
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Logs(ctx, id1, runtime.LogOptions{Follow: true, TailLines: -1}, &bytes.Buffer{}); err != nil {
		t.Fatal(err)
	}
	cctx, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
	_ = d.Logs(cctx, id2, runtime.LogOptions{Follow: true, TailLines: -1}, &bytes.Buffer{})
	cancel()
	if _, err := d.Exec(ctx, id2, []string{"true"}, nil, &bytes.Buffer{}, &bytes.Buffer{}); err != nil {
		t.Fatal(err)
	}
	if err := d.Stop(ctx, id2, time.Second); err != nil {
		t.Fatal(err)
	}
	if err := d.RemoveSandbox(ctx, sb.ID); err != nil {
		t.Fatal(err)
	}
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
