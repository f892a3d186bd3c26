package e2e

import (
	"fmt"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestAutoscaling runs the example app under an HPA: `kubectl autoscale`
// creates a cpu HPA whose TARGETS show a measured utilization; then an HPA
// on the service proxy's requests_per_second (1 s sync and metric
// resolution) scales the Deployment 1 → 3 under load from the example
// app's load generator, and back to 1 once the load stops and the
// scale-down stabilization window has passed. The HPA reads both the pods'
// metric and the Service's (an Object metric).
func TestAutoscaling(t *testing.T) {
	bin := rootWebapp(t) // pod networks, cgroups (cpu metrics) and ClusterIPs need root
	c := startClusterWith(t, true)
	c.mustKubectl("apply", "-f", c.writeManifest(t, "web.yaml", fmt.Sprintf(`apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  replicas: 1
  selector: {matchLabels: {app: web}}
  template:
    metadata:
      labels: {app: web}
    spec:
      terminationGracePeriodSeconds: 5
      containers:
      - name: web
        image: my-web-app
        command: [%q]
        env:
        - name: POD_NAME
          valueFrom: {fieldRef: {fieldPath: metadata.name}}
        - {name: PORT, value: "3000"}
        ports: [{containerPort: 3000}]
        resources: {requests: {cpu: 100m}}
        readinessProbe: {httpGet: {path: /healthz, port: 3000}, periodSeconds: 1}
---
apiVersion: v1
kind: Service
metadata:
  name: web
  annotations: {berth.io/lb-mode: http}
spec:
  selector: {app: web}
  ports: [{port: 80, targetPort: 3000}]
`, bin)))
	t.Cleanup(func() { _, _ = c.kubectl("delete", "deployment", "web", "--wait=true", "--timeout=60s") })
	replicas := func() int {
		out, err := c.kubectl("get", "deployment", "web", "-o", "jsonpath={.spec.replicas}")
		if err != nil {
			return -1
		}
		n, _ := strconv.Atoi(strings.TrimSpace(out))
		return n
	}
	ready := func() int {
		out, _ := c.kubectl("get", "pods", "-l", "app=web", "-o", `jsonpath={range .items[*]}{.status.conditions[?(@.type=="Ready")].status}{"\n"}{end}`)
		return strings.Count(out, "True")
	}
	waitFor(t, 90*time.Second, "the web pod Ready", func() bool { return ready() == 1 })

	// kubectl autoscale: a cpu Utilization HPA; the agent's cgroup figures
	// reach it through metrics.k8s.io and kubectl shows them.
	expectMatch(t, "kubectl autoscale", c.mustKubectl("autoscale", "deployment", "web", "--cpu-percent=50", "--min=1", "--max=3"),
		`horizontalpodautoscaler.autoscaling/web autoscaled`)
	cpuTargets := regexp.MustCompile(`(?m)^web\s+Deployment/web\s+cpu: \d+%/50%\s+1\s+3\s+1\s`)
	waitFor(t, 60*time.Second, "kubectl get hpa to show the measured cpu utilization", func() bool {
		out, err := c.kubectl("get", "hpa", "web")
		return err == nil && cpuTargets.MatchString(out)
	})
	c.mustKubectl("delete", "hpa", "web")

	// An HPA on requests per second through the service proxy.
	c.mustKubectl("apply", "-f", c.writeManifest(t, "hpa.yaml", `apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata:
  name: web
  annotations: {berth.io/hpa-sync-period: 1s, berth.io/hpa-metric-resolution: 1s}
spec:
  scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: web}
  minReplicas: 1
  maxReplicas: 3
  metrics:
  - type: Pods
    pods:
      metric: {name: requests_per_second}
      target: {type: AverageValue, averageValue: "5"}
  - type: Object
    object:
      describedObject: {apiVersion: v1, kind: Service, name: web}
      metric: {name: requests_per_second}
      target: {type: AverageValue, averageValue: "5"}
  behavior:
    scaleDown: {stabilizationWindowSeconds: 15}
`))
	ip := strings.TrimSpace(c.mustKubectl("get", "svc", "web", "-o", "jsonpath={.spec.clusterIP}"))
	// Idle: the HPA stays at one replica and shows 0 requests/s per pod.
	waitFor(t, 30*time.Second, "the HPA to measure the idle app", func() bool {
		out, err := c.kubectl("get", "hpa", "web")
		return err == nil && regexp.MustCompile(`(?m)^web\s+Deployment/web\s+0/5, 0/5 \(avg\)\s+1\s+3\s+1\s`).MatchString(out)
	})
	load := exec.Command(bin, "load", "-rps", "20", "http://"+ip+"/")
	var loadOut lockedBuffer
	load.Stdout, load.Stderr = &loadOut, &loadOut
	if err := load.Start(); err != nil {
		t.Fatal(err)
	}
	stopLoad := func() {
		if load.Process != nil && load.ProcessState == nil {
			_ = load.Process.Kill()
			_ = load.Wait()
		}
	}
	t.Cleanup(stopLoad)
	// 20 requests/s at 5 per pod asks for 4: the HPA stops at its maximum.
	waitFor(t, 60*time.Second, "3 replicas under load", func() bool { return replicas() == 3 })
	waitFor(t, 60*time.Second, "3 pods Ready", func() bool { return ready() == 3 })
	out := c.mustKubectl("get", "hpa", "web")
	expectMatch(t, "kubectl get hpa under load", out, `(?m)^web\s+Deployment/web\s+\d+m?/5, \d+m?/5 \(avg\)\s+1\s+3\s+3\s`)
	// Both metrics were read: the Service's total through the Object metric.
	objValue := c.mustKubectl("get", "hpa", "web", "-o", "jsonpath={.status.currentMetrics[1].object.current.averageValue}")
	if v := strings.TrimSpace(objValue); v == "" || v == "0" {
		t.Fatalf("the Object metric on the Service has no value under load: %q", v)
	}
	desc := c.mustKubectl("describe", "hpa", "web")
	expectMatch(t, "kubectl describe hpa", desc, `SuccessfulRescale\s+.*New size: \d+; reason: pods metric requests_per_second above target`,
		`ScalingLimited\s+True\s+TooManyReplicas`)

	// The load stops: back to one replica, not before the window.
	stopLoad()
	stopped := time.Now()
	t.Logf("load generator: %s", strings.TrimSpace(loadOut.String()))
	waitFor(t, 90*time.Second, "1 replica after the load", func() bool { return replicas() == 1 })
	if took := time.Since(stopped); took < 14*time.Second {
		t.Fatalf("scaled down %s after the load stopped, before the 15 s stabilization window", took.Round(time.Second))
	}
	expectMatch(t, "kubectl describe hpa after the load", c.mustKubectl("describe", "hpa", "web"), `New size: 1; reason: All metrics below target`)
}
