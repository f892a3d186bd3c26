package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"os"
	"os/exec"
	"slices"
	"strings"
	"syscall"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

const (
	// podsNamespace holds the benchmark's pods.
	podsNamespace = "bench-pods"
	// podsNodeName is the node the spawned agent registers.
	podsNodeName = "bench-node"
	// podsRunEnv is set in every container's environment to the run's ID,
	// so that the processes of exactly this run's pods can be found.
	podsRunEnv = "BERTH_BENCH_PODS"
	// podsCleanupTimeout bounds deleting the pods after a failed run.
	podsCleanupTimeout = time.Minute
	// processGoneWait bounds the wait, once every pod is gone from the
	// API, for their processes to end.
	processGoneWait = 10 * time.Second
	// processPoll is how often /proc is scanned while waiting for them.
	processPoll = 20 * time.Millisecond
	// hostNetworkPrefix starts the reason in a node's Ready message when
	// its agent runs pods in the host network.
	hostNetworkPrefix = "pods use the host network: "
)

// RunPods benchmarks pod start-up through a spawned `berth server` and a
// spawned `berth agent` with the process driver: once the agent's node is
// Ready and the agent has idled (its idle RSS is read), cfg.Clients
// goroutines create cfg.Pods bare pods, each one container running
// /bin/sleep 3600, while a watch records when each pod is first seen
// Ready; then the pods are deleted and the time until every pod and its
// process is gone is measured; finally the agent is stopped and any
// process of the pods still alive is killed and counted. It writes the
// human-readable summary (unless cfg.JSONOnly) and then, as the last line,
// the JSON form of the result to out; on error (including pods not Ready or
// not gone within cfg.Timeout) the last line is
// {"bench":"pods","error":"..."} and the error is returned. The agent, the
// pods' processes and the server are stopped and the data directories
// removed before RunPods returns, also when ctx is cancelled; so have the
// goroutines it started.
func RunPods(ctx context.Context, cfg PodsConfig, out io.Writer) (*PodsResult, error) {
	res, err := runPods(ctx, cfg)
	return finishRun(out, "pods", res, err, cfg.JSONOnly, cfg.PlotFile, WritePodsPlot, cfg.Logger)
}

// podsRun is the state of one run of the pods benchmark.
type podsRun struct {
	cfg     PodsConfig
	log     *slog.Logger
	cs      kubernetes.Interface
	server  *serverProc
	agent   *serverProc
	tr      *readyTracker
	runID   string // the value of podsRunEnv in the containers
	clients int
	// created is set once pods may exist, deleted once all are gone.
	created, deleted bool
	// agentStopped is set once stopAgent ran.
	agentStopped bool
}

func runPods(ctx context.Context, cfg PodsConfig) (res *PodsResult, err error) {
	if cfg, err = cfg.withDefaults(); err != nil {
		return nil, err
	}
	log := cfg.Logger
	res = &PodsResult{Bench: "pods", Pods: cfg.Pods, Clients: min(cfg.Clients, cfg.Pods), RatePerS: cfg.Rate, Driver: driverOr(cfg.Driver),
		TargetP99Ms: PodsTargetP99Ms, TargetAgentRSSMB: PodsTargetAgentRSSMB, Machine: thisMachine()}
	proc, ready, cs, stop, err := startLeadingServer(ctx, cfg.Binary, log, "--cluster-cidr", cfg.ClusterCIDR)
	if err != nil {
		return nil, err
	}
	defer stop()
	res.StartToReadyMs = round(ms(ready), 1)
	if err := ensureNamespace(ctx, cs, podsNamespace); err != nil {
		return nil, fmt.Errorf("bench: %w", err)
	}
	r := &podsRun{cfg: cfg, log: log, cs: cs, server: proc, tr: newReadyTracker(cfg.Pods),
		runID: fmt.Sprintf("%08x", rand.Uint32()), clients: res.Clients}
	// Watch the pods before the first create.
	stopInformers, err := watchNamespace(ctx, cs, podsNamespace, r.tr.register)
	if err != nil {
		return nil, err
	}
	defer stopInformers()

	log.Info("server ready; starting the agent", "startToReady", ready.Round(time.Millisecond))
	var spawned time.Time
	for attempt := 1; ; attempt++ {
		spawned = time.Now() // agent_ready_ms counts the attempt that ran
		if r.agent, err = startAgent(cfg, proc, log); err != nil {
			return nil, err
		}
		err = portTaken(r.waitAgentReady(ctx), r.agent.stderr.String())
		if !errors.Is(err, errPortTaken) || cfg.AgentPort != 0 || attempt == portAttempts {
			break
		}
		log.Info("the free port was taken before the agent listened; trying another", "err", err)
		r.agent.stop() // it has exited: this removes its directory
	}
	defer r.cleanup()
	if err != nil {
		return nil, err
	}
	agentReady := time.Since(spawned)
	res.AgentReadyMs = round(ms(agentReady), 1)
	log.Info("agent ready; idling before reading its memory", "agentReady", agentReady.Round(time.Millisecond), "idle", cfg.IdleWait)
	idle, endIdle := context.WithTimeout(ctx, cfg.IdleWait)
	<-idle.Done()
	endIdle()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	m, err := r.agent.memory()
	if err != nil {
		return nil, fmt.Errorf("bench: agent: %w", err)
	}
	res.AgentIdleRSSMB, res.AgentIdleRSSAnonMB, res.AgentIdleRSSFileMB = round(m.rss, 1), round(m.anon, 1), round(m.file, 1)
	if node, err := cs.CoreV1().Nodes().Get(ctx, podsNodeName, metav1.GetOptions{}); err == nil {
		res.HostNetworkReason = hostNetworkReason(node)
	}

	serverPID, agentPID := proc.cmd.Process.Pid, r.agent.cmd.Process.Pid
	cpu0, agent0, t0 := sampleCPU(serverPID), sampleTreeCPU(agentPID), time.Now()
	if err := r.createPods(ctx, res); err != nil {
		return nil, err
	}
	cpuR, agentR := sampleCPU(serverPID), sampleTreeCPU(agentPID)
	res.ReadyOtherCPUPct, res.ReadyCPUSeconds = podsCPUUse(log, cpu0, cpuR, agent0, agentR, t0)
	if m, err = r.agent.memory(); err != nil {
		return nil, fmt.Errorf("bench: agent: %w", err)
	}
	res.AgentRSSWithPodsMB = round(m.rss, 1)
	if err := r.deletePods(ctx, res); err != nil {
		return nil, err
	}
	cpu1, agent1 := sampleCPU(serverPID), sampleTreeCPU(agentPID)
	res.OtherCPUPct, res.CPUSeconds = podsCPUUse(log, cpu0, cpu1, agent0, agent1, t0)
	res.LeftoverProcesses = r.stopAgent()
	res.summarize()
	return res, nil
}

// startAgent spawns binary as `berth agent` joining server as node
// podsNodeName, with a fresh temporary agent data directory; the process
// is handled like the server's (a process group of its own, SIGKILL should
// the benchmark die; stop sends SIGTERM, then SIGKILL, and removes the
// directory). An agent for more than its default 110 pods gets --max-pods.
// Its bridge is cfg.Bridge and its HTTPS endpoint listens on cfg.AgentPort
// (a free port when zero), so that it collides with no other agent.
func startAgent(cfg PodsConfig, server *serverProc, log *slog.Logger) (*serverProc, error) {
	binary, port := cfg.Binary, cfg.AgentPort
	if port == 0 {
		var err error
		if port, err = freePort(); err != nil {
			return nil, err
		}
	}
	dir, err := os.MkdirTemp("", "berth-bench-agent-*")
	if err != nil {
		return nil, fmt.Errorf("bench: temp agent data dir: %w", err)
	}
	args := []string{"agent", "--server", server.url, "--token-file", server.dir + "/node-token",
		"--node-name", podsNodeName, "--agent-data-dir", dir, "--log-level", "warn",
		"--cni-bridge", cfg.Bridge, "--agent-port", fmt.Sprint(port), "--driver=" + driverOr(cfg.Driver)}
	if cfg.Pods > 110 {
		args = append(args, "--max-pods", fmt.Sprint(cfg.Pods))
	}
	// The command of a serverProc is the agent here; its stop, memory and
	// exit handling apply as they are.
	p := &serverProc{log: log.With("process", "agent"), dir: dir, url: server.url, stderr: &tailBuffer{max: 16 << 10}, exited: make(chan struct{})}
	p.cmd = exec.Command(binary, args...)
	p.cmd.Stderr = p.stderr
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := p.cmd.Start(); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("bench: start %s agent: %w", binary, err)
	}
	go func() {
		p.waitErr = p.cmd.Wait()
		close(p.exited)
	}()
	log.Info("starting agent", "node", podsNodeName, "agentDataDir", dir, "root", os.Geteuid() == 0, "bridge", cfg.Bridge, "agentPort", port)
	return p, nil
}

// waitAgentReady polls until the agent's Node is Ready (and, as root, has
// a podCIDR, which the agent waits for before it serves pods) and its
// Lease exists: the agent creates the Lease once its driver is built and
// its pod informer synced, just before it serves pods.
func (r *podsRun) waitAgentReady(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, readyTimeout)
	defer cancel()
	needCIDR := os.Geteuid() == 0
	tick := time.NewTicker(readyPoll)
	defer tick.Stop()
	for {
		if node, err := r.cs.CoreV1().Nodes().Get(ctx, podsNodeName, metav1.GetOptions{}); err == nil {
			c := nodeReadyCondition(node)
			if c != nil && c.Status == corev1.ConditionTrue && (node.Spec.PodCIDR != "" || !needCIDR) {
				if _, err := r.cs.CoordinationV1().Leases(corev1.NamespaceNodeLease).Get(ctx, podsNodeName, metav1.GetOptions{}); err == nil {
					return nil
				}
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("bench: node %s of the agent not ready (Ready, podCIDR as root, Lease) within %v: %w; agent stderr: %s",
				podsNodeName, readyTimeout, ctx.Err(), r.agent.stderr.String())
		case <-r.agent.exited:
			return fmt.Errorf("bench: the agent exited before its node was ready (%v): %s", r.agent.waitErr, r.agent.stderr.String())
		case <-tick.C:
		}
	}
}

// nodeReadyCondition returns the node's Ready condition, nil if it has
// none.
func nodeReadyCondition(node *corev1.Node) *corev1.NodeCondition {
	i := slices.IndexFunc(node.Status.Conditions, func(c corev1.NodeCondition) bool { return c.Type == corev1.NodeReady })
	if i < 0 {
		return nil
	}
	return &node.Status.Conditions[i]
}

// hostNetworkReason is why the node's agent runs pods in the host
// network, from its Ready condition; "" when it does not say so.
func hostNetworkReason(node *corev1.Node) string {
	if c := nodeReadyCondition(node); c != nil {
		_, reason, _ := strings.Cut(c.Message, hostNetworkPrefix)
		return reason
	}
	return ""
}

// sleepPod is pod i: one container running /bin/sleep 3600 with tiny
// requests and the run's ID in its environment (podsRunEnv).
func sleepPod(i int, runID string) *corev1.Pod {
	rl := corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("1m"), corev1.ResourceMemory: resource.MustParse("1Mi")}
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: podsPodName(i), Labels: map[string]string{"bench": "pods"}},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{
			Name:      "sleep",
			Image:     "busybox", // not used by the process driver
			Command:   []string{"/bin/sleep", "3600"},
			Env:       []corev1.EnvVar{{Name: podsRunEnv, Value: runID}},
			Resources: corev1.ResourceRequirements{Requests: rl},
		}}},
	}
}

// benchPod is pod i for the run's driver: sleepPod, or with the docker
// driver a container of cfg.Image (local: IfNotPresent) running its own
// entrypoint.
func benchPod(cfg PodsConfig, i int, runID string) *corev1.Pod {
	p := sleepPod(i, runID)
	if cfg.Driver == "docker" {
		c := &p.Spec.Containers[0]
		c.Image, c.Command, c.ImagePullPolicy = cfg.Image, nil, corev1.PullIfNotPresent
		c.Env = append(c.Env, corev1.EnvVar{Name: "PORT", Value: "3000"})
	}
	return p
}

// createPods creates the pods and waits until every one was seen Ready,
// filling the latency fields of res and Root.
func (r *podsRun) createPods(ctx context.Context, res *PodsResult) error {
	loadCtx, cancel := context.WithTimeout(ctx, r.cfg.Timeout)
	defer cancel()
	n := r.cfg.Pods
	sent := make([]time.Time, n)
	api := r.cs.CoreV1().Pods(podsNamespace)
	r.log.Info("creating pods", "pods", n, "clients", r.clients, "rate", r.cfg.Rate, "namespace", podsNamespace)
	r.created = true
	first := time.Now()
	ph, err := parallel(loadCtx, r.clients, n, func(ctx context.Context, i int, start time.Time) error {
		if r.cfg.Rate > 0 {
			due := first.Add(time.Duration(float64(i) / r.cfg.Rate * float64(time.Second)))
			if err := sleepCtx(ctx, time.Until(due)); err != nil {
				return err
			}
			start = time.Now()
		}
		sent[i] = start
		_, err := api.Create(ctx, benchPod(r.cfg, i, r.runID), metav1.CreateOptions{})
		return err
	})
	if err != nil {
		return fmt.Errorf("bench: create %d pods: %w", n, err)
	}
	ready, _ := r.tr.counts()
	r.log.Info("pods created; waiting until they are Ready", "took", ph.wall.Round(time.Millisecond), "ready", ready)
	notReady := func() int { ready, _ := r.tr.counts(); return n - ready }
	if err := r.await(ctx, loadCtx, r.tr.allReady, "Ready", notReady, r.tr.notReady); err != nil {
		return err
	}
	readyAt, _, ownIP := r.tr.snapshot()
	res.setLatencies(sent, readyAt)
	res.Root = ownIP == n
	r.log.Info("every pod Ready", "allReady", time.Duration(res.AllReadyS*float64(time.Second)).Round(time.Millisecond), "p99Ms", res.P99Ms)
	return nil
}

// deletePods deletes the pods (default grace period: the agent sends
// SIGTERM) and waits until every one was seen deleted and none of their
// processes is left, filling DeleteAllS.
func (r *podsRun) deletePods(ctx context.Context, res *PodsResult) error {
	loadCtx, cancel := context.WithTimeout(ctx, r.cfg.Timeout)
	defer cancel()
	n := r.cfg.Pods
	api := r.cs.CoreV1().Pods(podsNamespace)
	r.log.Info("deleting pods", "pods", n, "clients", r.clients)
	t0 := time.Now()
	if _, err := parallel(loadCtx, r.clients, n, func(ctx context.Context, i int, _ time.Time) error {
		return api.Delete(ctx, podsPodName(i), metav1.DeleteOptions{})
	}); err != nil {
		return fmt.Errorf("bench: delete %d pods: %w", n, err)
	}
	notGone := func() int { _, gone := r.tr.counts(); return n - gone }
	if err := r.await(ctx, loadCtx, r.tr.allGone, "deleted", notGone, nil); err != nil {
		return err
	}
	r.deleted = true
	_, goneAt, _ := r.tr.snapshot()
	end := slices.MaxFunc(goneAt, func(a, b time.Time) int { return a.Compare(b) })
	// The agent ends a pod's processes before it completes the deletion,
	// so none should be found; if some are, the deletion lasts until they
	// are gone.
	for deadline := time.Now().Add(processGoneWait); ; {
		pids := podProcesses(r.runID)
		if len(pids) == 0 {
			break
		}
		if time.Now().After(deadline) {
			r.log.Warn("processes of deleted pods still run", "pids", pids, "after", processGoneWait)
			break
		}
		time.Sleep(processPoll)
		end = time.Now()
	}
	res.DeleteAllS = round(end.Sub(t0).Seconds(), 3)
	r.log.Info("every pod gone", "deleteAll", end.Sub(t0).Round(time.Millisecond))
	return nil
}

// await waits until done is closed, which says that every pod is what
// ("Ready", "deleted"); left counts the pods that are not. It fails when
// the server or the agent exits or when loadCtx, a child of ctx, ends; the
// error of a timeout adds what detail (if not nil) says about those pods.
// Every progressLogInterval it logs how many are left.
func (r *podsRun) await(ctx, loadCtx context.Context, done <-chan struct{}, what string, left func() int, detail func() string) error {
	n := r.cfg.Pods
	t0 := time.Now()
	tick := time.NewTicker(progressLogInterval)
	defer tick.Stop()
	for {
		select {
		case <-done:
			return nil
		case <-r.server.exited:
			return fmt.Errorf("bench: the server exited with %d of %d pods not %s (%v): %s", left(), n, what, r.server.waitErr, r.server.stderr.String())
		case <-r.agent.exited:
			return fmt.Errorf("bench: the agent exited with %d of %d pods not %s (%v): %s", left(), n, what, r.agent.waitErr, r.agent.stderr.String())
		case <-loadCtx.Done():
			if err := ctx.Err(); err != nil {
				return fmt.Errorf("bench: stopped with %d of %d pods not %s: %w", left(), n, what, err)
			}
			why := ""
			if detail != nil {
				why = " (" + detail() + ")"
			}
			return fmt.Errorf("bench: %d of %d pods not %s within --timeout %v%s: %w", left(), n, what, r.cfg.Timeout, why, loadCtx.Err())
		case <-tick.C:
			r.log.Info("waiting until every pod is "+what, "elapsed", time.Since(t0).Round(time.Second), "left", left(), "of", n)
		}
	}
}

// stopAgent stops the agent (which leaves pods running) and then kills
// what is left of the processes of the run's pods, if anything: after the
// pods were deleted nothing should be. It returns how many it found. Only
// its first call does anything.
func (r *podsRun) stopAgent() int {
	if r.agentStopped {
		return 0
	}
	r.agentStopped = true
	r.agent.stop()
	if msg := r.agent.stderr.String(); msg != "" {
		r.log.Warn("the agent logged warnings", "stderr", msg)
	}
	pids := podProcesses(r.runID)
	if len(pids) > 0 {
		r.log.Warn("processes of the benchmark's pods outlived the agent; killing them", "pids", pids, "podsDeleted", r.deleted)
		killProcesses(pids)
	}
	return len(pids)
}

// cleanup runs when runPods returns: after a failed run it deletes the
// pods left and waits a while for the agent to remove them, with their
// sandboxes and network namespaces; then it stops the agent and kills the
// pods' processes that are left.
func (r *podsRun) cleanup() {
	if r.created && !r.deleted && !r.agentStopped {
		ctx, cancel := context.WithTimeout(context.Background(), podsCleanupTimeout)
		defer cancel()
		r.log.Info("cleaning up: deleting the pods through the agent")
		if err := r.deleteLeft(ctx); err != nil {
			r.log.Warn("cleanup: the pods were not all deleted; their processes are killed", "err", err)
		}
	}
	r.stopAgent()
}

// deleteLeft deletes the benchmark's pods with a grace period of 1 s and
// waits until a LIST finds none. A graceful deletion of a bound pod ends
// only once its agent has stopped the containers and removed the sandbox
// (grace period 0 would remove the pod from the API at once, before that).
func (r *podsRun) deleteLeft(ctx context.Context) error {
	api := r.cs.CoreV1().Pods(podsNamespace)
	grace := int64(1)
	for i := range r.cfg.Pods {
		err := api.Delete(ctx, podsPodName(i), metav1.DeleteOptions{GracePeriodSeconds: &grace})
		if err != nil && !apierrors.IsNotFound(err) {
			return err
		}
	}
	for {
		pods, err := listPods(ctx, r.cs, podsNamespace)
		if err == nil && len(pods) == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return errors.Join(ctx.Err(), err)
		case <-r.agent.exited:
			return errors.New("the agent exited")
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// driverOr is the agent's --driver for the bench (process by default).
func driverOr(d string) string {
	if d == "" {
		return "process"
	}
	return d
}
