package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/cache"
)

// TestRunPodsSmall starts 5 pods through the server and agent of the
// prebuilt binary named by BERTH_BIN (scripts/test.sh sets it). As root
// the pods get network namespaces of their own; otherwise they share the
// host network, and the run must work all the same.
func TestRunPodsSmall(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns a berth server and a berth agent that runs 5 pods for ~10 s; runs without -short")
	}
	bin := berthBin(t)
	goroutines := runtime.NumGoroutine()
	var out bytes.Buffer
	plot := filepath.Join(t.TempDir(), "pods.png")
	// Paced at 10 pods/s: the last create starts 0.4 s after the first.
	cfg := PodsConfig{Pods: 5, Clients: 2, Rate: 10, Timeout: 2 * time.Minute, IdleWait: time.Second, PlotFile: plot, Binary: bin, Logger: warnLogger(t)}
	// cfg.Timeout bounds each wait; the test's context is cancelled
	// should the test time out.
	res, err := RunPods(t.Context(), cfg, &out)
	t.Logf("output:\n%s", out.String())
	if err != nil {
		t.Fatalf("RunPods: %v", err)
	}

	last := lastJSONLine(t, out.String())
	if last["bench"] != "pods" || last["pods"] != 5.0 || last["clients"] != 2.0 || last["rate_per_s"] != 10.0 || last["target_p99_ms"] != 1000.0 || last["target_agent_rss_mb"] != 40.0 {
		t.Fatalf("last line: bench=%v pods=%v clients=%v rate=%v targets=%v/%v", last["bench"], last["pods"], last["clients"], last["rate_per_s"], last["target_p99_ms"], last["target_agent_rss_mb"])
	}
	if res.AllReadyS < 0.4 {
		t.Errorf("all Ready %v s after the first create: the creates were not paced (the last is due 0.4 s after the first)", res.AllReadyS)
	}
	if !strings.Contains(out.String(), "created at 10/s by 2 clients") {
		t.Errorf("summary does not tell the pace")
	}
	for _, k := range []string{"start_to_ready_ms", "agent_ready_ms", "p50_ms", "p90_ms", "p99_ms", "max_ms", "all_ready_s", "delete_all_s",
		"agent_idle_rss_mb", "agent_idle_rss_anon_mb", "agent_idle_rss_file_mb", "agent_rss_with_pods_mb", "met", "rss_met", "root",
		"leftover_processes", "other_cpu_pct", "cpu_seconds", "ready_cpu_seconds", "ready_other_cpu_pct", "machine"} {
		if _, ok := last[k]; !ok {
			t.Errorf("last line has no %q", k)
		}
	}
	if cpu, _ := last["cpu_seconds"].(map[string]any); cpu == nil || cpu["agent"] == nil || cpu["server"] == nil || cpu["client"] == nil {
		t.Errorf("cpu_seconds = %v, want client, server and agent", last["cpu_seconds"])
	}
	if res.StartToReadyMs <= 0 || res.AgentReadyMs <= 0 || res.AllReadyS <= 0 || res.DeleteAllS <= 0 {
		t.Errorf("timings: server %v ms, agent %v ms, all Ready %v s, delete %v s", res.StartToReadyMs, res.AgentReadyMs, res.AllReadyS, res.DeleteAllS)
	}
	if res.P50Ms <= 0 || res.P90Ms < res.P50Ms || res.P99Ms < res.P90Ms || res.MaxMs < res.P99Ms || res.MaxMs > res.AllReadyS*1000+1 {
		t.Errorf("latency: p50 %v, p90 %v, p99 %v, max %v ms; all Ready %v s", res.P50Ms, res.P90Ms, res.P99Ms, res.MaxMs, res.AllReadyS)
	}
	m := res.AgentIdleRSSMB
	if m <= 0 || res.AgentIdleRSSAnonMB <= 0 || res.AgentIdleRSSFileMB <= 0 || res.AgentIdleRSSAnonMB+res.AgentIdleRSSFileMB > m+1 || res.AgentRSSWithPodsMB <= 0 {
		t.Errorf("agent memory: idle %v MiB (anon %v, file %v), with pods %v MiB", m, res.AgentIdleRSSAnonMB, res.AgentIdleRSSFileMB, res.AgentRSSWithPodsMB)
	}
	if res.LeftoverProcesses != 0 {
		t.Errorf("%d processes of the pods outlived their deletion and the agent", res.LeftoverProcesses)
	}
	switch root := os.Geteuid() == 0; {
	case !root && res.Root:
		t.Error("pods reported with network namespaces of their own although the agent does not run as root")
	case root && !res.Root:
		t.Logf("running as root, but the pods shared the host network: %s", res.HostNetworkReason)
	}
	if len(res.LatenciesMs) != 5 || !slices.IsSorted(res.LatenciesMs) {
		t.Errorf("latencies for the plot: %v", res.LatenciesMs)
	}
	checkPlotFile(t, plot)

	checkGoroutinesEnded(t, goroutines, "RunPods")
}

func TestRunPodsServerFails(t *testing.T) {
	checkServerFails(t, "pods", func(binary string, log *slog.Logger, out io.Writer) error {
		_, err := RunPods(context.Background(), PodsConfig{Pods: 1, Binary: binary, Logger: log}, out)
		return err
	})
}

func TestParsePodsArgs(t *testing.T) {
	cfg := checkDefaultsAndHelp(t, ParsePodsArgs, DefaultPodsConfig())
	if cfg.Pods != 100 || cfg.Clients != 10 || cfg.Timeout != 2*time.Minute || cfg.IdleWait != 3*time.Second || cfg.PlotFile != "" || cfg.JSONOnly ||
		cfg.ClusterCIDR != "10.45.0.0/16" || cfg.Bridge != "berthb0" || cfg.AgentPort != 0 || cfg.Binary != "" {
		t.Fatalf("defaults: %+v", cfg)
	}
	d := DefaultPodsConfig()
	with := func(change func(c *PodsConfig)) PodsConfig {
		c := d
		change(&c)
		return c
	}
	for args, want := range map[string]PodsConfig{
		"--pods 5 --clients 2 --timeout 1m --json-only --plot x.png": with(func(c *PodsConfig) {
			c.Pods, c.Clients, c.Timeout, c.JSONOnly, c.PlotFile = 5, 2, time.Minute, true, "x.png"
		}),
		"-pods 1 -clients 1":          with(func(c *PodsConfig) { c.Pods, c.Clients = 1, 1 }),
		"--pods 250":                  with(func(c *PodsConfig) { c.Pods = 250 }),
		"--pods 3 --clients 4096":     with(func(c *PodsConfig) { c.Pods, c.Clients = 3, 4096 }),
		"--timeout 90s --json-only=1": with(func(c *PodsConfig) { c.Timeout, c.JSONOnly = 90*time.Second, true }),
		"--rate 10":                   with(func(c *PodsConfig) { c.Rate = 10 }),
		"--rate 0.5 --pods 60":        with(func(c *PodsConfig) { c.Rate, c.Pods = 0.5, 60 }),
		"--binary /tmp/b --cluster-cidr 10.47.0.0/16 --cni-bridge br-x --agent-port 10260": with(func(c *PodsConfig) {
			c.Binary, c.ClusterCIDR, c.Bridge, c.AgentPort = "/tmp/b", "10.47.0.0/16", "br-x", 10260
		}),
	} {
		t.Run(args, func(t *testing.T) {
			got, err := ParsePodsArgs(strings.Fields(args), io.Discard)
			checkOutcome(t, got, err, want, "")
		})
	}
	// Each error names the flag.
	for args, wantErr := range map[string]string{
		"--pods 0":                        "--pods: 0 is out of range 1..250",
		"--pods -1":                       "--pods: -1",
		"--pods 251":                      "--pods: 251",
		"--pods many":                     "-pods",
		"--clients 0":                     "--clients: 0 is out of range 1..4096",
		"--clients 4097":                  "--clients: 4097",
		"--clients 1,2":                   "-clients",
		"--timeout 0s":                    "--timeout: 0s is not positive",
		"--timeout -1m":                   "--timeout: -1m0s",
		"--timeout soon":                  "-timeout",
		"--json-only yes":                 "unexpected arguments [yes]",
		"--plot":                          "-plot",
		"--nodes 3":                       "-nodes",
		"--pods 5 extra":                  "unexpected arguments [extra]",
		"--pods 0 --clients 0":            "--pods",
		"--clients 0 --pods 250":          "--clients",
		"--cluster-cidr 10.45.0.0":        "--cluster-cidr",
		"--cni-bridge toolongbridgename0": "--cni-bridge",
		"--cni-bridge a/b":                "--cni-bridge",
		"--agent-port 70000":              "--agent-port: 70000 is out of range",
		"--agent-port -1":                 "--agent-port",
		"--rate -1":                       "--rate: -1 is not a rate",
		"--rate NaN":                      "--rate: NaN is not a rate",
		"--rate +Inf":                     "--rate: +Inf is not a rate",
		"--rate 1 --timeout 1m":           "--rate: creating 100 pods at 1/s takes longer than --timeout 1m0s",
	} {
		t.Run(args, func(t *testing.T) {
			_, err := ParsePodsArgs(strings.Fields(args), io.Discard)
			checkOutcome(t, PodsConfig{}, err, PodsConfig{}, wantErr)
		})
	}
}

func TestPodsConfigWithDefaults(t *testing.T) {
	cfg, err := PodsConfig{Pods: 7, Binary: "/bin/true"}.withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Clients != DefaultPodsClients || cfg.Timeout != DefaultPodsTimeout || cfg.IdleWait != DefaultAgentIdleWait || cfg.Logger == nil || cfg.Binary != "/bin/true" ||
		cfg.ClusterCIDR != DefaultPodsClusterCIDR || cfg.Bridge != DefaultPodsBridge {
		t.Fatalf("withDefaults: %+v", cfg)
	}
	if _, err := (PodsConfig{Pods: 1, IdleWait: -time.Second}).withDefaults(); err == nil || !strings.Contains(err.Error(), "idle wait") {
		t.Fatalf("negative idle wait: err = %v", err)
	}
}

// samplePodsResult is a plausible run: 100 pods created 5 ms apart from
// t0, pod i Ready 200 + 3i ms after its create.
func samplePodsResult() *PodsResult {
	const n = 100
	t0 := time.Date(2026, 11, 26, 6, 0, 0, 0, time.UTC)
	sent, ready := make([]time.Time, n), make([]time.Time, n)
	for i := range n {
		sent[i] = t0.Add(time.Duration(i) * 5 * time.Millisecond)
		ready[i] = sent[i].Add(time.Duration(200+3*i) * time.Millisecond)
	}
	r := &PodsResult{Bench: "pods", Pods: n, Clients: 10, StartToReadyMs: 500, AgentReadyMs: 600, DeleteAllS: 1.5,
		AgentIdleRSSMB: 38, AgentIdleRSSAnonMB: 12, AgentIdleRSSFileMB: 26, AgentRSSWithPodsMB: 45, Root: true,
		TargetP99Ms: PodsTargetP99Ms, TargetAgentRSSMB: PodsTargetAgentRSSMB,
		CPUSeconds: PodsCPUSeconds{CPUSeconds: CPUSeconds{Client: 0.5, Server: 2}, Agent: 3}, Machine: Machine{CPUs: 2, Go: "go1.26", OS: "linux"}}
	// Shuffled: the order of the pods must not matter.
	slices.Reverse(sent)
	slices.Reverse(ready)
	r.setLatencies(sent, ready)
	r.summarize()
	return r
}

func TestPodsSetLatenciesAndSummarize(t *testing.T) {
	r := samplePodsResult()
	// Latencies 200, 203, … 497 ms: nearest rank p50 is the 50th (347),
	// p90 the 90th (467), p99 the 99th (494).
	if r.P50Ms != 347 || r.P90Ms != 467 || r.P99Ms != 494 || r.MaxMs != 497 {
		t.Fatalf("p50 %v, p90 %v, p99 %v, max %v", r.P50Ms, r.P90Ms, r.P99Ms, r.MaxMs)
	}
	// The last pod was created at 495 ms and Ready 497 ms later.
	if r.AllReadyS != 0.992 || !r.Met || !r.RSSMet {
		t.Fatalf("all Ready %v s, met %v, rss met %v", r.AllReadyS, r.Met, r.RSSMet)
	}
	if len(r.LatenciesMs) != 100 || !slices.IsSorted(r.LatenciesMs) || r.LatenciesMs[0] != 200 {
		t.Fatalf("latencies: %v…", r.LatenciesMs[:3])
	}
	b, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"bench":"pods"`, `"met":true`, `"rss_met":true`, `"root":true`, `"leftover_processes":0`,
		`"cpu_seconds":{"client":0.5,"server":2,"agent":3}`, `"target_p99_ms":1000`, `"target_agent_rss_mb":40`} {
		if !bytes.Contains(b, []byte(want)) {
			t.Errorf("JSON has no %s: %s", want, b)
		}
	}
	if bytes.Contains(b, []byte("Latencies")) || bytes.Contains(b, []byte("host_network_reason")) {
		t.Fatalf("JSON: %s", b)
	}

	r.P99Ms, r.AgentIdleRSSMB, r.Root, r.HostNetworkReason, r.LeftoverProcesses = 1000.001, 40.1, false, "the agent does not run as root", 2
	r.summarize()
	if r.Met || r.RSSMet {
		t.Fatalf("over the targets: met %v, rss met %v", r.Met, r.RSSMet)
	}
	var buf bytes.Buffer
	r.writeTable(&buf)
	for _, want := range []string{"NOT met", "p99", "in the host network (the agent does not run as root)", "2 (killed; a bug of the agent)"} {
		if !strings.Contains(buf.String(), want) {
			t.Errorf("table has no %q:\n%s", want, buf.String())
		}
	}
	var empty PodsResult
	empty.setLatencies(nil, nil)
	empty.summarize()
	if empty.Met || empty.RSSMet || empty.LatenciesMs != nil {
		t.Fatalf("no pods: %+v", empty)
	}
}

func TestWritePodsPlot(t *testing.T) {
	file := filepath.Join(t.TempDir(), "plot.png")
	if err := WritePodsPlot(file, samplePodsResult()); err != nil {
		t.Fatal(err)
	}
	checkPlotFile(t, file)
	slow := samplePodsResult()
	for i := range slow.LatenciesMs {
		slow.LatenciesMs[i] *= 10 // above the target
	}
	if err := WritePodsPlot(file, slow); err != nil {
		t.Fatal(err)
	}
	if err := WritePodsPlot(file, &PodsResult{Pods: 1}); err == nil {
		t.Fatal("WritePodsPlot without latencies: want an error")
	}
}

func TestReadyTracker(t *testing.T) {
	tr := newReadyTracker(2)
	pod := func(i int, ready bool, podIP string) *corev1.Pod {
		p := sleepPod(i, "run")
		p.Spec.NodeName = podsNodeName
		p.Status = corev1.PodStatus{Phase: corev1.PodPending, PodIP: podIP, HostIP: "10.0.0.1",
			ContainerStatuses: []corev1.ContainerStatus{{Name: "sleep", State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "ContainerCreating"}}}}}
		if ready {
			p.Status.Phase = corev1.PodRunning
			p.Status.ContainerStatuses[0].State = corev1.ContainerState{Running: &corev1.ContainerStateRunning{}}
			p.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue}}
		}
		return p
	}
	unbound := sleepPod(1, "run")
	tr.record(unbound, false)
	tr.record(pod(0, false, ""), false)
	tr.record(&corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "other"}}, false) // not ours
	tr.record("not a pod", false)
	if got := tr.notReady(); got != "1 Pending (ContainerCreating), 1 no phase (unbound)" {
		t.Fatalf("notReady = %q", got)
	}
	before := time.Now()
	tr.record(pod(0, true, "10.42.0.5"), false)
	tr.record(pod(0, true, "10.42.0.5"), false) // a later update changes nothing
	select {
	case <-tr.allReady:
		t.Fatal("all Ready after one of two pods")
	default:
	}
	tr.record(pod(1, true, "10.0.0.1"), false) // host network
	<-tr.allReady
	readyAt, goneAt, ownIP := tr.snapshot()
	if readyAt[0].Before(before) || readyAt[1].Before(readyAt[0]) || ownIP != 1 || !goneAt[0].IsZero() {
		t.Fatalf("snapshot: ready %v, gone %v, own IP %d", readyAt, goneAt, ownIP)
	}
	if tr.notReady() != "" {
		t.Fatalf("notReady = %q, want none", tr.notReady())
	}
	tr.record(pod(0, true, "10.42.0.5"), true)
	tr.record(pod(0, true, "10.42.0.5"), true) // the same deletion again
	tr.record(cache.DeletedFinalStateUnknown{Key: podsNamespace + "/" + podsPodName(1), Obj: pod(1, true, "")}, true)
	<-tr.allGone
	if ready, gone := tr.counts(); ready != 2 || gone != 2 {
		t.Fatalf("counts = %d, %d; want 2, 2", ready, gone)
	}
}

func TestPodStateAndNode(t *testing.T) {
	p := sleepPod(3, "abc")
	if p.Name != "sleep-003" || len(p.Spec.Containers) != 1 || !slices.Equal(p.Spec.Containers[0].Command, []string{"/bin/sleep", "3600"}) ||
		p.Spec.Containers[0].Env[0] != (corev1.EnvVar{Name: podsRunEnv, Value: "abc"}) || p.Spec.NodeName != "" {
		t.Fatalf("pod: %s %+v", p.Name, p.Spec.Containers)
	}
	if cpu, mem := podRequests(p); cpu != 1 || mem != 1<<20 {
		t.Fatalf("requests %dm, %d bytes; want 1m, 1Mi", cpu, mem)
	}
	p.Spec.NodeName = podsNodeName
	p.Status.Phase = corev1.PodPending
	if got := podState(p); got != "Pending (bound, no container status yet)" {
		t.Fatalf("podState = %q", got)
	}
	p.Status.Phase = corev1.PodFailed
	p.Status.Reason = "OutOfcpu"
	if got := podState(p); got != "Failed (OutOfcpu)" {
		t.Fatalf("podState = %q", got)
	}
	p.Status.ContainerStatuses = []corev1.ContainerStatus{{State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{}}}}
	if got := podState(p); got != "Failed (running, not ready)" {
		t.Fatalf("podState = %q", got)
	}

	node := &corev1.Node{Status: corev1.NodeStatus{Conditions: []corev1.NodeCondition{
		{Type: corev1.NodeMemoryPressure, Message: "pods use the host network: not this one"},
		{Type: corev1.NodeReady, Status: corev1.ConditionTrue, Message: "berth agent is posting ready status; pods use the host network: the agent does not run as root"},
	}}}
	if c := nodeReadyCondition(node); c == nil || c.Status != corev1.ConditionTrue {
		t.Fatalf("Ready condition: %v", c)
	}
	if got := hostNetworkReason(node); got != "the agent does not run as root" {
		t.Fatalf("hostNetworkReason = %q", got)
	}
	node.Status.Conditions[1].Message = "berth agent is posting ready status"
	if got := hostNetworkReason(node); got != "" {
		t.Fatalf("hostNetworkReason = %q, want none", got)
	}
	if nodeReadyCondition(&corev1.Node{}) != nil || hostNetworkReason(&corev1.Node{}) != "" {
		t.Fatal("a node without conditions")
	}
}

func TestPodProcesses(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns a process; runs without -short")
	}
	runID := "test-" + strings.ReplaceAll(t.Name(), "/", "-") + "-" + time.Now().Format("150405.000000")
	cmd := exec.Command("/bin/sleep", "60")
	cmd.Env = []string{"A=1", podsRunEnv + "=" + runID, "B=2"}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	t.Cleanup(func() { _ = cmd.Process.Kill(); <-exited })
	if got := podProcesses(runID); !slices.Equal(got, []int{cmd.Process.Pid}) {
		t.Fatalf("podProcesses(%q) = %v, want [%d]", runID, got, cmd.Process.Pid)
	}
	if got := podProcesses(runID + "x"); len(got) != 0 {
		t.Fatalf("another run's ID matched %v", got)
	}
	killProcesses(podProcesses(runID))
	select {
	case <-exited:
	case <-time.After(10 * time.Second):
		t.Fatal("the process outlived killProcesses")
	}
	if got := podProcesses(runID); len(got) != 0 {
		t.Fatalf("podProcesses after the kill = %v", got)
	}
}

func TestPodsCPUUse(t *testing.T) {
	self := sampleTreeCPU(os.Getpid())
	if !self.ok {
		t.Fatal("cannot read this process's CPU from /proc")
	}
	if s := sampleTreeCPU(1 << 30); s.ok {
		t.Fatalf("a PID that does not exist: %+v", s)
	}
	log := warnLogger(t)
	t0 := time.Now().Add(-10 * time.Second)
	cpu0 := cpuSample{busy: 1000, self: 100, server: 200, ok: true}
	// In 10 s: 1000 busy ticks: 50 the client, 300 the server, 400 the
	// agent; 250 left (25 % of one CPU) for the others.
	cpu1 := cpuSample{busy: 2000, self: 150, server: 500, ok: true}
	other, own := podsCPUUse(log, cpu0, cpu1, treeCPU{ticks: 10, ok: true}, treeCPU{ticks: 410, ok: true}, t0)
	if other < 24.9 || other > 25.1 || own.Client != 0.5 || own.Server != 3 || own.Agent != 4 {
		t.Fatalf("podsCPUUse = %v%%, %+v", other, own)
	}
	if other, own := podsCPUUse(log, cpu0, cpu1, treeCPU{}, treeCPU{ticks: 410, ok: true}, t0); other != -1 || own.Agent != 0 || own.Server != 3 {
		t.Fatalf("without the agent's CPU: %v%%, %+v", other, own)
	}
}
