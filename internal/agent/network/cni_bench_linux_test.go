//go:build linux

package network

import (
	"context"
	"fmt"
	"syscall"
	"testing"
	"time"
)

// cpuNow returns the CPU time of this process and of its waited-for
// children.
func cpuNow(t testing.TB) (self, children time.Duration) {
	t.Helper()
	var s, c syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &s); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Getrusage(syscall.RUSAGE_CHILDREN, &c); err != nil {
		t.Fatal(err)
	}
	tv := func(v syscall.Timeval) time.Duration { return time.Duration(v.Nano()) }
	return tv(s.Utime) + tv(s.Stime), tv(c.Utime) + tv(c.Stime)
}

// BenchmarkSetupTeardown measures one pod network's Setup and Teardown,
// with the CPU time of the agent side and of the plugins per operation.
func BenchmarkSetupTeardown(b *testing.B) {
	requireCNI(b)
	tn := newTestNetOn(b, freeSubnet(b, 24))
	ctx := context.Background()
	if _, _, err := tn.Setup(ctx, "warm"); err != nil {
		b.Fatal(err)
	}
	var setupSelf, setupKids, tdSelf, tdKids, setupWall time.Duration
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		id := fmt.Sprintf("b%d", i)
		s0, k0 := cpuNow(b)
		w0 := time.Now()
		if _, _, err := tn.Setup(ctx, id); err != nil {
			b.Fatal(err)
		}
		setupWall += time.Since(w0)
		s1, k1 := cpuNow(b)
		if err := tn.Teardown(ctx, id, ""); err != nil {
			b.Fatal(err)
		}
		s2, k2 := cpuNow(b)
		setupSelf, setupKids, tdSelf, tdKids = setupSelf+s1-s0, setupKids+k1-k0, tdSelf+s2-s1, tdKids+k2-k1
	}
	n := float64(b.N)
	b.ReportMetric(float64(setupWall.Microseconds())/n/1000, "setup-wall-ms/op")
	b.ReportMetric(float64(setupSelf.Microseconds())/n/1000, "setup-self-ms/op")
	b.ReportMetric(float64(setupKids.Microseconds())/n/1000, "setup-plugins-ms/op")
	b.ReportMetric(float64(tdSelf.Microseconds())/n/1000, "teardown-self-ms/op")
	b.ReportMetric(float64(tdKids.Microseconds())/n/1000, "teardown-plugins-ms/op")
	_ = tn.Teardown(ctx, "warm", "")
}
