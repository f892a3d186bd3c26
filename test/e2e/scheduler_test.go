package e2e

import (
	"strings"
	"testing"
	"time"
)

// TestSchedulerWithKubectl: the server's scheduler places pods on the
// (fake) nodes, and explains with kubectl describe why a pod waits.
func TestSchedulerWithKubectl(t *testing.T) {
	c := startCluster(t)
	c.withFakeKubelet(t)
	waitFor(t, 30*time.Second, "two nodes", func() bool {
		out, err := c.kubectl("get", "nodes", "-o", "name")
		return err == nil && strings.Count(out, "node/") == 2
	})
	manifest := c.writeManifest(t, "pods.yaml", `apiVersion: scheduling.k8s.io/v1
kind: PriorityClass
metadata: {name: important}
value: 1000
---
apiVersion: v1
kind: Pod
metadata: {name: small}
spec:
  schedulerName: sjf
  priorityClassName: important
  containers: [{name: c, image: app, resources: {requests: {cpu: 500m}}}]
---
apiVersion: v1
kind: Pod
metadata: {name: huge}
spec:
  containers: [{name: c, image: app, resources: {requests: {cpu: "1000"}}}]
`)
	expectMatch(t, "apply", c.mustKubectl("apply", "-f", manifest),
		`priorityclass.scheduling.k8s.io/important created`, `pod/small created`, `pod/huge created`)
	waitFor(t, 30*time.Second, "small pod running on a node", func() bool {
		out, err := c.kubectl("get", "pod", "small", "-o", "wide")
		return err == nil && strings.Contains(out, "Running") && strings.Contains(out, "e2e-node-")
	})
	expectMatch(t, "priority resolved", c.mustKubectl("get", "pod", "small", "-o", "jsonpath={.spec.priority}"), `^1000$`)
	waitFor(t, 30*time.Second, "FailedScheduling on the huge pod", func() bool {
		out, err := c.kubectl("describe", "pod", "huge")
		return err == nil && strings.Contains(out, "FailedScheduling") &&
			strings.Contains(out, "0/2 nodes are available: 2 Insufficient cpu.")
	})
	out := c.mustKubectl("describe", "pod", "small")
	expectMatch(t, "describe small", out, `Scheduled\s+.*default-scheduler\s+Successfully assigned default/small to e2e-node-`)
	expectMatch(t, "huge stays Pending", c.mustKubectl("get", "pod", "huge"), `huge\s+0/1\s+Pending`)
}
