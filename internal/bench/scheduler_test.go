package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// TestRunSchedulerSmall binds 300 pods onto 50 fake nodes with the
// scheduler of the prebuilt binary named by BERTH_BIN (scripts/test.sh
// sets it).
func TestRunSchedulerSmall(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns a berth server and runs its scheduler for ~10 s; runs without -short")
	}
	bin := berthBin(t)
	goroutines := runtime.NumGoroutine()
	var out bytes.Buffer
	plot := filepath.Join(t.TempDir(), "scheduler.png")
	cfg := SchedulerConfig{
		Nodes: 50, Pods: 300, Clients: 8, Timeout: 2 * time.Minute, PlotFile: plot, Binary: bin,
		Logger: warnLogger(t),
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	res, err := RunScheduler(ctx, cfg, &out)
	if err != nil {
		t.Fatalf("RunScheduler: %v\noutput:\n%s", err, out.String())
	}
	t.Logf("output:\n%s", out.String())

	last := lastJSONLine(t, out.String())
	if last["bench"] != "scheduler" || last["nodes"] != 50.0 || last["pods"] != 300.0 || last["target_pods_per_second"] != 1000.0 {
		t.Fatalf("last line: bench=%v nodes=%v pods=%v target=%v", last["bench"], last["nodes"], last["pods"], last["target_pods_per_second"])
	}
	for _, k := range []string{"clients", "start_to_ready_ms", "register_nodes_s", "create_s", "create_pods_per_second", "all_bound_s",
		"pods_per_second", "throughput_median_pods_per_second", "throughput_max_pods_per_second", "throughput_samples",
		"p50_ms", "p90_ms", "p99_ms", "nodes_used", "max_pods_per_node", "rss_mb", "peak_rss_mb", "other_cpu_pct", "cpu_seconds", "met", "machine"} {
		if _, ok := last[k]; !ok {
			t.Errorf("last line has no %q", k)
		}
	}
	if res.PodsPerSecond <= 0 || res.AllBoundS <= 0 || res.CreateS <= 0 || res.CreatePodsPerSecond <= 0 || res.CreateS > res.AllBoundS+1 {
		t.Errorf("timings: create %v s (%v pods/s), all bound %v s (%v pods/s)", res.CreateS, res.CreatePodsPerSecond, res.AllBoundS, res.PodsPerSecond)
	}
	if res.P50Ms <= 0 || res.P90Ms < res.P50Ms || res.P99Ms < res.P90Ms {
		t.Errorf("latency: p50 %v, p90 %v, p99 %v ms", res.P50Ms, res.P90Ms, res.P99Ms)
	}
	if res.NodesUsed <= 0 || res.NodesUsed > 50 || res.MaxPodsPerNode <= 0 || res.MaxPodsPerNode > schedulerNodeMaxPods {
		t.Errorf("placement: %d nodes used, at most %d pods on one", res.NodesUsed, res.MaxPodsPerNode)
	}
	if res.RSSMB <= 0 || res.PeakRSSMB < res.RSSMB {
		t.Errorf("memory: %v MiB, peak %v MiB", res.RSSMB, res.PeakRSSMB)
	}
	if len(res.BoundAt) != 300 || len(res.CreatedAt) != 300 {
		t.Errorf("%d bind and %d create times, want 300 each", len(res.BoundAt), len(res.CreatedAt))
	}
	if _, err := os.Stat(plot); err != nil {
		t.Errorf("plot: %v", err)
	}

	checkGoroutinesEnded(t, goroutines, "RunScheduler")
}

func TestRunSchedulerServerFails(t *testing.T) {
	checkServerFails(t, "scheduler", func(binary string, log *slog.Logger, out io.Writer) error {
		_, err := RunScheduler(context.Background(), SchedulerConfig{Nodes: 1, Pods: 1, Binary: binary, Logger: log}, out)
		return err
	})
}

func TestParseSchedulerArgs(t *testing.T) {
	cfg := checkDefaultsAndHelp(t, ParseSchedulerArgs, DefaultSchedulerConfig())
	if cfg.Nodes != 5000 || cfg.Pods != 10000 || cfg.Clients != 64 || cfg.Timeout != 10*time.Minute || cfg.PlotFile != "" || cfg.JSONOnly {
		t.Fatalf("defaults: %+v", cfg)
	}
	for _, tt := range []struct {
		name    string
		args    []string
		want    SchedulerConfig // checked when wantErr is ""
		wantErr string          // substring naming the flag
	}{
		{"all flags", []string{"--nodes", "50", "--pods", "300", "--clients", "8", "--timeout", "1m", "--json-only", "--plot", "x.png"},
			SchedulerConfig{Nodes: 50, Pods: 300, Clients: 8, Timeout: time.Minute, JSONOnly: true, PlotFile: "x.png"}, ""},
		{"pods fill the nodes exactly", []string{"--nodes", "2", "--pods", "220"},
			SchedulerConfig{Nodes: 2, Pods: 220, Clients: 64, Timeout: 10 * time.Minute}, ""},
		{"more clients than pods", []string{"--nodes", "1", "--pods", "1", "--clients", "4096"},
			SchedulerConfig{Nodes: 1, Pods: 1, Clients: 4096, Timeout: 10 * time.Minute}, ""},
		{"zero nodes", []string{"--nodes", "0"}, SchedulerConfig{}, "--nodes"},
		{"negative nodes", []string{"--nodes", "-5"}, SchedulerConfig{}, "--nodes"},
		{"too many nodes", []string{"--nodes", "100001"}, SchedulerConfig{}, "--nodes"},
		{"non-numeric nodes", []string{"--nodes", "many"}, SchedulerConfig{}, "-nodes"},
		{"zero pods", []string{"--pods", "0"}, SchedulerConfig{}, "--pods"},
		{"too many pods", []string{"--nodes", "100000", "--pods", "1000001"}, SchedulerConfig{}, "--pods"},
		{"pods do not fit", []string{"--nodes", "2", "--pods", "221"}, SchedulerConfig{}, "--pods: 221 pods do not fit on --nodes 2"},
		{"zero clients", []string{"--clients", "0"}, SchedulerConfig{}, "--clients"},
		{"too many clients", []string{"--clients", "4097"}, SchedulerConfig{}, "--clients"},
		{"zero timeout", []string{"--timeout", "0s"}, SchedulerConfig{}, "--timeout"},
		{"negative timeout", []string{"--timeout", "-1m"}, SchedulerConfig{}, "--timeout"},
		{"bad timeout", []string{"--timeout", "soon"}, SchedulerConfig{}, "-timeout"},
		{"unknown flag", []string{"--deployments", "3"}, SchedulerConfig{}, "-deployments"},
		{"stray argument", []string{"extra"}, SchedulerConfig{}, "unexpected arguments"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseSchedulerArgs(tt.args, io.Discard)
			checkOutcome(t, got, err, tt.want, tt.wantErr)
		})
	}
}

func TestSchedulerPodIndex(t *testing.T) {
	for _, tt := range []struct {
		name string
		n    int
		want int
		ok   bool
	}{
		{schedulerPodName(0), 10, 0, true},
		{schedulerPodName(9), 10, 9, true},
		{schedulerPodName(123456), 200000, 123456, true},
		{schedulerPodName(10), 10, 0, false},
		{"p-00001", 10, 0, false},
		{"p-0000001", 10, 0, false},
		{"p-00000x", 10, 0, false},
		{"q-000001", 10, 0, false},
		{"p--00001", 10, 0, false},
	} {
		if got, ok := schedulerPodIndex(tt.name, tt.n); got != tt.want || ok != tt.ok {
			t.Errorf("schedulerPodIndex(%q, %d) = %d, %v; want %d, %v", tt.name, tt.n, got, ok, tt.want, tt.ok)
		}
	}
}

func TestThroughputSamples(t *testing.T) {
	for _, tt := range []struct {
		name    string
		boundAt []float64
		want    []float64
	}{
		{"none", nil, nil},
		{"under two seconds", []float64{0.2, 0.5, 1.5, 1.9}, nil},
		// Ticks at 1..4 see 2, 5, 9, 10 pods: the first only starts.
		{"steady", []float64{0.3, 0.6, 1.1, 1.2, 1.3, 2.1, 2.2, 2.3, 2.4, 3.5, 4.2}, []float64{3, 4, 1}},
		// Nothing before 2.5 s: ticks 1 and 2 are ignored, tick 3 starts.
		{"late start", []float64{2.5, 2.6, 3.2, 4.1, 4.2, 5.0}, []float64{1, 3}},
		// Tick 2 sees 2 new; tick 3 nothing new: merged into tick 4
		// (4 new in 2 s), counted twice.
		{"gap", []float64{0.5, 1.5, 1.6, 3.5, 3.6, 3.7, 3.8, 4.5}, []float64{2, 2, 2}},
		// The interval after the last tick (4 → 4.9) is not sampled.
		{"tail", []float64{0.5, 1.5, 2.5, 3.5, 4.9, 4.9, 4.9}, []float64{1, 1, 1}},
	} {
		if got := throughputSamples(tt.boundAt); !slices.Equal(got, tt.want) {
			t.Errorf("%s: throughputSamples(%v) = %v, want %v", tt.name, tt.boundAt, got, tt.want)
		}
	}
}

func TestBindsPerSecond(t *testing.T) {
	if got := bindsPerSecond(nil); got != nil {
		t.Errorf("bindsPerSecond(nil) = %v", got)
	}
	if got, want := bindsPerSecond([]float64{0, 0.4, 0.99, 1, 3.2, 3.3}), []int{3, 1, 0, 2}; !slices.Equal(got, want) {
		t.Errorf("bindsPerSecond = %v, want %v", got, want)
	}
}

// sampleSchedulerResult is a plausible run: 10,000 pods created in 4 s and
// bound at 1,250 pods/s from 0.05 s to 8 s.
func sampleSchedulerResult() *SchedulerResult {
	const n = 10000
	t0 := time.Date(2026, 11, 26, 6, 0, 0, 0, time.UTC)
	sent, created, bound := make([]time.Time, n), make([]time.Time, n), make([]time.Time, n)
	for i := range n {
		sent[i] = t0.Add(time.Duration(i) * 400 * time.Microsecond)
		created[i] = sent[i].Add(10 * time.Millisecond)
		bound[i] = t0.Add(50*time.Millisecond + time.Duration(i)*795*time.Microsecond)
	}
	r := &SchedulerResult{Bench: "scheduler", Nodes: 5000, Pods: n, Clients: 64, CreateS: 4, RSSMB: 400, PeakRSSMB: 420,
		NodesUsed: 4990, MaxPodsPerNode: 3, TargetPodsPerSecond: SchedulerTargetPodsPerSecond, Machine: Machine{CPUs: 2, Go: "go1.26", OS: "linux"}}
	r.setTimings(sent, created, bound)
	r.summarize()
	return r
}

func TestSchedulerSetTimingsAndSummarize(t *testing.T) {
	r := sampleSchedulerResult()
	if r.AllBoundS < 7.99 || r.AllBoundS > 8.0 || r.PodsPerSecond < 1250 || r.PodsPerSecond > 1252 || !r.Met {
		t.Fatalf("all bound %v s, %v pods/s, met %v", r.AllBoundS, r.PodsPerSecond, r.Met)
	}
	if r.CreatePodsPerSecond != 2500 {
		t.Fatalf("create rate %v, want 2500", r.CreatePodsPerSecond)
	}
	// Pod i waits 50 ms + i × 0.395 ms: p50 of 10,000 is pod 4999.
	if r.P50Ms < 2024 || r.P50Ms > 2025 || r.P99Ms < 3960 || r.P99Ms > 3961 || r.P90Ms <= r.P50Ms {
		t.Fatalf("latency p50 %v, p90 %v, p99 %v", r.P50Ms, r.P90Ms, r.P99Ms)
	}
	if r.ThroughputSamples != 6 || r.ThroughputMedianPodsPerSecond < 1257 || r.ThroughputMedianPodsPerSecond > 1259 || r.ThroughputMaxPodsPerSecond > 1259 {
		t.Fatalf("throughput samples %d, median %v, max %v", r.ThroughputSamples, r.ThroughputMedianPodsPerSecond, r.ThroughputMaxPodsPerSecond)
	}
	if !slices.IsSorted(r.BoundAt) || !slices.IsSorted(r.CreatedAt) || r.CreatedAt[0] != 0.01 {
		t.Fatalf("times not sorted or not relative to the first create: %v…", r.CreatedAt[:3])
	}
	b, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(b, []byte("BoundAt")) || bytes.Contains(b, []byte("CreatedAt")) || !bytes.Contains(b, []byte(`"met":true`)) {
		t.Fatalf("JSON: %s", b)
	}

	r.AllBoundS = 12.5
	r.summarize()
	if r.PodsPerSecond != 800 || r.Met {
		t.Fatalf("slow run: %v pods/s, met %v", r.PodsPerSecond, r.Met)
	}
	var buf bytes.Buffer
	r.writeTable(&buf)
	if !strings.Contains(buf.String(), "NOT met") || !strings.Contains(buf.String(), "p99") {
		t.Fatalf("table:\n%s", buf.String())
	}
}

func TestWriteSchedulerPlot(t *testing.T) {
	file := filepath.Join(t.TempDir(), "plot.png")
	if err := WriteSchedulerPlot(file, sampleSchedulerResult()); err != nil {
		t.Fatal(err)
	}
	checkPlotFile(t, file)
	if err := WriteSchedulerPlot(file, &SchedulerResult{Pods: 1}); err == nil {
		t.Fatal("WriteSchedulerPlot without times: want an error")
	}
}

func TestSchedulerNodeAndPod(t *testing.T) {
	n := schedulerNode(7)
	a := n.Status.Allocatable
	if n.Name != "bench-node-0007" || n.Labels[corev1.LabelHostname] != n.Name || a.Cpu().Value() != 32 ||
		a.Memory().Value() != 128<<30 || a.Pods().Value() != 110 || n.Status.Capacity.Pods().Value() != 110 {
		t.Fatalf("node: %s %v allocatable %v", n.Name, n.Labels, a)
	}
	if len(n.Status.Conditions) != 1 || n.Status.Conditions[0].Type != corev1.NodeReady || n.Status.Conditions[0].Status != corev1.ConditionTrue {
		t.Fatalf("node conditions: %v", n.Status.Conditions)
	}
	p := schedulerPod(7)
	cpu, mem := podRequests(p)
	if p.Name != "p-000007" || len(p.Spec.Containers) != 1 || p.Spec.Containers[0].Image != "registry.k8s.io/pause:3.10" || cpu != 100 || mem != 500<<20 || p.Spec.NodeName != "" {
		t.Fatalf("pod %s: %+v, requests %dm %d bytes", p.Name, p.Spec.Containers, cpu, mem)
	}
}

func TestPodRequests(t *testing.T) {
	c := func(cpu, mem string) corev1.Container {
		return corev1.Container{Resources: corev1.ResourceRequirements{Requests: corev1.ResourceList{
			corev1.ResourceCPU: resource.MustParse(cpu), corev1.ResourceMemory: resource.MustParse(mem)}}}
	}
	p := &corev1.Pod{Spec: corev1.PodSpec{
		Containers:     []corev1.Container{c("100m", "100Mi"), c("200m", "50Mi"), {Name: "no-requests"}},
		InitContainers: []corev1.Container{c("400m", "10Mi")},
		Overhead:       corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("10m")},
	}}
	// cpu: the init container's 400m beats the containers' 300m; memory:
	// the containers' 150Mi beat the init container's 10Mi.
	if cpu, mem := podRequests(p); cpu != 410 || mem != 150<<20 {
		t.Fatalf("podRequests = %dm, %d bytes; want 410m, %d", cpu, mem, 150<<20)
	}
}

func TestCheckPlacement(t *testing.T) {
	node := func(name string, pods int64) corev1.Node {
		n := schedulerNode(0)
		n.Name = name
		n.Status.Allocatable[corev1.ResourcePods] = *resource.NewQuantity(pods, resource.DecimalSI)
		return *n
	}
	pod := func(ns string, i int, nodeName string) corev1.Pod {
		p := schedulerPod(i)
		p.Namespace, p.Spec.NodeName = ns, nodeName
		return *p
	}
	const ns = schedulerNamespace
	nodes := []corev1.Node{node("a", 2), node("b", 2)}
	ok := func(extra ...corev1.Pod) []corev1.Pod {
		return append([]corev1.Pod{pod(ns, 0, "a"), pod(ns, 1, "b"), pod(ns, 2, "b")}, extra...)
	}
	watched := []string{"a", "b", "b"}
	for _, tt := range []struct {
		name    string
		pods    []corev1.Pod
		want    placement
		wantErr string
	}{
		{"fine", ok(), placement{nodesUsed: 2, maxPerNode: 2}, ""},
		{"terminal foreign pod ignored", ok(func() corev1.Pod {
			p := pod("other", 0, "a")
			p.Status.Phase = corev1.PodSucceeded
			return p
		}()), placement{nodesUsed: 2, maxPerNode: 2}, ""},
		{"foreign pod on a missing node ignored", ok(pod("other", 0, "ghost")), placement{nodesUsed: 2, maxPerNode: 2}, ""},
		{"too many pods on a node", ok(pod("other", 7, "b")), placement{}, "1 nodes are overcommitted (b: 3 pods > 2)"},
		{"unbound", []corev1.Pod{pod(ns, 0, "a"), pod(ns, 1, ""), pod(ns, 2, "b")}, placement{}, "1 pods are not bound (p-000001)"},
		{"missing node", []corev1.Pod{pod(ns, 0, "a"), pod(ns, 1, "ghost"), pod(ns, 2, "b")}, placement{}, "bound to nodes that do not exist (p-000001 on ghost)"},
		{"not listed", ok()[:2], placement{}, "the LIST returned 2 of the 3 benchmark pods"},
		{"moved", []corev1.Pod{pod(ns, 0, "b"), pod(ns, 1, "b"), pod(ns, 2, "a")}, placement{}, "2 pods are bound to another node than the watch first reported"},
		{"cpu overcommitted", func() []corev1.Pod {
			ps := ok()
			ps[0].Spec.Containers[0].Resources.Requests[corev1.ResourceCPU] = resource.MustParse("33")
			return ps
		}(), placement{}, "a: cpu 33000m > 32000m"},
		{"memory overcommitted", func() []corev1.Pod {
			ps := ok()
			ps[0].Spec.Containers[0].Resources.Requests[corev1.ResourceMemory] = resource.MustParse("129Gi")
			return ps
		}(), placement{}, "a: memory"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, err := checkPlacement(nodes, tt.pods, ns, 3, watched)
			checkOutcome(t, got, err, tt.want, tt.wantErr)
		})
	}
}

func TestBindTracker(t *testing.T) {
	tr := newBindTracker(2)
	pod := func(i int, node string, unsched bool) *corev1.Pod {
		p := schedulerPod(i)
		p.Spec.NodeName = node
		if unsched {
			p.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodScheduled, Status: corev1.ConditionFalse, Reason: "Unschedulable"}}
		}
		return p
	}
	tr.observe(pod(0, "", true))
	tr.observe(pod(1, "", false))
	tr.observe(&corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p-000002"}, Spec: corev1.PodSpec{NodeName: "x"}}) // not ours
	tr.observe("not a pod")
	if bound, unsched := tr.counts(); bound != 0 || unsched != 1 {
		t.Fatalf("counts = %d, %d; want 0, 1", bound, unsched)
	}
	before := time.Now()
	tr.observe(pod(0, "a", false))
	tr.observe(pod(0, "a", false)) // a later update of a bound pod
	select {
	case <-tr.done:
		t.Fatal("done after one of two pods")
	default:
	}
	tr.observe(pod(1, "b", false))
	<-tr.done
	tr.observe(pod(1, "c", false)) // must never happen: counted as moved
	boundAt, nodes, moved := tr.snapshot()
	if boundAt[0].Before(before) || boundAt[1].Before(boundAt[0]) || !slices.Equal(nodes, []string{"a", "b"}) || moved != 1 {
		t.Fatalf("snapshot: %v %v moved %d", boundAt, nodes, moved)
	}
	if bound, unsched := tr.counts(); bound != 2 || unsched != 0 {
		t.Fatalf("counts = %d, %d; want 2, 0", bound, unsched)
	}
}
