//go:build linux

package process

import (
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/berth-dev/berth/internal/agent/cgroups"
	"github.com/berth-dev/berth/internal/agent/runtime"
)

// processOnly hides a cgroup manager's AddThread: containers then start
// behind the gate.
type processOnly struct{ cgroups.Manager }

// BenchmarkStartWithMounts measures CreateAndStart of a container with a
// mount in a real cgroup (root, v1 or v2): the CPU of the driver and of
// its children per start, with the starting thread joining the cgroup
// (v1) and with the start gate.
func BenchmarkStartWithMounts(b *testing.B) {
	if os.Geteuid() != 0 {
		b.Skip("mounts and cgroups need root")
	}
	cg, err := cgroups.New(cgroups.Config{Parent: fmt.Sprintf("berth-bench-%d", os.Getpid())})
	if err != nil {
		b.Skipf("no usable cgroups: %v", err)
	}
	modes := []struct {
		name string
		m    CgroupManager
	}{{"gate", processOnly{cg}}}
	if _, ok := cg.(cgroups.ThreadAdder); ok {
		modes = append(modes, struct {
			name string
			m    CgroupManager
		}{"thread", cg})
	}
	for _, mode := range modes {
		b.Run(mode.name, func(b *testing.B) {
			cfg := testConfig(b)
			cfg.Cgroups = mode.m
			cfg.Logger = nil
			d := newDriver(b, cfg)
			sb := sandboxFor(b, d, runtime.SandboxSpec{Name: "p"})
			host := b.TempDir()
			var self, kids time.Duration
			var ids []string
			busy0 := busyTicks(b)
			for b.Loop() {
				s0, k0 := cpu(b)
				id, err := d.CreateAndStart(b.Context(), runtime.ContainerSpec{SandboxID: sb.ID, Name: "c",
					Command: []string{"/bin/sleep", "30"},
					Mounts:  []runtime.Mount{{HostPath: host, ContainerPath: filepath.Join(host, "m"), ReadOnly: true}}})
				if err != nil {
					b.Fatal(err)
				}
				s1, k1 := cpu(b)
				self, kids = self+s1-s0, kids+k1-k0
				ids = append(ids, id)
			}
			busy := busyTicks(b) - busy0
			b.StopTimer()
			for _, id := range ids {
				_ = d.Stop(b.Context(), id, 0)
				_ = d.Remove(b.Context(), id)
			}
			b.ReportMetric(float64(self.Microseconds())/float64(b.N)/1000, "self-cpu-ms/op")
			b.ReportMetric(float64(kids.Microseconds())/float64(b.N)/1000, "children-cpu-ms/op")
			b.ReportMetric(float64(busy)*10/float64(b.N), "machine-cpu-ms/op")
		})
	}
}

func cpu(b *testing.B) (self, children time.Duration) {
	var s, c syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &s)
	_ = syscall.Getrusage(syscall.RUSAGE_CHILDREN, &c)
	tv := func(v syscall.Timeval) time.Duration { return time.Duration(v.Nano()) }
	return tv(s.Utime) + tv(s.Stime), tv(c.Utime) + tv(c.Stime)
}

// busyTicks is the machine's busy CPU time so far in clock ticks (1/100 s)
// from /proc/stat: what the containers' own start (not yet reaped) costs
// shows only there.
func busyTicks(b *testing.B) int64 {
	data, err := os.ReadFile("/proc/stat")
	if err != nil {
		b.Fatal(err)
	}
	var name string
	var v [8]int64
	if _, err := fmt.Sscan(string(data), &name, &v[0], &v[1], &v[2], &v[3], &v[4], &v[5], &v[6], &v[7]); err != nil {
		b.Fatal(err)
	}
	return v[0] + v[1] + v[2] + v[5] + v[6] + v[7] // all but idle and iowait
}
