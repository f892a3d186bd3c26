package bench

import (
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"time"
)

// clockTicks is USER_HZ, the unit of CPU times in /proc (100 on Linux).
const clockTicks = 100

// cpuSample is a reading of the machine's busy CPU time and of the CPU
// time of the benchmark and its server, in clock ticks.
type cpuSample struct {
	busy, self, server uint64
	ok                 bool
}

// sampleCPU reads /proc/stat and /proc/<pid>/stat of this process and of
// serverPID (0 for none). It reports ok=false where /proc is unreadable.
func sampleCPU(serverPID int) cpuSample {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return cpuSample{}
	}
	line, _, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(line)
	if len(f) < 9 || f[0] != "cpu" {
		return cpuSample{}
	}
	var s cpuSample
	// user nice system idle iowait irq softirq steal: all but idle and
	// iowait are busy.
	for i, v := range f[1:9] {
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			return cpuSample{}
		}
		if i != 3 && i != 4 {
			s.busy += n
		}
	}
	var ok bool
	if s.self, ok = procCPU(os.Getpid()); !ok {
		return cpuSample{}
	}
	if serverPID > 0 {
		if s.server, ok = procCPU(serverPID); !ok {
			return cpuSample{}
		}
	}
	s.ok = true
	return s
}

// procCPU returns utime+stime of a process in clock ticks.
func procCPU(pid int) (uint64, bool) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, false
	}
	// Fields after the parenthesised command name; utime and stime are
	// fields 14 and 15 of the whole line.
	_, rest, ok := strings.Cut(string(b), ") ")
	f := strings.Fields(rest)
	if !ok || len(f) < 13 {
		return 0, false
	}
	u, err1 := strconv.ParseUint(f[11], 10, 64)
	s, err2 := strconv.ParseUint(f[12], 10, 64)
	return u + s, err1 == nil && err2 == nil
}

// otherCPUPercent is the CPU used by processes other than the benchmark
// and its server between two samples, in percent of one CPU (so 2 cores
// fully busy with something else is 200). It returns -1 when unknown.
func otherCPUPercent(a, b cpuSample, seconds float64) float64 {
	if !a.ok || !b.ok || seconds <= 0 || b.busy < a.busy {
		return -1
	}
	own := float64(b.self+b.server) - float64(a.self+a.server)
	return max(0, (float64(b.busy-a.busy)-own)/clockTicks/seconds*100)
}

// CPUSeconds is the CPU time used during the measurements.
type CPUSeconds struct {
	// Client is the benchmark process: client-go, JSON, TLS.
	Client float64 `json:"client"`
	// Server is the spawned server (API server and embedded etcd); 0 for
	// an external server.
	Server float64 `json:"server"`
}

// cpuSeconds is the CPU time used by the benchmark and the server between
// two samples.
func cpuSeconds(a, b cpuSample) CPUSeconds {
	if !a.ok || !b.ok {
		return CPUSeconds{}
	}
	return CPUSeconds{Client: round(float64(b.self-a.self)/clockTicks, 2), Server: round(float64(b.server-a.server)/clockTicks, 2)}
}

// cpuUse sums up the CPU used between cpu0, sampled at t0, and cpu1,
// sampled a moment ago: by other processes, in percent of one CPU rounded
// to 0.1 (see otherCPUPercent), and by the benchmark and its server. When
// other processes used more than noisyCPUPct it warns on log that the
// figures taken during what (such as "the load") are disturbed.
func cpuUse(log *slog.Logger, what string, cpu0, cpu1 cpuSample, t0 time.Time) (otherPct float64, own CPUSeconds) {
	otherPct = round(otherCPUPercent(cpu0, cpu1, time.Since(t0).Seconds()), 1)
	if otherPct > noisyCPUPct {
		log.Warn("other processes used CPU during "+what+"; the figures are disturbed", "otherCPUPercentOfOneCPU", otherPct)
	}
	return otherPct, cpuSeconds(cpu0, cpu1)
}
