package e2e

import (
	"bufio"
	"context"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestKubectlLogsExecTop: the real kubectl reads logs (plain, -f, --tail,
// --previous), runs commands with exec and shows `kubectl top` figures of
// pods run by the local agent, all through the API server.
func TestKubectlLogsExecTop(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("the agent's pod networks (CNI) and cgroups need root; CI runs this tier as root")
	}
	c := startClusterWith(t, true)
	manifest := c.writeManifest(t, "pods.yaml", `apiVersion: v1
kind: Pod
metadata: {name: ticker, labels: {app: ticker}}
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: ticker
    image: busybox
    command: ["/bin/sh", "-c", "i=0; while true; i=$((i+1)); do echo tick $i; sleep 0.2; done"]
    resources: {limits: {cpu: 200m, memory: 64Mi}}
---
apiVersion: v1
kind: Pod
metadata: {name: quitter}
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: quitter
    image: busybox
    command: ["/bin/sh", "-c", "echo bye from attempt; exit 1"]
`)
	c.mustKubectl("apply", "-f", manifest)
	t.Cleanup(func() { _, _ = c.kubectl("delete", "-f", manifest, "--wait=true", "--timeout=30s") })
	waitFor(t, 60*time.Second, "ticker Running", func() bool {
		out, err := c.kubectl("get", "pod", "ticker", "-o", "jsonpath={.status.phase}")
		return err == nil && out == "Running"
	})

	waitFor(t, 10*time.Second, "ticker's log has lines", func() bool {
		out, err := c.kubectl("logs", "ticker")
		return err == nil && strings.HasPrefix(out, "tick 1\n")
	})
	if out := c.mustKubectl("logs", "ticker", "--tail=1"); strings.Count(out, "\n") != 1 || !strings.HasPrefix(out, "tick ") {
		t.Errorf("logs --tail=1: %q", out)
	}
	if out := c.mustKubectl("logs", "ticker", "--tail=1", "--timestamps"); !regexp.MustCompile(`^\d{4}-\d\d-\d\dT[\d:.]+Z tick \d+\n$`).MatchString(out) {
		t.Errorf("logs --timestamps: %q", out)
	}

	// -f streams lines written after it started.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	follow := exec.CommandContext(ctx, berthBin, "kubectl", "--kubeconfig", c.kubeconfig, "--cache-dir", c.cacheDir, "logs", "-f", "--tail=1", "ticker")
	stdout, err := follow.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := follow.Start(); err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(stdout)
	first, last, lines := -1, -1, 0
	for sc.Scan() && lines < 15 {
		n, err := strconv.Atoi(strings.TrimPrefix(sc.Text(), "tick "))
		if err != nil {
			t.Fatalf("logs -f: unexpected line %q", sc.Text())
		}
		if first < 0 {
			first = n
		}
		last, lines = n, lines+1
	}
	cancel()
	_ = follow.Wait()
	if lines < 15 || last-first < 14 {
		t.Fatalf("logs -f: %d lines, ticks %d..%d; want 15 consecutive new lines", lines, first, last)
	}

	// exec: output, exit code, stdin.
	out, err := c.kubectl("exec", "ticker", "--", "/bin/sh", "-c", "echo in the pod; exit 4")
	if err == nil || !strings.Contains(out, "in the pod") || !strings.Contains(out, "exit code 4") {
		t.Errorf("exec exit 4: %v\n%s", err, out)
	}
	cmd := exec.Command(berthBin, "kubectl", "--kubeconfig", c.kubeconfig, "--cache-dir", c.cacheDir, "exec", "-i", "ticker", "--", "cat")
	cmd.Stdin = strings.NewReader("through stdin\n")
	if b, err := cmd.CombinedOutput(); err != nil || string(b) != "through stdin\n" {
		t.Errorf("exec -i cat: %v %q", err, b)
	}
	// The command runs in the pod's network namespace: it sees eth0.
	if out, err := c.kubectl("exec", "ticker", "--", "cat", "/proc/net/dev"); err != nil || !strings.Contains(out, "eth0") {
		t.Errorf("exec in the pod's network: %v\n%s", err, out)
	}

	// --previous shows the instance before a restart.
	waitFor(t, 60*time.Second, "quitter restarted", func() bool {
		out, err := c.kubectl("get", "pod", "quitter", "-o", "jsonpath={.status.containerStatuses[0].restartCount}")
		n, _ := strconv.Atoi(out)
		return err == nil && n >= 1
	})
	if out := c.mustKubectl("logs", "quitter", "--previous"); out != "bye from attempt\n" {
		t.Errorf("logs --previous: %q", out)
	}

	// top: the agents' cgroup figures through metrics.k8s.io.
	cpuMem := regexp.MustCompile(`(?m)^ticker\s+\d+m\s+\d+Mi\s*$`)
	waitFor(t, 90*time.Second, "kubectl top pods shows ticker", func() bool {
		out, err := c.kubectl("top", "pods")
		return err == nil && cpuMem.MatchString(out)
	})
	out = c.mustKubectl("top", "nodes")
	if !regexp.MustCompile(`(?m)^\S+\s+\d+m\s+\d+%\s+\d+Mi\s+\d+%\s*$`).MatchString(out) {
		t.Errorf("kubectl top nodes:\n%s", out)
	}
	// The ticker's CPU stays under its 200m limit.
	out = c.mustKubectl("top", "pod", "ticker", "--no-headers")
	if f := strings.Fields(out); len(f) < 2 {
		t.Errorf("top pod ticker: %q", out)
	} else if m, _ := strconv.Atoi(strings.TrimSuffix(f[1], "m")); m > 250 {
		t.Errorf("ticker uses %dm CPU, above its 200m limit", m)
	}
}
