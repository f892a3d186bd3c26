package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

const (
	// schedulerNamespace holds the benchmark's pods.
	schedulerNamespace = "bench-scheduler"
	// schedulerPodImage is the image of the benchmark pods' one container
	// (never pulled: no agent runs).
	schedulerPodImage = "registry.k8s.io/pause:3.10"
)

// RunScheduler benchmarks the scheduler of a spawned `berth server` (it
// runs there under the controller manager's leader election): it registers
// cfg.Nodes fake Ready nodes, creates cfg.Pods pods from cfg.Clients
// goroutines while a watch records when each pod is first seen bound, and
// waits until every pod is bound; then it checks from LISTs that every pod
// sits on an existing node and that no node is overcommitted. It writes the
// human-readable summary (unless cfg.JSONOnly) and then, as the last line,
// the JSON form of the result to out; on error (including a failed check or
// pods still unbound at cfg.Timeout) the last line is
// {"bench":"scheduler","error":"..."} and the error is returned. The server
// is stopped and its data directory removed before RunScheduler returns,
// also when ctx is cancelled; so have the goroutines it started.
func RunScheduler(ctx context.Context, cfg SchedulerConfig, out io.Writer) (*SchedulerResult, error) {
	res, err := runScheduler(ctx, cfg)
	return finishRun(out, "scheduler", res, err, cfg.JSONOnly, cfg.PlotFile, WriteSchedulerPlot, cfg.Logger)
}

func runScheduler(ctx context.Context, cfg SchedulerConfig) (res *SchedulerResult, err error) {
	if cfg, err = cfg.withDefaults(); err != nil {
		return nil, err
	}
	log := cfg.Logger
	res = &SchedulerResult{Bench: "scheduler", Nodes: cfg.Nodes, Pods: cfg.Pods, Clients: min(cfg.Clients, cfg.Pods),
		TargetPodsPerSecond: SchedulerTargetPodsPerSecond, Machine: thisMachine()}
	// The scheduler runs with the controllers, under the controller
	// manager's Lease: startLeadingServer waits for it.
	proc, ready, cs, stop, err := startLeadingServer(ctx, cfg.Binary, log)
	if err != nil {
		return nil, err
	}
	defer stop()
	res.StartToReadyMs = round(ms(ready), 1)
	if err := ensureNamespace(ctx, cs, schedulerNamespace); err != nil {
		return nil, fmt.Errorf("bench: %w", err)
	}
	log.Info("registering fake nodes", "nodes", cfg.Nodes, "clients", cfg.Clients, "startToReady", ready.Round(time.Millisecond))
	t := time.Now()
	if err := registerNodesWith(ctx, cs, cfg.Nodes, cfg.Clients, schedulerNode); err != nil {
		return nil, err
	}
	res.RegisterNodesS = round(time.Since(t).Seconds(), 3)
	if err := checkNodesReady(ctx, cs, cfg.Nodes); err != nil {
		return nil, err
	}

	// Watch the pods before the first create.
	tr := newBindTracker(cfg.Pods)
	stopInformers, err := watchNamespace(ctx, cs, schedulerNamespace, tr.register)
	if err != nil {
		return nil, err
	}
	defer stopInformers()

	if err := runSchedulerLoad(ctx, cfg, cs, proc, tr, res); err != nil {
		return nil, err
	}
	m, err := proc.memory()
	if err != nil {
		return nil, err
	}
	res.RSSMB, res.PeakRSSMB = round(m.rss, 1), round(m.hwm, 1)

	log.Info("checking the placement")
	nodes, err := listNodes(ctx, cs)
	if err != nil {
		return nil, err
	}
	pods, err := listPods(ctx, cs, "")
	if err != nil {
		return nil, err
	}
	_, watched, moved := tr.snapshot()
	if moved > 0 {
		return nil, fmt.Errorf("bench: placement check failed: the watch saw %d pods move to another node after they were bound", moved)
	}
	p, err := checkPlacement(nodes, pods, schedulerNamespace, cfg.Pods, watched)
	if err != nil {
		return nil, err
	}
	res.NodesUsed, res.MaxPodsPerNode = p.nodesUsed, p.maxPerNode
	res.summarize()
	return res, nil
}

// runSchedulerLoad creates the pods and waits until every one is bound,
// filling the timing and CPU fields of res.
func runSchedulerLoad(ctx context.Context, cfg SchedulerConfig, cs kubernetes.Interface, proc *serverProc, tr *bindTracker, res *SchedulerResult) error {
	log := cfg.Logger
	loadCtx, cancel := context.WithTimeout(ctx, cfg.Timeout)
	defer cancel()
	pid := proc.cmd.Process.Pid
	cpu0, t0 := sampleCPU(pid), time.Now()
	sent, created := make([]time.Time, cfg.Pods), make([]time.Time, cfg.Pods)
	api := cs.CoreV1().Pods(schedulerNamespace)

	log.Info("creating pods", "pods", cfg.Pods, "clients", res.Clients)
	ph, err := parallel(loadCtx, res.Clients, cfg.Pods, func(ctx context.Context, i int, start time.Time) error {
		sent[i] = start
		if _, err := api.Create(ctx, schedulerPod(i), metav1.CreateOptions{}); err != nil {
			return err
		}
		created[i] = time.Now()
		return nil
	})
	if err != nil {
		if errors.Is(err, context.DeadlineExceeded) && ctx.Err() == nil && loadCtx.Err() != nil {
			return fmt.Errorf("bench: --timeout %v passed while creating the pods: %w", cfg.Timeout, err)
		}
		return fmt.Errorf("bench: create %d pods: %w", cfg.Pods, err)
	}
	res.CreateS = round(ph.wall.Seconds(), 3)
	bound, _ := tr.counts()
	log.Info("pods created; waiting for the scheduler", "took", ph.wall.Round(time.Millisecond), "bound", bound)

	tick := time.NewTicker(progressLogInterval)
	defer tick.Stop()
	for waiting := true; waiting; {
		select {
		case <-tr.done:
			waiting = false
		case <-proc.exited:
			return fmt.Errorf("bench: the server exited during the load (%v): %s", proc.waitErr, proc.stderr.String())
		case <-loadCtx.Done():
			bound, unsched := tr.counts()
			if ctx.Err() != nil {
				return fmt.Errorf("bench: stopped with %d of %d pods unbound: %w", cfg.Pods-bound, cfg.Pods, ctx.Err())
			}
			return fmt.Errorf("bench: %d of %d pods still unbound %v after the first create (%d of them marked unschedulable by the scheduler; is a scheduler running?): %w",
				cfg.Pods-bound, cfg.Pods, cfg.Timeout, unsched, loadCtx.Err())
		case <-tick.C:
			bound, unsched := tr.counts()
			log.Info("progress", "elapsed", time.Since(t0).Round(time.Second), "bound", bound, "of", cfg.Pods, "unschedulable", unsched)
		}
	}
	cpu1 := sampleCPU(pid)
	res.OtherCPUPct, res.CPUSeconds = cpuUse(log, "the load", cpu0, cpu1, t0)
	boundAt, _, _ := tr.snapshot()
	res.setTimings(sent, created, boundAt)
	log.Info("every pod bound", "allBound", time.Duration(res.AllBoundS*float64(time.Second)).Round(time.Millisecond))
	return nil
}

// schedulerNode is fake node i with the allocatable of the scheduler
// benchmark: 32 CPUs, 128 GiB, 110 pods.
func schedulerNode(i int) *corev1.Node {
	n := fakeNode(i)
	res := corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("32"), corev1.ResourceMemory: resource.MustParse("128Gi"),
		corev1.ResourcePods: *resource.NewQuantity(schedulerNodeMaxPods, resource.DecimalSI)}
	n.Status.Capacity, n.Status.Allocatable = res, res.DeepCopy()
	return n
}

// schedulerPod is pod i: one pause container requesting 100m cpu and 500Mi
// memory, the requests of Kubernetes scheduler_perf's pod-default.yaml,
// with equal limits.
func schedulerPod(i int) *corev1.Pod {
	rl := corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("100m"), corev1.ResourceMemory: resource.MustParse("500Mi")}
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: schedulerPodName(i), Labels: map[string]string{"bench": "scheduler"}},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{
			Name:      "pause",
			Image:     schedulerPodImage,
			Ports:     []corev1.ContainerPort{{ContainerPort: 80}},
			Resources: corev1.ResourceRequirements{Requests: rl, Limits: rl.DeepCopy()},
		}}},
	}
}

// checkNodesReady verifies that n nodes exist and report Ready=True.
func checkNodesReady(ctx context.Context, cs kubernetes.Interface, n int) error {
	nodes, err := listNodes(ctx, cs)
	if err != nil {
		return err
	}
	ready := 0
	for _, node := range nodes {
		for _, c := range node.Status.Conditions {
			if c.Type == corev1.NodeReady && c.Status == corev1.ConditionTrue {
				ready++
			}
		}
	}
	if len(nodes) != n || ready != n {
		return fmt.Errorf("bench: after registering %d fake nodes the server lists %d nodes, %d of them Ready", n, len(nodes), ready)
	}
	return nil
}
