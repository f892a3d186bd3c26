package bench

import (
	"bytes"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// podProcesses returns the PIDs of the live processes whose environment
// holds podsRunEnv=runID: the containers of that run's pods. Processes
// whose environment cannot be read (gone, or another user's) are skipped.
func podProcesses(runID string) []int {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	marker := []byte(podsRunEnv + "=" + runID)
	var pids []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		env, err := os.ReadFile("/proc/" + e.Name() + "/environ")
		if err != nil {
			continue
		}
		for kv := range bytes.SplitSeq(env, []byte{0}) {
			if bytes.Equal(kv, marker) {
				pids = append(pids, pid)
				break
			}
		}
	}
	return pids
}

// killProcesses sends SIGKILL to each process and to its process group
// (each container runs in a group of its own).
func killProcesses(pids []int) {
	for _, pid := range pids {
		_ = syscall.Kill(-pid, syscall.SIGKILL)
		_ = syscall.Kill(pid, syscall.SIGKILL)
	}
}

// treeCPU is a reading of the CPU time of a process and of the children it
// has waited for, in clock ticks.
type treeCPU struct {
	ticks uint64
	ok    bool
}

// sampleTreeCPU reads utime, stime, cutime and cstime of process pid from
// /proc/<pid>/stat: for the agent, its own CPU and that of the CNI plugins
// and container processes it has reaped.
func sampleTreeCPU(pid int) treeCPU {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return treeCPU{}
	}
	// Fields 14–17 of the line; the command name in parentheses may hold
	// spaces, so count from its end.
	_, rest, found := strings.Cut(string(b), ") ")
	f := strings.Fields(rest)
	if !found || len(f) < 15 {
		return treeCPU{}
	}
	var user, system, childUser, childSystem uint64
	if _, err := fmt.Sscan(strings.Join(f[11:15], " "), &user, &system, &childUser, &childSystem); err != nil {
		return treeCPU{}
	}
	return treeCPU{ticks: user + system + childUser + childSystem, ok: true}
}

// podsCPUUse sums up the CPU used between the samples cpu0/agent0, taken
// at t0, and cpu1/agent1, taken a moment ago: by the benchmark, the server
// and the agent, and by other processes in percent of one CPU rounded to
// 0.1 (-1 when unknown). When other processes used more than noisyCPUPct
// it warns on log that the figures are disturbed.
func podsCPUUse(log *slog.Logger, cpu0, cpu1 cpuSample, agent0, agent1 treeCPU, t0 time.Time) (otherPct float64, own PodsCPUSeconds) {
	secs := time.Since(t0).Seconds()
	own.CPUSeconds = cpuSeconds(cpu0, cpu1)
	otherPct = otherCPUPercent(cpu0, cpu1, secs)
	if !agent0.ok || !agent1.ok {
		return -1, own
	}
	agentTicks := float64(agent1.ticks - agent0.ticks)
	own.Agent = round(agentTicks/clockTicks, 2)
	if otherPct >= 0 {
		otherPct = round(max(0, otherPct-agentTicks/clockTicks/secs*100), 1)
	}
	if otherPct > noisyCPUPct {
		log.Warn("other processes used CPU during the load; the figures are disturbed", "otherCPUPercentOfOneCPU", otherPct)
	}
	return otherPct, own
}
