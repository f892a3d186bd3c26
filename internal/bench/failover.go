package bench

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/kubernetes"
)

const (
	// failoverNamespace holds the benchmark's Deployment.
	failoverNamespace = "bench-failover"
	// failoverApp names the Deployment and labels its pods.
	failoverApp = "failover"
	// failoverPoll is how often the API is polled while timing a failure:
	// the resolution of the times.
	failoverPoll = 100 * time.Millisecond
	// leaseRenewInterval is how often an agent renews its node's Lease.
	leaseRenewInterval = 10 * time.Second
	// failoverCleanupTimeout bounds deleting the Deployment's pods at the
	// end of a run.
	failoverCleanupTimeout = time.Minute
)

// failoverNodes are the names of the two agents' nodes; the second one
// fails.
var failoverNodes = [2]string{"bench-failover-a", "bench-failover-b"}

// RunFailover benchmarks node failure handling through a spawned `berth
// server` (with cfg's grace period and tolerations) and two spawned `berth
// agent`s with the process driver, on bridges and a cluster CIDR of their
// own: a Deployment of cfg.Replicas runs over both nodes; in each round
// the second agent is killed with SIGKILL and the API is polled until its
// node is NotReady with the unreachable taint, its pods are evicted and
// every replica is Ready on the first node; then the agent is started
// again (it removes the evicted pods' orphaned processes) and the
// replicas are spread again by deleting them. It writes the summary
// (unless cfg.JSONOnly) and, as the last line, the JSON result to out; on
// error the last line is {"bench":"failover","error":"..."}. The agents,
// the pods' processes and the server are stopped and the data
// directories removed before it returns.
func RunFailover(ctx context.Context, cfg FailoverConfig, out io.Writer) (*FailoverResult, error) {
	res, err := runFailover(ctx, cfg)
	return finishRun(out, "failover", res, err, cfg.JSONOnly, cfg.PlotFile, WriteFailoverPlot, cfg.Logger)
}

// failoverRun is the state of one run of the failover benchmark.
type failoverRun struct {
	cfg    FailoverConfig
	log    *slog.Logger
	cs     kubernetes.Interface
	server *serverProc
	agents [2]*serverProc
	dirs   [2]string // the agents' data directories, kept across restarts
	ports  [2]int    // the agents' --agent-port
	runID  string    // the value of podsRunEnv in the containers
}

func runFailover(ctx context.Context, cfg FailoverConfig) (res *FailoverResult, err error) {
	if cfg, err = cfg.withDefaults(); err != nil {
		return nil, err
	}
	log := cfg.Logger
	workload := "/bin/sleep 3600"
	if cfg.WebApp != "" {
		workload = "examples/webapp with a readiness probe"
	}
	res = &FailoverResult{Bench: "failover", Replicas: cfg.Replicas, Workload: workload, GracePeriodS: cfg.GracePeriod.Seconds(),
		TolerationS: cfg.TolerationSeconds, PollMs: ms(failoverPoll), Root: os.Geteuid() == 0, Machine: thisMachine(),
		BoundS: cfg.GracePeriod.Seconds() + float64(cfg.TolerationSeconds)}
	tol := strconv.Itoa(cfg.TolerationSeconds)
	proc, _, cs, stop, err := startLeadingServer(ctx, cfg.Binary, log, "--cluster-cidr", cfg.ClusterCIDR,
		"--node-monitor-grace-period", cfg.GracePeriod.String(),
		"--default-not-ready-toleration-seconds", tol, "--default-unreachable-toleration-seconds", tol)
	if err != nil {
		return nil, err
	}
	defer stop()
	if err := ensureNamespace(ctx, cs, failoverNamespace); err != nil {
		return nil, fmt.Errorf("bench: %w", err)
	}
	r := &failoverRun{cfg: cfg, log: log, cs: cs, server: proc, runID: fmt.Sprintf("%08x", rand.Uint32())}
	defer func() {
		if left := r.cleanup(); left > 0 && res != nil {
			res.LeftoverProcesses = left
		}
	}()
	// Bridges of an earlier run have its podCIDRs, which nodeipam may
	// now hand out the other way round.
	r.removeHostNetwork()
	for i := range r.agents {
		if r.dirs[i], err = os.MkdirTemp("", "berth-bench-failover-agent-*"); err != nil {
			return nil, fmt.Errorf("bench: temp agent data dir: %w", err)
		}
		if r.ports[i], err = freePort(); err != nil {
			return nil, err
		}
		if err := r.startAgent(i); err != nil {
			return nil, err
		}
	}
	if err := r.waitNodes(ctx); err != nil {
		return nil, err
	}
	if _, err := cs.AppsV1().Deployments(failoverNamespace).Create(ctx, r.deployment(), metav1.CreateOptions{}); err != nil {
		return nil, fmt.Errorf("bench: create the Deployment: %w", err)
	}
	for round := range cfg.Rounds {
		if err := r.spread(ctx, round > 0); err != nil {
			return nil, err
		}
		rd, err := r.failNode(ctx)
		if err != nil {
			return nil, fmt.Errorf("round %d: %w", round+1, err)
		}
		log.Info("node failure timed", "round", round+1, "notReady", rd.NotReadyS, "evicted", rd.EvictedS, "replaced", rd.ReplacedS)
		if rd.RecoveredS, err = r.recover(ctx); err != nil {
			return nil, fmt.Errorf("round %d: %w", round+1, err)
		}
		res.Rounds = append(res.Rounds, rd)
	}
	res.summarize()
	return res, nil
}

// startAgent spawns agent i (again) as `berth agent` on its node, data
// directory, bridge and port; like the server it runs in a process group
// of its own and gets SIGKILL should the benchmark die. Its data directory
// is kept when it stops (cleanup removes it).
func (r *failoverRun) startAgent(i int) error {
	args := []string{"agent", "--server", r.server.url, "--token-file", filepath.Join(r.server.dir, "node-token"),
		"--node-name", failoverNodes[i], "--agent-data-dir", r.dirs[i], "--log-level", "warn",
		"--cni-bridge", r.cfg.Bridges[i], "--agent-port", strconv.Itoa(r.ports[i]),
		// One machine: the first agent serves the Services.
		fmt.Sprintf("--service-proxy=%v", i == 0), "--driver=process"}
	p := &serverProc{log: r.log.With("process", "agent", "node", failoverNodes[i]), url: r.server.url,
		stderr: &tailBuffer{max: 16 << 10}, exited: make(chan struct{})}
	p.cmd = exec.Command(r.cfg.Binary, args...)
	p.cmd.Stderr = p.stderr
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := p.cmd.Start(); err != nil {
		return fmt.Errorf("bench: start %s agent: %w", r.cfg.Binary, err)
	}
	go func() {
		p.waitErr = p.cmd.Wait()
		close(p.exited)
	}()
	r.agents[i] = p
	r.log.Info("starting agent", "node", failoverNodes[i], "bridge", r.cfg.Bridges[i], "agentPort", r.ports[i])
	return nil
}

// running reports whether agent i runs.
func (r *failoverRun) running(i int) bool {
	if r.agents[i] == nil {
		return false
	}
	select {
	case <-r.agents[i].exited:
		return false
	default:
		return true
	}
}

// poll calls check every failoverPoll until it reports done, for at most
// cfg.Timeout; it fails when ctx ends, the server exits or one of the
// agents in need exits.
func (r *failoverRun) poll(ctx context.Context, what string, need []int, check func(time.Duration) (bool, error)) error {
	t0 := time.Now()
	deadline := time.NewTimer(r.cfg.Timeout)
	defer deadline.Stop()
	tick := time.NewTicker(failoverPoll)
	defer tick.Stop()
	var last error
	for {
		done, err := check(time.Since(t0))
		if done {
			return nil
		}
		if err != nil {
			last = err
		}
		for _, i := range need {
			if !r.running(i) {
				return fmt.Errorf("bench: the agent of %s exited while waiting for %s (%v): %s", failoverNodes[i], what, r.agents[i].waitErr, r.agents[i].stderr.String())
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("bench: stopped while waiting for %s: %w", what, ctx.Err())
		case <-r.server.exited:
			return fmt.Errorf("bench: the server exited while waiting for %s (%v): %s", what, r.server.waitErr, r.server.stderr.String())
		case <-deadline.C:
			return fmt.Errorf("bench: %s not within --timeout %v (last: %v)", what, r.cfg.Timeout, last)
		case <-tick.C:
		}
	}
}

// nodeUp tells whether the node is Ready, schedulable and untainted (and,
// as root, has a podCIDR).
func (r *failoverRun) nodeUp(ctx context.Context, name string) (bool, error) {
	n, err := r.cs.CoreV1().Nodes().Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return false, err
	}
	c := nodeReadyCondition(n)
	ok := c != nil && c.Status == corev1.ConditionTrue && !n.Spec.Unschedulable && len(n.Spec.Taints) == 0 &&
		(n.Spec.PodCIDR != "" || os.Geteuid() != 0)
	if !ok {
		return false, fmt.Errorf("node %s: ready %v, unschedulable %v, taints %v, podCIDR %q", name, c, n.Spec.Unschedulable, n.Spec.Taints, n.Spec.PodCIDR)
	}
	return true, nil
}

// waitNodes waits until both nodes are up.
func (r *failoverRun) waitNodes(ctx context.Context) error {
	return r.poll(ctx, "both nodes Ready", []int{0, 1}, func(time.Duration) (bool, error) {
		for _, n := range failoverNodes {
			if ok, err := r.nodeUp(ctx, n); !ok {
				return false, err
			}
		}
		return true, nil
	})
}

// deployment is the benchmark's Deployment: cfg.Replicas pods, each one
// container (sleep or the web app) with tiny requests and the run's ID in
// its environment (podsRunEnv), a grace period of 1 s.
func (r *failoverRun) deployment() *appsv1.Deployment {
	labels := map[string]string{"app": failoverApp}
	replicas := int32(r.cfg.Replicas)
	grace := int64(1)
	c := corev1.Container{
		Name: "app", Image: "busybox", // not used by the process driver
		Command: []string{"/bin/sleep", "3600"},
		Env:     []corev1.EnvVar{{Name: podsRunEnv, Value: r.runID}},
		Resources: corev1.ResourceRequirements{Requests: corev1.ResourceList{
			corev1.ResourceCPU: resource.MustParse("1m"), corev1.ResourceMemory: resource.MustParse("8Mi")}},
	}
	if r.cfg.WebApp != "" {
		c.Command = []string{r.cfg.WebApp}
		c.Env = append(c.Env, corev1.EnvVar{Name: "PORT", Value: "3000"},
			corev1.EnvVar{Name: "POD_NAME", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.name"}}})
		c.ReadinessProbe = &corev1.Probe{ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/healthz", Port: intstr.FromInt32(3000)}},
			PeriodSeconds: 1}
	}
	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: failoverApp},
		Spec: appsv1.DeploymentSpec{
			Replicas: &replicas,
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec:       corev1.PodSpec{TerminationGracePeriodSeconds: &grace, Containers: []corev1.Container{c}},
			},
		},
	}
}

// podReady tells whether the pod is Running and Ready and not being
// deleted.
func podReady(p *corev1.Pod) bool {
	if p.DeletionTimestamp != nil || p.Status.Phase != corev1.PodRunning {
		return false
	}
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// readyByNode counts the Ready pods per node and all pods.
func readyByNode(pods []corev1.Pod) (ready map[string]int, total int) {
	ready = map[string]int{}
	for i := range pods {
		if podReady(&pods[i]) {
			ready[pods[i].Spec.NodeName]++
			total++
		}
	}
	return ready, total
}

// spread waits until every replica is Ready, some on each node, no other
// pod exists and each pod has exactly one process; with respread it first
// deletes the pods so that the ReplicaSet places them anew over both
// nodes.
func (r *failoverRun) spread(ctx context.Context, respread bool) error {
	if respread {
		err := r.cs.CoreV1().Pods(failoverNamespace).DeleteCollection(ctx, metav1.DeleteOptions{}, metav1.ListOptions{LabelSelector: "app=" + failoverApp})
		if err != nil {
			return fmt.Errorf("bench: delete the pods to spread them again: %w", err)
		}
	}
	n := r.cfg.Replicas
	return r.poll(ctx, fmt.Sprintf("%d replicas Ready over both nodes", n), []int{0, 1}, func(time.Duration) (bool, error) {
		pods, err := listPods(ctx, r.cs, failoverNamespace)
		if err != nil {
			return false, err
		}
		ready, total := readyByNode(pods)
		procs := len(podProcesses(r.runID))
		if total != n || len(pods) != n || ready[failoverNodes[0]] == 0 || ready[failoverNodes[1]] == 0 || procs != n {
			return false, fmt.Errorf("%d pods, %d Ready (%v), %d processes", len(pods), total, ready, procs)
		}
		return true, nil
	})
}

// failNode kills the second agent and times its node's failure until
// every replica is Ready on the first node.
func (r *failoverRun) failNode(ctx context.Context) (FailoverRound, error) {
	var rd FailoverRound
	pods, err := listPods(ctx, r.cs, failoverNamespace)
	if err != nil {
		return rd, err
	}
	victims := map[types.UID]bool{}
	for _, p := range pods {
		if p.Spec.NodeName == failoverNodes[1] {
			victims[p.UID] = true
		}
	}
	rd.FailedPods, rd.MinReady = len(victims), r.cfg.Replicas
	// The kill falls at a random point of the agent's Lease renewal
	// cycle: right after spreading, the Lease was just renewed (a
	// restarted agent renews it at once), which would always time the
	// slowest case.
	select {
	case <-ctx.Done():
		return rd, ctx.Err()
	case <-time.After(rand.N(leaseRenewInterval)):
	}
	if l, err := r.cs.CoordinationV1().Leases(corev1.NamespaceNodeLease).Get(ctx, failoverNodes[1], metav1.GetOptions{}); err == nil && l.Spec.RenewTime != nil {
		rd.LeaseAgeS = round(time.Since(l.Spec.RenewTime.Time).Seconds(), 2)
	}
	r.log.Info("killing the agent (SIGKILL)", "node", failoverNodes[1], "pods", len(victims))
	agent := r.agents[1]
	if err := syscall.Kill(agent.cmd.Process.Pid, syscall.SIGKILL); err != nil {
		return rd, fmt.Errorf("bench: kill the agent: %w", err)
	}
	<-agent.exited
	notReady, evicted, replaced := false, false, false
	err = r.poll(ctx, "the failed node's replicas replaced", []int{0}, func(since time.Duration) (bool, error) {
		s := round(since.Seconds(), 2)
		if !notReady {
			if n, err := r.cs.CoreV1().Nodes().Get(ctx, failoverNodes[1], metav1.GetOptions{}); err == nil && unreachable(n) {
				notReady, rd.NotReadyS = true, s
			}
		}
		pods, err := listPods(ctx, r.cs, failoverNamespace)
		if err != nil {
			return false, err
		}
		ready, total := readyByNode(pods)
		rd.Samples = append(rd.Samples, ReadySample{S: s, Ready: total})
		rd.MinReady = min(rd.MinReady, total)
		if !evicted {
			left := 0
			for _, p := range pods {
				if victims[p.UID] && p.DeletionTimestamp == nil {
					left++
				}
			}
			if left == 0 {
				evicted, rd.EvictedS = true, s
			}
		}
		if !replaced && evicted && ready[failoverNodes[0]] == r.cfg.Replicas {
			replaced, rd.ReplacedS = true, s
		}
		if notReady && evicted && replaced {
			return true, nil
		}
		return false, fmt.Errorf("not ready %v, evicted %v, replaced %v: %d Ready (%v)", notReady, evicted, replaced, total, ready)
	})
	return rd, err
}

// unreachable tells whether the node is not Ready and has the
// node.kubernetes.io/unreachable NoExecute taint.
func unreachable(n *corev1.Node) bool {
	if c := nodeReadyCondition(n); c == nil || c.Status == corev1.ConditionTrue {
		return false
	}
	for _, t := range n.Spec.Taints {
		if t.Key == corev1.TaintNodeUnreachable && t.Effect == corev1.TaintEffectNoExecute {
			return true
		}
	}
	return false
}

// recover starts the killed agent again and returns how long until its
// node is up again, the evicted pods are gone (the agent finished their
// deletion) and so are their orphaned processes.
func (r *failoverRun) recover(ctx context.Context) (float64, error) {
	if pods, err := listPods(ctx, r.cs, failoverNamespace); err == nil {
		r.log.Info("starting the killed agent again", "node", failoverNodes[1], "pods", len(pods), "podProcesses", len(podProcesses(r.runID)))
	}
	t0 := time.Now()
	if err := r.startAgent(1); err != nil {
		return 0, err
	}
	err := r.poll(ctx, "the failed node back, its evicted pods and their processes gone", []int{0, 1}, func(time.Duration) (bool, error) {
		if ok, err := r.nodeUp(ctx, failoverNodes[1]); !ok {
			return false, err
		}
		pods, err := listPods(ctx, r.cs, failoverNamespace)
		if err != nil {
			return false, err
		}
		procs := len(podProcesses(r.runID))
		if len(pods) != r.cfg.Replicas || procs != r.cfg.Replicas {
			return false, fmt.Errorf("%d pods, %d processes, want %d", len(pods), procs, r.cfg.Replicas)
		}
		return true, nil
	})
	return round(time.Since(t0).Seconds(), 2), err
}

// cleanup deletes the Deployment and waits until its pods are gone (the
// killed agent is started again for that, if it is down), stops the agents,
// kills what is left of the pods' processes and removes the agents' data
// directories. It returns how many processes it killed.
func (r *failoverRun) cleanup() int {
	ctx, cancel := context.WithTimeout(context.Background(), failoverCleanupTimeout)
	defer cancel()
	if r.agents[0] != nil && !r.running(1) && r.dirs[1] != "" {
		if err := r.startAgent(1); err != nil {
			r.log.Warn("cleanup: cannot start the second agent again", "err", err)
		}
	}
	if r.agents[0] != nil {
		if err := r.deleteAll(ctx); err != nil {
			r.log.Warn("cleanup: the pods were not all deleted; their processes are killed", "err", err)
		}
	}
	for _, a := range r.agents {
		if a != nil {
			a.stop()
			if msg := a.stderr.String(); msg != "" {
				a.log.Warn("the agent logged warnings", "stderr", msg)
			}
		}
	}
	pids := podProcesses(r.runID)
	if len(pids) > 0 {
		r.log.Warn("processes of the benchmark's pods outlived the agents; killing them", "pids", pids)
		killProcesses(pids)
	}
	for _, d := range r.dirs {
		if d != "" {
			if err := os.RemoveAll(d); err != nil {
				r.log.Warn("removing an agent's data dir", "dir", d, "err", err)
			}
		}
	}
	r.removeHostNetwork()
	return len(pids)
}

// removeHostNetwork removes, as root, what the agents' pod networks leave
// on the host once their pods are gone (removePodNetwork of each).
func (r *failoverRun) removeHostNetwork() {
	if os.Geteuid() != 0 {
		return
	}
	for i, br := range r.cfg.Bridges {
		removePodNetwork(r.log, br, failoverNodes[i])
	}
}

// removePodNetwork removes what an agent's pod network leaves on the host
// once its pods are gone: the bridge, its masquerade chain and the node's
// network namespace directory. Failures are logged.
func removePodNetwork(log *slog.Logger, bridge, node string) {
	if out, err := exec.Command("ip", "link", "del", bridge).CombinedOutput(); err != nil && !bytes.Contains(out, []byte("Cannot find device")) {
		log.Warn("cleanup: delete the bridge", "bridge", bridge, "err", err, "output", string(out))
	}
	if err := removeMasqChain("BERTH-MASQ-" + bridge); err != nil {
		log.Warn("cleanup: remove the masquerade chain", "bridge", bridge, "err", err)
	}
	dir := filepath.Join("/run/berth/netns", node)
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		_ = syscall.Unmount(filepath.Join(dir, e.Name()), syscall.MNT_DETACH)
	}
	_ = syscall.Unmount(dir, syscall.MNT_DETACH) // the agent bind-mounts it onto itself
	if err := os.RemoveAll(dir); err != nil {
		log.Warn("cleanup: remove the network namespace directory", "dir", dir, "err", err)
	}
}

// removeMasqChain deletes the nat POSTROUTING rules that jump to chain and
// the chain itself, if it exists.
func removeMasqChain(chain string) error {
	if exec.Command("iptables", "-t", "nat", "-S", chain).Run() != nil {
		return nil // no such chain (or no iptables)
	}
	rules, err := exec.Command("iptables", "-t", "nat", "-S", "POSTROUTING").Output()
	if err != nil {
		return fmt.Errorf("iptables -t nat -S POSTROUTING: %w", err)
	}
	var plan strings.Builder
	plan.WriteString("*nat\n")
	for _, line := range strings.Split(string(rules), "\n") {
		if strings.HasPrefix(line, "-A POSTROUTING ") && strings.HasSuffix(strings.TrimSpace(line), "-j "+chain) {
			plan.WriteString("-D" + strings.TrimPrefix(line, "-A") + "\n")
		}
	}
	fmt.Fprintf(&plan, "-F %s\n-X %s\nCOMMIT\n", chain, chain)
	cmd := exec.Command("iptables-restore", "--noflush")
	cmd.Stdin = strings.NewReader(plan.String())
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("iptables-restore: %w: %s", err, out)
	}
	return nil
}

// deleteAll deletes the Deployment and its pods (grace period 1 s, through
// the agents) and waits until a LIST finds no pod.
func (r *failoverRun) deleteAll(ctx context.Context) error {
	return deleteAppPods(ctx, r.log, r.cs, failoverNamespace, failoverApp, nil, 200*time.Millisecond)
}

// deleteAppPods deletes the Deployment app in ns and its pods (labelled
// app=app) and waits until a LIST finds no pod, polling every poll; it
// gives up when ctx ends or gone is closed (the agent exited).
func deleteAppPods(ctx context.Context, log *slog.Logger, cs kubernetes.Interface, ns, app string, gone <-chan struct{}, poll time.Duration) error {
	bg := metav1.DeletePropagationBackground
	if err := cs.AppsV1().Deployments(ns).Delete(ctx, app, metav1.DeleteOptions{PropagationPolicy: &bg}); err != nil && !apierrors.IsNotFound(err) {
		log.Debug("cleanup: delete the Deployment", "err", err)
	}
	for {
		// The ReplicaSet may recreate pods until the garbage collector
		// removed it: deleted again until none is left.
		err := cs.CoreV1().Pods(ns).DeleteCollection(ctx, metav1.DeleteOptions{}, metav1.ListOptions{LabelSelector: "app=" + app})
		pods, lerr := listPods(ctx, cs, ns)
		if err == nil && lerr == nil && len(pods) == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return errors.Join(ctx.Err(), err, lerr)
		case <-gone:
			return errors.New("the agent exited")
		case <-time.After(poll):
		}
	}
}
