package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/berth-dev/berth/internal/testutil/fakekubelet"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
)

// withFakeKubelet starts a fake kubelet (two Ready nodes that run what is
// bound to them) against the cluster for the rest of the test and returns a
// clientset. The server's scheduler binds the pods.
func (c *cluster) withFakeKubelet(t *testing.T) *kubernetes.Clientset {
	t.Helper()
	rc, err := clientcmd.BuildConfigFromFlags("", c.kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	rc.QPS, rc.Burst = 200, 400
	cs, err := kubernetes.NewForConfig(rc)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := fakekubelet.Run(ctx, fakekubelet.Config{Client: cs, Nodes: []string{"e2e-node-0", "e2e-node-1"},
			StartDelay: 300 * time.Millisecond, RunFor: 300 * time.Millisecond}); err != nil && ctx.Err() == nil {
			t.Errorf("fake kubelet: %v", err)
		}
	}()
	t.Cleanup(func() { cancel(); <-done })
	return cs
}

func (c *cluster) writeManifest(t *testing.T, name, body string) string {
	t.Helper()
	f := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(f, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return f
}

const webDeployment = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  annotations: {kubernetes.io/change-cause: "first"}
spec:
  replicas: 3
  selector: {matchLabels: {app: web}}
  strategy: {rollingUpdate: {maxSurge: 1, maxUnavailable: 0}}
  template:
    metadata: {labels: {app: web}}
    spec: {containers: [{name: c, image: "web:v1"}]}
`

// podCounts samples the deployment's pods: ready and non-terminating.
func podCounts(ctx context.Context, cs *kubernetes.Clientset, selector string) (ready, active int, err error) {
	l, err := cs.CoreV1().Pods("default").List(ctx, metav1.ListOptions{LabelSelector: selector})
	if err != nil {
		return 0, 0, err
	}
	for _, p := range l.Items {
		if p.DeletionTimestamp != nil || p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed {
			continue
		}
		active++
		for _, cond := range p.Status.Conditions {
			if cond.Type == corev1.PodReady && cond.Status == corev1.ConditionTrue {
				ready++
			}
		}
	}
	return ready, active, nil
}

// TestRolloutWithKubectl drives a Deployment through kubectl rollout's
// commands and samples the pods during the rolling update.
func TestRolloutWithKubectl(t *testing.T) {
	c := startCluster(t)
	cs := c.withFakeKubelet(t)
	c.mustKubectl("apply", "-f", c.writeManifest(t, "web.yaml", webDeployment))
	expectMatch(t, "rollout status", c.mustKubectl("rollout", "status", "deployment/web", "--timeout=60s"),
		`deployment "web" successfully rolled out`)

	// Sample while rolling to v2: ready never below 3, active never above 4.
	ctx, cancel := context.WithCancel(context.Background())
	var mu sync.Mutex
	minReady, maxActive, samples := 1<<30, 0, 0
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for ctx.Err() == nil {
			ready, active, err := podCounts(ctx, cs, "app=web")
			if err == nil {
				mu.Lock()
				minReady, maxActive, samples = min(minReady, ready), max(maxActive, active), samples+1
				mu.Unlock()
			}
			time.Sleep(20 * time.Millisecond)
		}
	}()
	c.mustKubectl("set", "image", "deployment/web", "c=web:v2")
	c.mustKubectl("annotate", "deployment/web", "kubernetes.io/change-cause=second", "--overwrite")
	expectMatch(t, "rollout status v2", c.mustKubectl("rollout", "status", "deployment/web", "--timeout=60s"), `successfully rolled out`)
	cancel()
	wg.Wait()
	if minReady < 3 || maxActive > 4 || samples < 10 {
		t.Errorf("during rollout: min ready %d (want ≥3), max active %d (want ≤4), %d samples", minReady, maxActive, samples)
	}

	expectMatch(t, "history", c.mustKubectl("rollout", "history", "deployment/web"),
		`REVISION\s+CHANGE-CAUSE`, `1\s+first`, `2\s+second`)
	expectMatch(t, "undo", c.mustKubectl("rollout", "undo", "deployment/web"), `deployment.apps/web rolled back`)
	c.mustKubectl("rollout", "status", "deployment/web", "--timeout=60s")
	out := c.mustKubectl("get", "deployment/web", "-o", "jsonpath={.spec.template.spec.containers[0].image} {.metadata.annotations.deployment\\.kubernetes\\.io/revision}")
	if strings.TrimSpace(out) != "web:v1 3" {
		t.Errorf("after undo: image and revision %q, want \"web:v1 3\"", out)
	}
	expectMatch(t, "history after undo", c.mustKubectl("rollout", "history", "deployment/web"), `2\s+second`, `3\s+first`)

	expectMatch(t, "pause", c.mustKubectl("rollout", "pause", "deployment/web"), `paused`)
	expectMatch(t, "resume", c.mustKubectl("rollout", "resume", "deployment/web"), `resumed`)
	expectMatch(t, "restart", c.mustKubectl("rollout", "restart", "deployment/web"), `restarted`)
	c.mustKubectl("rollout", "status", "deployment/web", "--timeout=60s")

	// A deleted pod is replaced; scaling 3→10→1 converges.
	pods := strings.Fields(c.mustKubectl("get", "pods", "-l", "app=web", "-o", "jsonpath={.items[*].metadata.name}"))
	c.mustKubectl("delete", "pod", pods[0])
	waitFor(t, 30*time.Second, "replacement pod", func() bool {
		ready, active, _ := podCounts(context.Background(), cs, "app=web")
		return ready == 3 && active == 3
	})
	for _, n := range []int{10, 1} {
		c.mustKubectl("scale", "deployment/web", fmt.Sprintf("--replicas=%d", n))
		c.mustKubectl("rollout", "status", "deployment/web", "--timeout=60s")
		waitFor(t, 30*time.Second, fmt.Sprintf("%d pods", n), func() bool {
			_, active, _ := podCounts(context.Background(), cs, "app=web")
			return active == n
		})
	}
}

// TestRolloutDeadline checks that rollout status fails on
// ProgressDeadlineExceeded.
func TestRolloutDeadline(t *testing.T) {
	c := startCluster(t)
	c.withFakeKubelet(t)
	manifest := `apiVersion: apps/v1
kind: Deployment
metadata: {name: stuck}
spec:
  replicas: 1
  progressDeadlineSeconds: 3
  selector: {matchLabels: {app: stuck}}
  template:
    metadata: {labels: {app: stuck}, annotations: {fakekubelet.berth.io/never-ready: "true"}}
    spec: {containers: [{name: c, image: "stuck:v1"}]}
`
	c.mustKubectl("apply", "-f", c.writeManifest(t, "stuck.yaml", manifest))
	out, err := c.kubectl("rollout", "status", "deployment/stuck", "--timeout=60s")
	if err == nil {
		t.Fatalf("rollout status succeeded for a deployment that never becomes ready:\n%s", out)
	}
	expectMatch(t, "deadline", out, `exceeded its progress deadline`)
}

// TestJobsCascadesAndNamespaces covers Jobs, delete --cascade and namespace
// deletion through kubectl.
func TestJobsCascadesAndNamespaces(t *testing.T) {
	c := startCluster(t)
	cs := c.withFakeKubelet(t)
	job := `apiVersion: batch/v1
kind: Job
metadata: {name: five}
spec:
  completions: 5
  parallelism: 2
  template:
    spec:
      restartPolicy: Never
      containers: [{name: c, image: "batch:v1"}]
`
	c.mustKubectl("apply", "-f", c.writeManifest(t, "job.yaml", job))
	c.mustKubectl("wait", "--for=condition=complete", "job/five", "--timeout=60s")
	expectMatch(t, "get job", c.mustKubectl("get", "job", "five"), `five\s+Complete\s+5/5`)

	failing := `apiVersion: batch/v1
kind: Job
metadata: {name: fails}
spec:
  backoffLimit: 1
  template:
    metadata: {annotations: {fakekubelet.berth.io/exit-code: "1"}}
    spec:
      restartPolicy: Never
      containers: [{name: c, image: "batch:v1"}]
`
	c.mustKubectl("apply", "-f", c.writeManifest(t, "fails.yaml", failing))
	c.mustKubectl("wait", "--for=condition=failed", "job/fails", "--timeout=90s")
	expectMatch(t, "describe failed job", c.mustKubectl("describe", "job", "fails"), `BackoffLimitExceeded`)

	// Cascades.
	for _, tc := range []struct{ name, cascade string }{{"orphaned", "orphan"}, {"fg", "foreground"}, {"bg", "background"}} {
		c.mustKubectl("create", "deployment", tc.name, "--image=x:v1", "--replicas=2")
		c.mustKubectl("rollout", "status", "deployment/"+tc.name, "--timeout=60s")
		c.mustKubectl("delete", "deployment", tc.name, "--cascade="+tc.cascade, "--timeout=60s")
		sel := "app=" + tc.name
		if tc.cascade == "orphan" {
			out := c.mustKubectl("get", "rs", "-l", sel, "-o", "jsonpath={.items[*].metadata.ownerReferences}")
			if strings.TrimSpace(out) != "" {
				t.Errorf("orphaned ReplicaSet still has owner references: %s", out)
			}
			if out := c.mustKubectl("get", "rs", "-l", sel, "-o", "name"); !strings.Contains(out, "replicaset") {
				t.Errorf("orphan cascade deleted the ReplicaSet")
			}
			continue
		}
		waitFor(t, 30*time.Second, tc.cascade+" cascade", func() bool {
			_, active, _ := podCounts(context.Background(), cs, sel)
			out, _ := c.kubectl("get", "rs", "-l", sel, "-o", "name")
			return active == 0 && strings.TrimSpace(out) == ""
		})
	}

	// Deleting a namespace empties and removes it.
	c.mustKubectl("create", "namespace", "doomed")
	c.mustKubectl("-n", "doomed", "create", "configmap", "a", "--from-literal=x=y")
	c.mustKubectl("-n", "doomed", "create", "deployment", "d", "--image=x:v1")
	c.mustKubectl("delete", "namespace", "doomed", "--timeout=60s")
	if out, err := c.kubectl("get", "namespace", "doomed"); err == nil {
		t.Errorf("namespace still there after delete:\n%s", out)
	}
}

func waitFor(t *testing.T, timeout time.Duration, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
