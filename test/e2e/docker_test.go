package e2e

import (
	"context"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// dockerCLI returns the docker command line tool and whether a Docker
// daemon answers it.
func dockerCLI(t *testing.T) string {
	t.Helper()
	for _, bin := range []string{"/usr/bin/docker", "docker"} {
		path, err := exec.LookPath(bin)
		if err != nil {
			continue
		}
		if out, err := exec.Command(path, "version", "--format", "{{.Server.APIVersion}}").CombinedOutput(); err == nil {
			t.Logf("docker daemon API %s", strings.TrimSpace(string(out)))
			return path
		}
	}
	t.Skip("no Docker daemon answers (scripts/test.sh installs docker.io and starts dockerd)")
	return ""
}

// docker runs the docker CLI (the classic builder: no BuildKit plugin is
// needed) and returns its combined output.
func docker(t *testing.T, cli string, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, cli, args...)
	cmd.Env = append(os.Environ(), "DOCKER_BUILDKIT=0")
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// buildWebAppImage builds examples/webapp into image `tag` the way the
// README says: a static binary, then docker build.
func buildWebAppImage(t *testing.T, cli, tag string) {
	t.Helper()
	dir := t.TempDir()
	build := exec.Command("go", "build", "-o", filepath.Join(dir, "webapp"), "./examples/webapp")
	build.Dir, build.Env = repoRoot, append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build webapp: %v\n%s", err, out)
	}
	df, err := os.ReadFile(filepath.Join(repoRoot, "examples/webapp/Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "Dockerfile"), df, 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := docker(t, cli, "build", "-t", tag, dir); err != nil {
		t.Fatalf("docker build: %v\n%s", err, out)
	}
}

// TestDockerSeedFlow is the seed's flow on the Docker driver: docker build
// -t my-web-app, kubectl apply -f examples/seed/ unchanged, both replicas
// Running and Ready as containers, the LoadBalancer Service answering on
// port 80; then logs, exec, top, a container killed behind the agent's
// back, limits (OOM kill, CPU throttling), a wrong image, and deletion
// leaving no containers.
func TestDockerSeedFlow(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("the Docker driver's networks and the service proxy need root; CI runs this tier as root")
	}
	cli := dockerCLI(t)
	buildWebAppImage(t, cli, "my-web-app")
	node := "docker-e2e"
	c := startClusterArgs(t, true, "--driver=docker", "--node-name", node, "--cluster-cidr", "10.49.0.0/16")
	containers := func() []string {
		out, err := docker(t, cli, "ps", "-a", "-q", "--filter", "label=berth.io/node="+node, "--filter", "label=berth.io/role=container")
		if err != nil {
			t.Fatalf("docker ps: %v\n%s", err, out)
		}
		return strings.Fields(out)
	}
	t.Cleanup(func() {
		_, _ = c.kubectl("delete", "deploy", "--all", "--wait=false")
		_, _ = c.kubectl("delete", "pods", "--all", "--wait=true", "--timeout=60s")
		if ids, _ := docker(t, cli, "ps", "-a", "-q", "--filter", "label=berth.io/node="+node); strings.TrimSpace(ids) != "" {
			_, _ = docker(t, cli, append([]string{"rm", "-f"}, strings.Fields(ids)...)...)
		}
		_, _ = docker(t, cli, "network", "rm", "berth-"+node)
	})
	c.mustKubectl("apply", "-f", filepath.Join(repoRoot, "examples/seed"))
	waitFor(t, 120*time.Second, "both replicas Running and Ready", func() bool {
		out, err := c.kubectl("get", "pods", "-l", "app=my-web-app", "-o",
			`jsonpath={range .items[*]}{.status.phase} {.status.conditions[?(@.type=="Ready")].status} {.status.containerStatuses[0].containerID}{"\n"}{end}`)
		return err == nil && strings.Count(out, "Running True docker://") == 2
	})
	if n := len(containers()); n != 2 {
		t.Errorf("%d app containers in Docker, want 2", n)
	}
	t.Run("LoadBalancer on port 80", func(t *testing.T) {
		var body string
		waitFor(t, 30*time.Second, "the seed's Service answers on port 80", func() bool {
			resp, err := http.Get("http://127.0.0.1:80/")
			if err != nil {
				return false
			}
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			body = string(b)
			return resp.StatusCode == 200
		})
		if !strings.HasPrefix(body, "hello from my-web-app-deployment-") {
			t.Errorf("port 80 answered %q", body)
		}
	})
	pod := strings.Fields(c.mustKubectl("get", "pods", "-l", "app=my-web-app", "-o", "jsonpath={.items[*].metadata.name}"))[0]
	t.Run("logs, exec, top", func(t *testing.T) {
		if out := c.mustKubectl("logs", pod); !strings.Contains(out, "listening on :3000") {
			t.Errorf("logs: %q", out)
		}
		// The image has no shell: exec the app's own client.
		if out, err := c.kubectl("exec", pod, "--", "/webapp", "fetch", "http://localhost:3000/"); err != nil || out != "hello from "+pod+"\n" {
			t.Errorf("exec: %v %q", err, out)
		}
		waitFor(t, 90*time.Second, "kubectl top pods", func() bool {
			out, err := c.kubectl("top", "pod", pod, "--no-headers")
			return err == nil && regexp.MustCompile(`^\S+\s+\d+m\s+\d+Mi`).MatchString(out)
		})
	})
	t.Run("docker kill is noticed", func(t *testing.T) {
		id := strings.TrimPrefix(strings.TrimSpace(c.mustKubectl("get", "pod", pod, "-o", "jsonpath={.status.containerStatuses[0].containerID}")), "docker://")
		if out, err := docker(t, cli, "kill", id); err != nil {
			t.Fatalf("docker kill: %v %s", err, out)
		}
		waitFor(t, 60*time.Second, "the killed container restarted", func() bool {
			out, err := c.kubectl("get", "pod", pod, "-o", `jsonpath={.status.containerStatuses[0].restartCount} {.status.containerStatuses[0].ready}`)
			return err == nil && out == "1 true"
		})
	})
	t.Run("agent restart re-adopts the containers", func(t *testing.T) {
		ids := func() string {
			out, err := c.kubectl("get", "pods", "-l", "app=my-web-app", "-o", `jsonpath={range .items[*]}{.status.containerStatuses[0].containerID} {.status.containerStatuses[0].restartCount}{"\n"}{end}`)
			if err != nil {
				t.Fatalf("kubectl get pods: %v\n%s", err, out)
			}
			return out
		}
		before, n := ids(), len(containers())
		c.restart()
		waitFor(t, 60*time.Second, "the node Ready again", func() bool {
			out, err := c.kubectl("get", "node", node, "-o", `jsonpath={.status.conditions[?(@.type=="Ready")].status}`)
			return err == nil && out == "True"
		})
		waitFor(t, 30*time.Second, "both replicas Ready", func() bool {
			out, err := c.kubectl("get", "pods", "-l", "app=my-web-app", "-o", `jsonpath={range .items[*]}{.status.conditions[?(@.type=="Ready")].status}{end}`)
			return err == nil && out == "TrueTrue"
		})
		if after := ids(); after != before {
			t.Errorf("containers after the agent's restart:\n%s\nbefore:\n%s", after, before)
		}
		if m := len(containers()); m != n {
			t.Errorf("%d app containers after the restart, %d before", m, n)
		}
	})
	t.Run("limits", func(t *testing.T) {
		c.mustKubectl("apply", "-f", c.writeManifest(t, "limits.yaml", `apiVersion: v1
kind: Pod
metadata: {name: hog}
spec:
  restartPolicy: Never
  containers:
  - {name: hog, image: my-web-app, imagePullPolicy: Never, command: [/webapp, alloc, "200"], resources: {limits: {memory: 64Mi}}}
---
apiVersion: v1
kind: Pod
metadata: {name: burner}
spec:
  containers:
  - {name: burner, image: my-web-app, imagePullPolicy: Never, command: [/webapp, burn], resources: {limits: {cpu: 250m}}}
`))
		waitFor(t, 60*time.Second, "the memory hog OOM-killed", func() bool {
			out, err := c.kubectl("get", "pod", "hog", "-o", `jsonpath={.status.containerStatuses[0].state.terminated.reason}`)
			return err == nil && out == "OOMKilled"
		})
		var milli int
		waitFor(t, 90*time.Second, "the burner's CPU through kubectl top", func() bool {
			out, err := c.kubectl("top", "pod", "burner", "--no-headers")
			f := strings.Fields(out)
			if err != nil || len(f) < 2 {
				return false
			}
			milli, err = strconv.Atoi(strings.TrimSuffix(f[1], "m"))
			return err == nil && milli > 0
		})
		// Throttled to its limit: within 20 % of 250m.
		if milli < 200 || milli > 300 {
			t.Errorf("a spinning container with limit 250m uses %dm", milli)
		}
	})
	t.Run("wrong image", func(t *testing.T) {
		c.mustKubectl("run", "typo", "--image=127.0.0.1:1/no-such-image:1", "--restart=Never")
		seen := map[string]bool{}
		waitFor(t, 60*time.Second, "ErrImagePull then ImagePullBackOff", func() bool {
			out, _ := c.kubectl("get", "pod", "typo", "-o", `jsonpath={.status.containerStatuses[0].state.waiting.reason}`)
			seen[out] = true
			return seen["ImagePullBackOff"] && (seen["ErrImagePull"] || strings.Contains(c.mustKubectl("get", "events", "--field-selector", "involvedObject.name=typo"), "ErrImagePull"))
		})
	})
	t.Run("deletion leaves no containers", func(t *testing.T) {
		c.mustKubectl("delete", "deploy", "my-web-app-deployment", "--wait=true")
		c.mustKubectl("delete", "pod", "hog", "burner", "typo", "--wait=true", "--timeout=60s")
		waitFor(t, 60*time.Second, "no containers of the node left", func() bool {
			out, err := docker(t, cli, "ps", "-a", "-q", "--filter", "label=berth.io/node="+node)
			return err == nil && strings.TrimSpace(out) == ""
		})
	})
}
