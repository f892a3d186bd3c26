package agent_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/berth-dev/berth/internal/agent"
	"github.com/berth-dev/berth/internal/agent/runtime"
	"github.com/berth-dev/berth/internal/agent/runtime/mock"
	"github.com/berth-dev/berth/internal/controller"
	"github.com/berth-dev/berth/internal/nodeapi"
	"github.com/berth-dev/berth/internal/testutil/testenv"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/remotecommand"
	"k8s.io/client-go/util/exec"
	metricsclient "k8s.io/metrics/pkg/client/clientset/versioned"
)

// TestLogsExecAndMetricsThroughTheAPIServer drives the agent's endpoint the
// way kubectl does: client-go's log request, WebSocket exec executor and
// metrics clientset against the API server, which proxies to the agent.
func TestLogsExecAndMetricsThroughTheAPIServer(t *testing.T) {
	e := testenv.Start(t, testenv.Options{Logger: testenv.Logger(), Controllers: []controller.Factory{}, MetricsInterval: 300 * time.Millisecond})
	cs := e.Client
	drv := mock.New()
	drv.SetExecHandler(func(_ context.Context, c runtime.ContainerStatus, cmd []string, stdin io.Reader, stdout, stderr io.Writer) (int, error) {
		switch cmd[0] {
		case "cat":
			_, err := io.Copy(stdout, stdin)
			return 0, err
		case "false":
			fmt.Fprintln(stderr, "nope")
			return 1, nil
		}
		fmt.Fprintf(stdout, "%s ran %s\n", c.Name, strings.Join(cmd, " "))
		return 0, nil
	})
	startAgent(t, cs, drv, func(c *agent.Config) {
		c.EndpointAddr, c.CAPEM, c.NodeIP, c.StatsInterval = "127.0.0.1:0", e.Server.CAPEM(), "127.0.0.1", 200*time.Millisecond
	})
	ctx := context.Background()
	create(t, cs, pod("web", corev1.RestartPolicyAlways, func(p *corev1.Pod) {
		p.Labels = map[string]string{"app": "web"}
		p.Spec.Containers = append(p.Spec.Containers, corev1.Container{Name: "side", Image: "app", Command: []string{"/side"}})
	}))
	p := waitPod(t, cs, "web", "running", running)
	id := ""
	for _, st := range p.Status.ContainerStatuses {
		if st.Name == "main" {
			id = strings.TrimPrefix(st.ContainerID, "mock://")
		}
	}
	if err := drv.Output(id, "stdout", "first instance"); err != nil {
		t.Fatal(err)
	}

	// Stream, as kubectl logs (DoRaw hides the server's message).
	logs := func(opts *corev1.PodLogOptions) (string, error) {
		rc, err := cs.CoreV1().Pods("default").GetLogs("web", opts).Stream(ctx)
		if err != nil {
			return "", err
		}
		defer rc.Close()
		b, err := io.ReadAll(rc)
		return string(b), err
	}
	t.Run("logs", func(t *testing.T) {
		out, err := logs(&corev1.PodLogOptions{Container: "main"})
		if err != nil || !strings.Contains(out, "first instance") {
			t.Fatalf("logs %q, %v", out, err)
		}
	})
	t.Run("bad requests", func(t *testing.T) {
		for _, tc := range []struct {
			opts *corev1.PodLogOptions
			want string
		}{
			{&corev1.PodLogOptions{}, "a container name must be specified for pod web, choose one of: [main side]"},
			{&corev1.PodLogOptions{Container: "nope"}, "container nope is not valid for pod web"},
			{&corev1.PodLogOptions{Container: "main", Previous: true}, `previous terminated container "main" in pod "web" not found`},
		} {
			_, err := logs(tc.opts)
			if !apierrors.IsBadRequest(err) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("%+v: got %v, want BadRequest %q", tc.opts, err, tc.want)
			}
		}
		tail := int64(-1)
		if _, err := logs(&corev1.PodLogOptions{Container: "main", TailLines: &tail}); !apierrors.IsBadRequest(err) {
			t.Errorf("tailLines -1: got %v", err)
		}
	})
	t.Run("previous", func(t *testing.T) {
		if err := drv.Exit(id, 2); err != nil {
			t.Fatal(err)
		}
		waitPod(t, cs, "web", "main restarted", func(p *corev1.Pod) error {
			for _, st := range p.Status.ContainerStatuses {
				if st.Name == "main" && st.RestartCount == 1 && st.State.Running != nil {
					return nil
				}
			}
			return errors.New("not restarted yet")
		})
		out, err := logs(&corev1.PodLogOptions{Container: "main", Previous: true})
		if err != nil || !strings.Contains(out, "first instance") {
			t.Fatalf("previous logs %q, %v", out, err)
		}
		if out, err := logs(&corev1.PodLogOptions{Container: "main"}); err != nil || strings.Contains(out, "first instance") {
			t.Fatalf("current logs %q, %v", out, err)
		}
	})
	t.Run("exec", func(t *testing.T) {
		run := func(stdin io.Reader, cmd ...string) (string, string, error) {
			req := cs.CoreV1().RESTClient().Post().Resource("pods").Namespace("default").Name("web").SubResource("exec").
				VersionedParams(&corev1.PodExecOptions{Container: "side", Command: cmd, Stdin: stdin != nil, Stdout: true, Stderr: true}, scheme.ParameterCodec)
			ex, err := remotecommand.NewWebSocketExecutor(e.Server.RestConfig(), "GET", req.URL().String())
			if err != nil {
				t.Fatal(err)
			}
			var out, errOut bytes.Buffer
			cctx, cancel := context.WithTimeout(ctx, 20*time.Second)
			defer cancel()
			err = ex.StreamWithContext(cctx, remotecommand.StreamOptions{Stdin: stdin, Stdout: &out, Stderr: &errOut})
			return out.String(), errOut.String(), err
		}
		if out, _, err := run(nil, "date", "-u"); err != nil || out != "side ran date -u\n" {
			t.Errorf("exec: %q, %v", out, err)
		}
		if out, _, err := run(strings.NewReader("piped\n"), "cat"); err != nil || out != "piped\n" {
			t.Errorf("exec with stdin: %q, %v", out, err)
		}
		_, errOut, err := run(nil, "false")
		var ee exec.CodeExitError
		if !errors.As(err, &ee) || ee.Code != 1 || errOut != "nope\n" {
			t.Errorf("exit code: %v %q", err, errOut)
		}
		// No command: refused by the API server before any upgrade.
		hc, err := rest.HTTPClientFor(e.Server.RestConfig())
		if err != nil {
			t.Fatal(err)
		}
		resp, err := hc.Get(e.Server.URL() + "/api/v1/namespaces/default/pods/web/exec?container=side&stdout=true")
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 400 || !strings.Contains(string(body), "at least 1 command") {
			t.Errorf("exec without a command: %d %s", resp.StatusCode, body)
		}
	})
	t.Run("metrics", func(t *testing.T) {
		for _, st := range mustPod(t, cs, "web").Status.ContainerStatuses {
			cid := strings.TrimPrefix(st.ContainerID, "mock://")
			if err := drv.SetStats(cid, runtime.Stats{CPUUsageNanos: 1, MemoryWorkingSetBytes: 64 << 20}); err != nil {
				t.Fatal(err)
			}
		}
		mc, err := metricsclient.NewForConfig(e.Server.RestConfig())
		if err != nil {
			t.Fatal(err)
		}
		testenv.Eventually(t, 15*time.Second, "pod and node metrics", func() error {
			pm, err := mc.MetricsV1beta1().PodMetricses("default").List(ctx, metav1.ListOptions{LabelSelector: "app=web"})
			if err != nil {
				return err
			}
			if len(pm.Items) != 1 || len(pm.Items[0].Containers) != 2 {
				return fmt.Errorf("pod metrics %+v", pm.Items)
			}
			for _, c := range pm.Items[0].Containers {
				if c.Usage.Memory().Value() != 64<<20 {
					return fmt.Errorf("container %s usage %v", c.Name, c.Usage)
				}
			}
			if pm, err := mc.MetricsV1beta1().PodMetricses("default").List(ctx, metav1.ListOptions{LabelSelector: "app=other"}); err != nil || len(pm.Items) != 0 {
				return fmt.Errorf("selector app=other: %v %v", pm, err)
			}
			nm, err := mc.MetricsV1beta1().NodeMetricses().Get(ctx, node, metav1.GetOptions{})
			if err != nil {
				return err
			}
			if nm.Usage.Memory().IsZero() || nm.Window.Duration <= 0 {
				return fmt.Errorf("node metrics %+v", nm)
			}
			return nil
		})
		if _, err := mc.MetricsV1beta1().PodMetricses("default").Get(ctx, "absent", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
			t.Errorf("metrics of an absent pod: %v", err)
		}
	})
	t.Run("node proxy", func(t *testing.T) {
		raw := func(path string) (string, error) {
			b, err := cs.CoreV1().RESTClient().Get().AbsPath("/api/v1/nodes", node, "proxy", path).DoRaw(ctx)
			return string(b), err
		}
		if out, err := raw("healthz"); err != nil || out != "ok" {
			t.Errorf("nodes/%s/proxy/healthz: %q %v", node, out, err)
		}
		if out, err := raw("metrics/resource"); err != nil || !strings.Contains(out, `"node"`) {
			t.Errorf("nodes/%s/proxy/metrics/resource: %q %v", node, out, err)
		}
		if _, err := raw("metrics"); err != nil {
			t.Errorf("nodes/%s/proxy/metrics: %v", node, err)
		}
		if _, err := raw("containerLogs/default/web/main"); !apierrors.IsNotFound(err) {
			t.Errorf("a path outside the allowed ones: %v, want NotFound", err)
		}
	})
	t.Run("pinned certificate", func(t *testing.T) {
		// A node whose published fingerprint is not its agent's: the API
		// server refuses to talk to the impostor.
		patch := fmt.Sprintf(`{"metadata":{"annotations":{%q:%q}}}`, nodeapi.CertAnnotation, strings.Repeat("0", 64))
		if _, err := cs.CoreV1().Nodes().Patch(ctx, node, types.MergePatchType, []byte(patch), metav1.PatchOptions{}); err != nil {
			t.Fatal(err)
		}
		_, err := logs(&corev1.PodLogOptions{Container: "main"})
		if !apierrors.IsInternalError(err) || !strings.Contains(err.Error(), "does not match the fingerprint") {
			t.Fatalf("logs from an agent with another certificate: %v", err)
		}
	})
}

func mustPod(t *testing.T, cs kubernetes.Interface, name string) *corev1.Pod {
	t.Helper()
	p, err := cs.CoreV1().Pods("default").Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// TestHostNetworkNodeIsLabelled: a driver that cannot isolate pods' networks
// makes the agent label its node berth.io/pod-network=host (the scheduler
// then treats container ports as host ports) and say why on the node.
func TestHostNetworkNodeIsLabelled(t *testing.T) {
	cs := env(t)
	drv := mock.New()
	startAgent(t, cs, nil, func(c *agent.Config) {
		c.Driver = nil
		c.DriverName = "mock"
		c.NewDriver = func(context.Context, *corev1.Node) (runtime.Driver, string, error) {
			return drv, "the agent does not run as root", nil
		}
	})
	testenv.Eventually(t, 15*time.Second, "node labelled host network", func() error {
		n, err := cs.CoreV1().Nodes().Get(context.Background(), node, metav1.GetOptions{})
		if err != nil {
			return err
		}
		if got := n.Labels[nodeapi.LabelPodNetwork]; got != nodeapi.PodNetworkHost {
			return fmt.Errorf("label %s=%q", nodeapi.LabelPodNetwork, got)
		}
		for _, c := range n.Status.Conditions {
			if c.Type == corev1.NodeReady && strings.Contains(c.Message, "pods use the host network: the agent does not run as root") {
				return nil
			}
		}
		return fmt.Errorf("conditions %+v", n.Status.Conditions)
	})
}
