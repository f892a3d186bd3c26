package e2e

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// webappBinary builds examples/webapp once per test.
func webappBinary(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "webapp")
	cmd := exec.Command("go", "build", "-o", bin, "./examples/webapp")
	cmd.Dir = repoRoot
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build webapp: %v\n%s", err, out)
	}
	return bin
}

// rootWebapp skips the test unless it runs as root (pod networks and
// cgroups), then builds the example app and kills its processes when the
// test ends.
func rootWebapp(t *testing.T) string {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("the agent's pod networks (CNI) and cgroups need root; CI runs this tier as root")
	}
	bin := webappBinary(t)
	t.Cleanup(func() {
		for _, pid := range pidsOf(bin) { // never leave the app running
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
	})
	return bin
}

// pidsOf lists the processes running exe.
func pidsOf(exe string) []int {
	var pids []int
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if target, err := os.Readlink(filepath.Join("/proc", e.Name(), "exe")); err == nil && target == exe {
			pids = append(pids, pid)
		}
	}
	return pids
}

// TestAgentRunsTheWebApp: `berth up` with its local agent runs the example
// web app with the process driver: two replicas Running and Ready, each with
// its own pod IP answering on port 3000; a killed container restarts.
func TestAgentRunsTheWebApp(t *testing.T) {
	bin := rootWebapp(t)
	c := startClusterWith(t, true)
	waitFor(t, 60*time.Second, "the local node Ready", func() bool {
		out, err := c.kubectl("get", "nodes", "-o", `jsonpath={range .items[*]}{.status.conditions[?(@.type=="Ready")].status} {.spec.podCIDR}{"\n"}{end}`)
		return err == nil && strings.HasPrefix(strings.TrimSpace(out), "True 10.42.")
	})
	manifest := c.writeManifest(t, "web.yaml", fmt.Sprintf(`apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: 2
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
        resources: {limits: {cpu: 500m, memory: 128Mi}}
`, bin))
	c.mustKubectl("apply", "-f", manifest)
	t.Cleanup(func() {
		// Delete the pods through the agent so that their network
		// namespaces are released before the data directory is removed.
		_, _ = c.kubectl("delete", "deployment", "web", "--wait=false")
		waitFor(t, 60*time.Second, "web pods gone", func() bool {
			out, err := c.kubectl("get", "pods", "-l", "app=web", "-o", "name")
			return err == nil && strings.TrimSpace(out) == ""
		})
	})
	var names, ips []string
	waitFor(t, 60*time.Second, "2 web pods Running and Ready", func() bool {
		out, err := c.kubectl("get", "pods", "-l", "app=web", "-o",
			`jsonpath={range .items[*]}{.metadata.name} {.status.phase} {.status.conditions[?(@.type=="Ready")].status} {.status.podIP}{"\n"}{end}`)
		if err != nil {
			return false
		}
		names, ips = nil, nil
		for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
			f := strings.Fields(line)
			if len(f) == 4 && f[1] == "Running" && f[2] == "True" {
				names, ips = append(names, f[0]), append(ips, f[3])
			}
		}
		return len(names) == 2
	})
	if ips[0] == ips[1] || !strings.HasPrefix(ips[0], "10.42.") {
		t.Fatalf("pod IPs %v: want two distinct IPs from the node's podCIDR", ips)
	}
	for i, ip := range ips {
		var body string
		waitFor(t, 20*time.Second, "pod "+names[i]+" answers on "+ip+":3000", func() bool {
			resp, err := http.Get("http://" + ip + ":3000/")
			if err != nil {
				return false
			}
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			body = string(b)
			return resp.StatusCode == 200
		})
		if want := "hello from " + names[i]; strings.TrimSpace(body) != want {
			t.Errorf("pod %s answered %q, want %q", names[i], body, want)
		}
	}

	// kill -9 of a container's process: the agent restarts it.
	pids := pidsOf(bin)
	if len(pids) != 2 {
		t.Fatalf("%d webapp processes, want 2", len(pids))
	}
	if err := syscall.Kill(pids[0], syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 30*time.Second, "the killed container restarted", func() bool {
		out, err := c.kubectl("get", "pods", "-l", "app=web", "-o", `jsonpath={range .items[*]}{.status.containerStatuses[0].restartCount} {.status.containerStatuses[0].ready}{"\n"}{end}`)
		return err == nil && (strings.Contains(out, "1 true\n0 true") || strings.Contains(out, "0 true\n1 true"))
	})
	if n := len(pidsOf(bin)); n != 2 {
		t.Errorf("%d webapp processes after the restart, want 2", n)
	}
}

// TestAgentLifecycle covers the kubelet behaviour users see: crash-loop
// back-off, OOM kills, readiness taking a pod out of a Service's endpoints
// and back, and an agent restart that keeps pods running.
func TestAgentLifecycle(t *testing.T) {
	bin := rootWebapp(t)
	c := startClusterWith(t, true)
	waitFor(t, 60*time.Second, "the local node Ready", func() bool {
		out, err := c.kubectl("get", "nodes", "-o", `jsonpath={.items[0].status.conditions[?(@.type=="Ready")].status}`)
		return err == nil && strings.TrimSpace(out) == "True"
	})
	manifest := c.writeManifest(t, "lifecycle.yaml", fmt.Sprintf(`apiVersion: v1
kind: Pod
metadata: {name: crasher}
spec:
  containers: [{name: c, image: none, command: ["/bin/sh", "-c", "echo boom; exit 1"]}]
---
apiVersion: v1
kind: Pod
metadata: {name: hog}
spec:
  restartPolicy: Never
  containers:
  - {name: c, image: none, command: ["/bin/sh", "-c", "tail /dev/zero"], resources: {limits: {memory: 32Mi}}}
---
apiVersion: v1
kind: Pod
metadata: {name: web, labels: {app: probed}}
spec:
  terminationGracePeriodSeconds: 5
  containers:
  - name: web
    image: my-web-app
    command: [%q]
    env: [{name: POD_NAME, value: web}]
    readinessProbe: {httpGet: {path: /healthz, port: 3000}, periodSeconds: 1, failureThreshold: 1}
---
apiVersion: v1
kind: Service
metadata: {name: probed}
spec:
  selector: {app: probed}
  ports: [{port: 80, targetPort: 3000}]
`, bin))
	c.mustKubectl("apply", "-f", manifest)
	t.Cleanup(func() {
		_, _ = c.kubectl("delete", "-f", manifest, "--wait=false")
		waitFor(t, 60*time.Second, "pods gone", func() bool {
			out, err := c.kubectl("get", "pods", "-o", "name")
			return err == nil && strings.TrimSpace(out) == ""
		})
	})

	t.Run("a crashing container backs off with growing delays", func(t *testing.T) {
		waitFor(t, 60*time.Second, "CrashLoopBackOff with a 20s back-off after 2 restarts", func() bool {
			out, err := c.kubectl("get", "pod", "crasher", "-o",
				`jsonpath={.status.containerStatuses[0].state.waiting.reason} {.status.containerStatuses[0].restartCount} {.status.containerStatuses[0].state.waiting.message}`)
			return err == nil && strings.HasPrefix(out, "CrashLoopBackOff 2 back-off 20s")
		})
		expectMatch(t, "get pod", c.mustKubectl("get", "pod", "crasher"), `crasher\s+0/1\s+CrashLoopBackOff\s+2`)
	})

	t.Run("a memory hog is OOM-killed", func(t *testing.T) {
		var last string
		defer func() {
			if t.Failed() {
				t.Logf("last status of hog: %q", last)
			}
		}()
		waitFor(t, 60*time.Second, "OOMKilled", func() bool {
			out, err := c.kubectl("get", "pod", "hog", "-o",
				`jsonpath={.status.phase} {.status.containerStatuses[0].state.terminated.reason} {.status.containerStatuses[0].state.terminated.exitCode}`)
			last = out
			return err == nil && out == "Failed OOMKilled 137"
		})
	})

	var ip string
	t.Run("readiness takes the pod out of the Service and back", func(t *testing.T) {
		endpoints := func() string {
			out, _ := c.kubectl("get", "endpoints", "probed", "-o", `jsonpath={.subsets[*].addresses[*].ip}/{.subsets[*].notReadyAddresses[*].ip}`)
			return out
		}
		waitFor(t, 60*time.Second, "web ready and in the endpoints", func() bool {
			out, err := c.kubectl("get", "pod", "web", "-o", `jsonpath={.status.podIP} {.status.conditions[?(@.type=="Ready")].status}`)
			f := strings.Fields(out)
			if err != nil || len(f) != 2 || f[1] != "True" {
				return false
			}
			ip = f[0]
			return endpoints() == ip+"/"
		})
		get := func(path string) {
			resp, err := http.Get("http://" + ip + ":3000" + path)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
		}
		get("/healthz/fail")
		waitFor(t, 30*time.Second, "web not ready, out of the endpoints", func() bool { return endpoints() == "/"+ip })
		get("/healthz/ok")
		waitFor(t, 30*time.Second, "web ready again", func() bool { return endpoints() == ip+"/" })
	})

	t.Run("restarting berth up keeps pods running with the same PIDs", func(t *testing.T) {
		before := pidsOf(bin)
		if len(before) != 1 {
			t.Fatalf("%d webapp processes, want 1", len(before))
		}
		c.restart()
		waitFor(t, 60*time.Second, "node Ready again", func() bool {
			out, err := c.kubectl("get", "nodes", "-o", `jsonpath={.items[0].status.conditions[?(@.type=="Ready")].status}`)
			return err == nil && strings.TrimSpace(out) == "True"
		})
		time.Sleep(3 * time.Second) // the agent has re-synced its pods by now
		expectMatch(t, "web after the restart", c.mustKubectl("get", "pod", "web", "-o", `jsonpath={.status.phase} {.status.containerStatuses[0].restartCount}`), `^Running 0$`)
		if after := pidsOf(bin); len(after) != 1 || after[0] != before[0] {
			t.Fatalf("webapp PIDs %v before, %v after the restart", before, after)
		}
		resp, err := http.Get("http://" + ip + ":3000/")
		if err != nil {
			t.Fatalf("web no longer answers after the restart: %v", err)
		}
		resp.Body.Close()
	})
}
