package e2e

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
)

// The failover tests run two agents on this machine: the local agent of
// `berth up` and a second `berth agent` process. Each test has a cluster
// CIDR and two bridges of its own, apart from the 10.42.0.0/16 and berth0
// defaults other tests (and `berth up` runs on this machine) use, and node
// names of its own (an agent keeps its network namespace files in
// /run/berth/netns/<node>).

// netnsRoot holds the agents' network namespace files, a directory per node.
const netnsRoot = "/run/berth/netns"

// twoNodes is the isolated setup of one two-agent test.
type twoNodes struct {
	cidr    string    // --cluster-cidr
	nodes   [2]string // node names: the local agent's, the second agent's
	bridges [2]string // their --cni-bridge
}

// cleanup removes what the agents may leave on the host when they did not
// tear their pods down (a killed agent, a failed test): the network
// namespace files of both nodes, the bridges and their masquerade rules.
// The processes are killed by the caller before (a namespace file outlives
// them, a namespace with processes outlives its file).
func (tn twoNodes) cleanup(t *testing.T) {
	t.Helper()
	for _, n := range tn.nodes {
		dir := filepath.Join(netnsRoot, n)
		entries, _ := os.ReadDir(dir)
		for _, e := range entries {
			p := filepath.Join(dir, e.Name())
			if err := syscall.Unmount(p, syscall.MNT_DETACH); err != nil && !errors.Is(err, syscall.EINVAL) && !errors.Is(err, syscall.ENOENT) {
				t.Logf("cleanup: unmount %s: %v", p, err)
			}
			if err := os.Remove(p); err != nil && !errors.Is(err, os.ErrNotExist) {
				t.Logf("cleanup: %v", err)
			}
		}
		// The agent bind-mounts the directory onto itself (shared
		// propagation) before it creates namespaces there.
		if err := syscall.Unmount(dir, syscall.MNT_DETACH); err != nil && !errors.Is(err, syscall.EINVAL) && !errors.Is(err, syscall.ENOENT) {
			t.Logf("cleanup: unmount %s: %v", dir, err)
		}
		if err := os.Remove(dir); err != nil && !errors.Is(err, os.ErrNotExist) {
			t.Logf("cleanup: %v", err)
		}
	}
	for _, br := range tn.bridges {
		if out, err := exec.Command("ip", "link", "del", br).CombinedOutput(); err != nil && !strings.Contains(string(out), "Cannot find device") {
			t.Logf("cleanup: ip link del %s: %v: %s", br, err, out)
		}
		removeMasqChain(t, "BERTH-MASQ-"+br)
	}
}

// removeMasqChain deletes the nat POSTROUTING rules that jump to chain and
// the chain itself, if there are any.
func removeMasqChain(t *testing.T, chain string) {
	t.Helper()
	if err := exec.Command("iptables", "-t", "nat", "-S", chain).Run(); err != nil {
		return // no such chain (or no iptables)
	}
	rules, err := exec.Command("iptables", "-t", "nat", "-S", "POSTROUTING").Output()
	if err != nil {
		t.Logf("cleanup: iptables -t nat -S POSTROUTING: %v", err)
		return
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
		t.Logf("cleanup: remove iptables chain %s: %v: %s", chain, err, out)
	}
}

// agentProc is a `berth agent` process joining a test's cluster.
type agentProc struct {
	t    *testing.T
	args []string
	cmd  *exec.Cmd
	logs *lockedBuffer
	done chan struct{} // closed once the process has exited
}

// startAgent starts `berth agent` as node name on bridge, with a data
// directory and an endpoint port of its own, joining c; extra flags are
// appended. The test's cleanup stops it (SIGTERM, then SIGKILL).
func (c *cluster) startAgent(t *testing.T, name, bridge string, extra ...string) *agentProc {
	t.Helper()
	p := &agentProc{t: t, args: append([]string{"agent", "--server", c.url, "--token-file", filepath.Join(c.dataDir, "node-token"),
		"--node-name", name, "--agent-data-dir", t.TempDir(), "--cni-bridge", bridge,
		"--agent-port", fmt.Sprint(freePort(t)), "--log-level", "warn",
		// The first agent on this machine serves the Services.
		"--service-proxy=false", "--driver=process"}, extra...)}
	t.Cleanup(func() {
		p.stop()
		if t.Failed() {
			t.Logf("agent %s logs:\n%s", name, p.logs.String())
		}
	})
	p.start()
	return p
}

// start runs the agent (again, with the same arguments).
func (p *agentProc) start() {
	p.t.Helper()
	p.logs, p.done = &lockedBuffer{}, make(chan struct{})
	p.cmd = exec.Command(berthBin, p.args...)
	p.cmd.Stdout, p.cmd.Stderr = p.logs, p.logs
	// Killed with the test binary should it die without cleaning up.
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := p.cmd.Start(); err != nil {
		p.t.Fatal(err)
	}
	done := p.done
	go func() { _ = p.cmd.Wait(); close(done) }()
}

// running reports whether the agent process has not exited.
func (p *agentProc) running() bool {
	select {
	case <-p.done:
		return false
	default:
		return true
	}
}

// wait waits up to timeout for the process to exit and returns its exit
// code (-1 when killed by a signal); it fails the test on timeout.
func (p *agentProc) wait(timeout time.Duration) int {
	p.t.Helper()
	select {
	case <-p.done:
		return p.cmd.ProcessState.ExitCode()
	case <-time.After(timeout):
		p.t.Fatalf("the agent did not exit within %v; logs:\n%s", timeout, p.logs.String())
		return 0
	}
}

// kill ends the agent with SIGKILL (a node failure: its pods' processes
// keep running) and waits for it.
func (p *agentProc) kill() {
	p.t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		p.t.Fatal(err)
	}
	<-p.done
}

// stop sends SIGTERM, and SIGKILL after 60 s, and waits for the agent.
func (p *agentProc) stop() {
	if p.cmd == nil || !p.running() {
		return
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(60 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.done
	}
}

// clientset is a client of c for polling.
func (c *cluster) clientset(t *testing.T) *kubernetes.Clientset {
	t.Helper()
	rc, err := clientcmd.BuildConfigFromFlags("", c.kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	rc.QPS, rc.Burst = 100, 200
	cs, err := kubernetes.NewForConfig(rc)
	if err != nil {
		t.Fatal(err)
	}
	return cs
}

// requireRoot skips a test that needs pod networks and cgroups.
func requireRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("two agents on one machine need root: pod networks (CNI) on bridges of their own and cgroups; CI runs this tier as root")
	}
	if testing.Short() {
		t.Skip("end-to-end: runs the berth binary")
	}
}

// startTwoNodes starts `berth up` with its local agent as tn.nodes[0] on
// tn.bridges[0] (serverArgs added) and a second agent as tn.nodes[1] on
// tn.bridges[1] (agentArgs added), registers the host cleanup, and waits
// until both nodes are Ready with distinct podCIDRs from tn.cidr.
func startTwoNodes(t *testing.T, tn twoNodes, bin string, serverArgs, agentArgs []string) (*cluster, *agentProc, *kubernetes.Clientset) {
	t.Helper()
	requireRoot(t)
	// Cleanups run last-registered first: this one runs after both agents
	// and `berth up` have stopped.
	t.Cleanup(func() {
		for _, pid := range pidsOf(bin) {
			t.Logf("cleanup: killing a left-over webapp process %d", pid)
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
		tn.cleanup(t)
	})
	tn.cleanup(t) // leftovers of an earlier, interrupted run
	args := append([]string{"--cluster-cidr", tn.cidr, "--node-name", tn.nodes[0], "--cni-bridge", tn.bridges[0]}, serverArgs...)
	c := startClusterArgs(t, true, args...)
	b := c.startAgent(t, tn.nodes[1], tn.bridges[1], agentArgs...)
	cs := c.clientset(t)
	prefix := strings.TrimSuffix(tn.cidr, "0.0/16")
	waitFor(t, 90*time.Second, "both nodes Ready with distinct podCIDRs from "+tn.cidr, func() bool {
		cidrs := map[string]bool{}
		for _, n := range tn.nodes {
			node, err := cs.CoreV1().Nodes().Get(context.Background(), n, metav1.GetOptions{})
			if err != nil || nodeReady(node) != corev1.ConditionTrue || !strings.HasPrefix(node.Spec.PodCIDR, prefix) {
				return false
			}
			cidrs[node.Spec.PodCIDR] = true
		}
		return len(cidrs) == 2
	})
	return c, b, cs
}

// nodeReady is the status of the node's Ready condition.
func nodeReady(n *corev1.Node) corev1.ConditionStatus {
	for _, c := range n.Status.Conditions {
		if c.Type == corev1.NodeReady {
			return c.Status
		}
	}
	return ""
}

// podReady tells whether the pod is Running with condition Ready=True.
func podReady(p *corev1.Pod) bool {
	if p.Status.Phase != corev1.PodRunning {
		return false
	}
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// deployWeb deploys the example web app with replicas (cpu 100m and
// memory 64Mi each, so that all fit on one node) and registers its removal
// through the agents (which must then run) in the test's cleanup.
func deployWeb(t *testing.T, c *cluster, cs kubernetes.Interface, bin string, replicas int, beforeDelete func()) {
	t.Helper()
	manifest := c.writeManifest(t, "web.yaml", fmt.Sprintf(`apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: %d
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      terminationGracePeriodSeconds: 5
      containers:
      - name: web
        image: my-web-app
        command: [%q]
        env:
        - {name: POD_NAME, valueFrom: {fieldRef: {fieldPath: metadata.name}}}
        - {name: PORT, value: "3000"}
        ports: [{containerPort: 3000}]
        readinessProbe: {httpGet: {path: /healthz, port: 3000}, periodSeconds: 1}
        resources: {limits: {cpu: 100m, memory: 64Mi}}
`, replicas, bin))
	c.mustKubectl("apply", "-f", manifest)
	t.Cleanup(func() {
		// Delete the pods through the agents, so that their network
		// namespaces and cgroups go before the agents stop.
		if beforeDelete != nil {
			beforeDelete()
		}
		_, _ = c.kubectl("delete", "deployment", "web", "--wait=false")
		waitFor(t, 90*time.Second, "web pods gone", func() bool {
			pods, err := cs.CoreV1().Pods("default").List(context.Background(), metav1.ListOptions{LabelSelector: "app=web"})
			return err == nil && len(pods.Items) == 0
		})
	})
}

// webPods lists the web pods that are not being deleted, by node.
func webPods(cs kubernetes.Interface) (map[string][]corev1.Pod, error) {
	pods, err := cs.CoreV1().Pods("default").List(context.Background(), metav1.ListOptions{LabelSelector: "app=web"})
	if err != nil {
		return nil, err
	}
	out := map[string][]corev1.Pod{}
	for _, p := range pods.Items {
		if p.DeletionTimestamp == nil {
			out[p.Spec.NodeName] = append(out[p.Spec.NodeName], p)
		}
	}
	return out, nil
}

// allReadyOn tells whether exactly n web pods are not being deleted, all
// Running and Ready, on the nodes named (in any mix), each with a pod IP
// from prefix.
func allReadyOn(byNode map[string][]corev1.Pod, n int, prefix string, nodes ...string) bool {
	count := 0
	for node, pods := range byNode {
		if !contains(nodes, node) {
			return false
		}
		for i := range pods {
			if !podReady(&pods[i]) || !strings.HasPrefix(pods[i].Status.PodIP, prefix) {
				return false
			}
			count++
		}
	}
	return count == n
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// checkAnswers checks that each pod answers "hello from <name>" on its
// pod IP, port 3000.
func checkAnswers(t *testing.T, pods []corev1.Pod) {
	t.Helper()
	client := &http.Client{Timeout: 5 * time.Second}
	for _, p := range pods {
		var body string
		var lastErr error
		url := "http://" + p.Status.PodIP + ":3000/"
		deadline := time.Now().Add(30 * time.Second)
		for {
			resp, err := client.Get(url)
			if err == nil {
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				body, lastErr = strings.TrimSpace(string(b)), nil
				if resp.StatusCode == http.StatusOK {
					break
				}
				lastErr = fmt.Errorf("status %d", resp.StatusCode)
			} else {
				lastErr = err
			}
			if time.Now().After(deadline) {
				t.Fatalf("pod %s on %s does not answer on %s: %v", p.Name, p.Spec.NodeName, url, lastErr)
			}
			time.Sleep(200 * time.Millisecond)
		}
		if want := "hello from " + p.Name; body != want {
			t.Errorf("pod %s answered %q, want %q", p.Name, body, want)
		}
	}
}

// names lists the pods' names, sorted.
func names(pods []corev1.Pod) []string {
	out := make([]string, len(pods))
	for i, p := range pods {
		out[i] = p.Name
	}
	sort.Strings(out)
	return out
}

// Timeouts of TestFailover's server, and the margin its waits add to them
// (a loaded 2-core machine runs other tests meanwhile). The grace period
// must clearly exceed the agents' 10 s Lease renewal interval, or the
// healthy node would turn NotReady between two renewals (and, with a short
// toleration, lose its pods).
const (
	failoverGrace      = 20 * time.Second // --node-monitor-grace-period
	failoverMonitor    = 5 * time.Second  // the node lifecycle controller's monitor period
	failoverToleration = 5 * time.Second  // --default-{not-ready,unreachable}-toleration-seconds
	failoverMargin     = 30 * time.Second
)

// TestFailover: two agents on one machine; the second one is killed (a
// node failure). Its node turns Ready=Unknown with the unreachable taint
// within the grace period, its pods are evicted once their (configured)
// toleration runs out, and their replacements run on the remaining node,
// answering on their pod IPs. The failed agent's orphaned processes keep
// running until it comes back: then it removes them and its node is Ready
// and untainted again.
func TestFailover(t *testing.T) {
	requireRoot(t)
	const replicas = 4
	tn := twoNodes{cidr: "10.44.0.0/16", nodes: [2]string{"failover-a", "failover-b"}, bridges: [2]string{"berthf0", "berthf1"}}
	prefix := "10.44."
	bin := webappBinary(t)
	c, b, cs := startTwoNodes(t, tn, bin, []string{"--node-monitor-grace-period", failoverGrace.String(),
		"--default-not-ready-toleration-seconds", fmt.Sprint(int(failoverToleration.Seconds())),
		"--default-unreachable-toleration-seconds", fmt.Sprint(int(failoverToleration.Seconds()))}, nil)
	// The cleanup needs the second agent to remove its pods: it is
	// started again if it is down.
	deployWeb(t, c, cs, bin, replicas, func() {
		if !b.running() {
			b.start()
		}
	})
	var before map[string][]corev1.Pod
	waitFor(t, 90*time.Second, fmt.Sprintf("%d web pods Running and Ready on both nodes", replicas), func() bool {
		var err error
		before, err = webPods(cs)
		return err == nil && allReadyOn(before, replicas, prefix, tn.nodes[:]...) && len(before[tn.nodes[0]]) > 0 && len(before[tn.nodes[1]]) > 0
	})
	checkAnswers(t, append(append([]corev1.Pod{}, before[tn.nodes[0]]...), before[tn.nodes[1]]...))
	failed := before[tn.nodes[1]]
	t.Logf("pods on %s: %v; on %s: %v", tn.nodes[0], names(before[tn.nodes[0]]), tn.nodes[1], names(failed))
	if n := len(pidsOf(bin)); n != replicas {
		t.Fatalf("%d webapp processes, want %d", n, replicas)
	}

	// The node fails.
	b.kill()
	killed := time.Now()
	ctx := context.Background()
	waitFor(t, failoverGrace+failoverMonitor+failoverMargin, tn.nodes[1]+" Ready=Unknown with the unreachable NoExecute taint", func() bool {
		n, err := cs.CoreV1().Nodes().Get(ctx, tn.nodes[1], metav1.GetOptions{})
		if err != nil || nodeReady(n) != corev1.ConditionUnknown {
			return false
		}
		for _, taint := range n.Spec.Taints {
			if taint.Key == corev1.TaintNodeUnreachable && taint.Effect == corev1.TaintEffectNoExecute {
				return true
			}
		}
		return false
	})
	notReady := time.Since(killed)
	waitFor(t, failoverToleration+failoverMargin, "the pods of "+tn.nodes[1]+" evicted", func() bool {
		for _, p := range failed {
			cur, err := cs.CoreV1().Pods("default").Get(ctx, p.Name, metav1.GetOptions{})
			if apierrors.IsNotFound(err) {
				continue
			}
			if err != nil || cur.UID != p.UID || cur.DeletionTimestamp == nil {
				return false
			}
		}
		return true
	})
	evicted := time.Since(killed)
	var after map[string][]corev1.Pod
	waitFor(t, 60*time.Second, fmt.Sprintf("%d web pods Running and Ready on %s", replicas, tn.nodes[0]), func() bool {
		var err error
		after, err = webPods(cs)
		return err == nil && allReadyOn(after, replicas, prefix, tn.nodes[0])
	})
	replaced := time.Since(killed)
	t.Logf("node failure → NotReady %v, → pods evicted %v, → %d replacements Ready %v (grace period %v, toleration %v)",
		notReady.Round(100*time.Millisecond), evicted.Round(100*time.Millisecond), len(failed), replaced.Round(100*time.Millisecond),
		failoverGrace, failoverToleration)
	checkAnswers(t, after[tn.nodes[0]])
	// The dead agent cannot stop its containers: they keep running.
	if n := len(pidsOf(bin)); n != replicas+len(failed) {
		t.Errorf("%d webapp processes while %s is down, want %d (%d replicas and the %d orphans of the failed node)",
			n, tn.nodes[1], replicas+len(failed), replicas, len(failed))
	}

	// The node comes back: its agent finishes the evicted pods' deletion,
	// which ends the orphans; the node is Ready and untainted again.
	b.start()
	waitFor(t, 60*time.Second, tn.nodes[1]+" Ready again without taints, its evicted pods gone", func() bool {
		n, err := cs.CoreV1().Nodes().Get(ctx, tn.nodes[1], metav1.GetOptions{})
		if err != nil || nodeReady(n) != corev1.ConditionTrue || len(n.Spec.Taints) != 0 {
			return false
		}
		for _, p := range failed {
			if _, err := cs.CoreV1().Pods("default").Get(ctx, p.Name, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
				return false
			}
		}
		return true
	})
	waitFor(t, 30*time.Second, "the orphaned webapp processes ended", func() bool { return len(pidsOf(bin)) == replicas })
	if after, err := webPods(cs); err != nil || !allReadyOn(after, replicas, prefix, tn.nodes[0]) {
		t.Errorf("the replicas moved after the node came back: %v (%v)", after, err)
	}
}

// TestDrainOnExit: a second agent started with --drain-on-exit gets
// SIGTERM: it cordons its node (marking the cordon as its own), its pods
// are deleted and replaced on the other node, their processes end, and it
// exits 0. Started again, it uncordons its node.
func TestDrainOnExit(t *testing.T) {
	requireRoot(t)
	const replicas = 4
	tn := twoNodes{cidr: "10.47.0.0/16", nodes: [2]string{"drain-a", "drain-b"}, bridges: [2]string{"berthd0", "berthd1"}}
	prefix := "10.47."
	bin := webappBinary(t)
	c, b, cs := startTwoNodes(t, tn, bin, nil, []string{"--drain-on-exit"})
	deployWeb(t, c, cs, bin, replicas, nil)
	var before map[string][]corev1.Pod
	waitFor(t, 90*time.Second, fmt.Sprintf("%d web pods Running and Ready on both nodes", replicas), func() bool {
		var err error
		before, err = webPods(cs)
		return err == nil && allReadyOn(before, replicas, prefix, tn.nodes[:]...) && len(before[tn.nodes[0]]) > 0 && len(before[tn.nodes[1]]) > 0
	})
	drained := before[tn.nodes[1]]
	t.Logf("pods on %s: %v; on %s: %v", tn.nodes[0], names(before[tn.nodes[0]]), tn.nodes[1], names(drained))

	if err := b.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	sent := time.Now()
	// Bounded by the pods' 5 s grace period and the agent's 30 s margin.
	if code := b.wait(5*time.Second + 30*time.Second + failoverMargin); code != 0 {
		t.Fatalf("the draining agent exited with %d; logs:\n%s", code, b.logs.String())
	}
	t.Logf("SIGTERM → agent exited after draining %d pods: %v", len(drained), time.Since(sent).Round(100*time.Millisecond))
	ctx := context.Background()
	n, err := cs.CoreV1().Nodes().Get(ctx, tn.nodes[1], metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !n.Spec.Unschedulable || n.Annotations["berth.io/cordoned-by-agent"] != "true" {
		t.Errorf("%s after the drain: unschedulable %v, annotations %v; want cordoned by the agent", tn.nodes[1], n.Spec.Unschedulable, n.Annotations)
	}
	for _, p := range drained {
		if _, err := cs.CoreV1().Pods("default").Get(ctx, p.Name, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
			t.Errorf("pod %s of the drained node still exists (%v)", p.Name, err)
		}
	}
	if entries, _ := os.ReadDir(filepath.Join(netnsRoot, tn.nodes[1])); len(entries) != 0 {
		t.Errorf("network namespaces left by the drained agent: %d", len(entries))
	}
	var after map[string][]corev1.Pod
	waitFor(t, 60*time.Second, fmt.Sprintf("%d web pods Running and Ready on %s", replicas, tn.nodes[0]), func() bool {
		after, err = webPods(cs)
		return err == nil && allReadyOn(after, replicas, prefix, tn.nodes[0])
	})
	t.Logf("SIGTERM → %d replacements Ready on %s: %v", len(drained), tn.nodes[0], time.Since(sent).Round(100*time.Millisecond))
	checkAnswers(t, after[tn.nodes[0]])
	if n := len(pidsOf(bin)); n != replicas {
		t.Errorf("%d webapp processes after the drain, want %d: the drained pods' processes must end", n, replicas)
	}

	// Started again (without --drain-on-exit), the agent uncordons its node.
	b.args = slicesWithout(b.args, "--drain-on-exit")
	b.start()
	waitFor(t, 60*time.Second, tn.nodes[1]+" uncordoned by its agent", func() bool {
		n, err := cs.CoreV1().Nodes().Get(ctx, tn.nodes[1], metav1.GetOptions{})
		if err != nil {
			return false
		}
		_, annotated := n.Annotations["berth.io/cordoned-by-agent"]
		return !n.Spec.Unschedulable && !annotated && nodeReady(n) == corev1.ConditionTrue
	})
}

// slicesWithout returns list without the elements equal to s.
func slicesWithout(list []string, s string) []string {
	var out []string
	for _, v := range list {
		if v != s {
			out = append(out, v)
		}
	}
	return out
}
