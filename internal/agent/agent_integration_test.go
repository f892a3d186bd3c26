package agent_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/berth-dev/berth/internal/agent"
	"github.com/berth-dev/berth/internal/agent/runtime/mock"
	"github.com/berth-dev/berth/internal/controller"
	"github.com/berth-dev/berth/internal/testutil/testenv"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

const node = "agent-node"

// startAgent runs the API server (no controllers) and an agent with drv
// until the returned stop function is called (or the test ends); mods
// adjust the agent's configuration.
func startAgent(t *testing.T, cs kubernetes.Interface, drv *mock.Driver, mods ...func(*agent.Config)) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	cfg := agent.Config{Client: cs, NodeName: node, Driver: drv, DataDir: t.TempDir(),
		Reserved: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("100m")}, Logger: testenv.Logger()}
	for _, m := range mods {
		m(&cfg)
	}
	go func() { done <- agent.Run(ctx, cfg) }()
	stopped := false
	stop = func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		if err := <-done; err != nil {
			t.Errorf("agent: %v", err)
		}
	}
	t.Cleanup(stop)
	return stop
}

func env(t *testing.T) kubernetes.Interface {
	return testenv.Start(t, testenv.Options{Logger: testenv.Logger(), Controllers: []controller.Factory{}}).Client
}

func pod(name string, policy corev1.RestartPolicy, mods ...func(*corev1.Pod)) *corev1.Pod {
	p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: name},
		Spec: corev1.PodSpec{NodeName: node, RestartPolicy: policy, Containers: []corev1.Container{{Name: "main", Image: "app", Command: []string{"/app"}}}}}
	for _, m := range mods {
		m(p)
	}
	return p
}

func create(t *testing.T, cs kubernetes.Interface, p *corev1.Pod) {
	t.Helper()
	if _, err := cs.CoreV1().Pods(p.Namespace).Create(context.Background(), p, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
}

// waitPod polls the pod until ok accepts it.
func waitPod(t *testing.T, cs kubernetes.Interface, name, what string, ok func(*corev1.Pod) error) *corev1.Pod {
	t.Helper()
	var p *corev1.Pod
	testenv.Eventually(t, 15*time.Second, name+": "+what, func() error {
		var err error
		if p, err = cs.CoreV1().Pods("default").Get(context.Background(), name, metav1.GetOptions{}); err != nil {
			return err
		}
		return ok(p)
	})
	return p
}

func running(p *corev1.Pod) error {
	if p.Status.Phase != corev1.PodRunning {
		return fmt.Errorf("phase %q", p.Status.Phase)
	}
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady && c.Status == corev1.ConditionTrue {
			return nil
		}
	}
	return fmt.Errorf("not ready: %+v", p.Status.Conditions)
}

func containerID(p *corev1.Pod) string {
	return strings.TrimPrefix(p.Status.ContainerStatuses[0].ContainerID, "mock://")
}

func TestNodeRegistersAndHeartbeats(t *testing.T) {
	cs := env(t)
	startAgent(t, cs, mock.New())
	ctx := context.Background()
	testenv.Eventually(t, 10*time.Second, "node registered with its lease", func() error {
		n, err := cs.CoreV1().Nodes().Get(ctx, node, metav1.GetOptions{})
		if err != nil {
			return err
		}
		if n.Labels[corev1.LabelHostname] != node || n.Labels[agent.LabelDriver] != "mock" || n.Labels[corev1.LabelOSStable] == "" {
			return fmt.Errorf("labels %v", n.Labels)
		}
		capCPU, allocCPU := n.Status.Capacity[corev1.ResourceCPU], n.Status.Allocatable[corev1.ResourceCPU]
		if capCPU.MilliValue()-allocCPU.MilliValue() != 100 || n.Status.Allocatable.Memory().IsZero() || n.Status.Allocatable.Pods().Value() != 110 {
			return fmt.Errorf("capacity %v allocatable %v", n.Status.Capacity, n.Status.Allocatable)
		}
		ready := false
		for _, c := range n.Status.Conditions {
			ready = ready || (c.Type == corev1.NodeReady && c.Status == corev1.ConditionTrue)
		}
		if !ready || len(n.Status.Addresses) == 0 {
			return fmt.Errorf("conditions %v addresses %v", n.Status.Conditions, n.Status.Addresses)
		}
		l, err := cs.CoordinationV1().Leases(corev1.NamespaceNodeLease).Get(ctx, node, metav1.GetOptions{})
		if err != nil {
			return err
		}
		if l.Spec.RenewTime == nil || *l.Spec.HolderIdentity != node {
			return fmt.Errorf("lease %+v", l.Spec)
		}
		return nil
	})
}

func TestPodLifecycle(t *testing.T) {
	cs := env(t)
	drv := mock.New()
	defer drv.Close()
	startAgent(t, cs, drv)
	ctx := context.Background()
	if _, err := cs.CoreV1().ConfigMaps("default").Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "cfg"}, Data: map[string]string{"mode": "fast"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}

	t.Run("runs, reports and resolves env", func(t *testing.T) {
		create(t, cs, pod("web", corev1.RestartPolicyAlways, func(p *corev1.Pod) {
			p.Spec.Containers[0].Env = []corev1.EnvVar{
				{Name: "POD_NAME", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.name"}}},
				{Name: "MODE", ValueFrom: &corev1.EnvVarSource{ConfigMapKeyRef: &corev1.ConfigMapKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: "cfg"}, Key: "mode"}}},
			}
		}))
		p := waitPod(t, cs, "web", "Running and Ready", running)
		cst := p.Status.ContainerStatuses[0]
		if cst.State.Running == nil || cst.RestartCount != 0 || p.Status.PodIP == "" || p.Status.HostIP == "" || p.Status.StartTime == nil {
			t.Fatalf("status %+v", p.Status)
		}
		spec, err := drv.ContainerSpec(containerID(p))
		if err != nil {
			t.Fatal(err)
		}
		if got := strings.Join(spec.Env, " "); got != "POD_NAME=web MODE=fast" {
			t.Fatalf("env %q", got)
		}
	})

	t.Run("a crashed container restarts, then backs off", func(t *testing.T) {
		p := waitPod(t, cs, "web", "running", running)
		if err := drv.Exit(containerID(p), 137); err != nil {
			t.Fatal(err)
		}
		p = waitPod(t, cs, "web", "restarted once", func(p *corev1.Pod) error {
			if cs := p.Status.ContainerStatuses[0]; cs.RestartCount != 1 || cs.State.Running == nil || cs.LastTerminationState.Terminated == nil ||
				cs.LastTerminationState.Terminated.ExitCode != 137 {
				return fmt.Errorf("container %+v", cs)
			}
			return nil
		})
		if err := drv.Exit(containerID(p), 1); err != nil {
			t.Fatal(err)
		}
		waitPod(t, cs, "web", "CrashLoopBackOff", func(p *corev1.Pod) error {
			cs := p.Status.ContainerStatuses[0]
			if cs.State.Waiting == nil || cs.State.Waiting.Reason != "CrashLoopBackOff" || !strings.Contains(cs.State.Waiting.Message, "back-off 10s") ||
				cs.LastTerminationState.Terminated == nil || cs.LastTerminationState.Terminated.ExitCode != 1 {
				return fmt.Errorf("container %+v", cs)
			}
			if p.Status.Phase != corev1.PodRunning {
				return fmt.Errorf("phase %s", p.Status.Phase)
			}
			return nil
		})
		if n := drv.Starts("main"); n != 2 {
			t.Fatalf("%d starts during the back-off, want 2", n)
		}
	})

	t.Run("restartPolicy Never ends in Succeeded or Failed", func(t *testing.T) {
		create(t, cs, pod("ok", corev1.RestartPolicyNever, func(p *corev1.Pod) { p.Spec.Containers[0].Command = []string{"sh", "-c", "echo done; exit 0"} }))
		create(t, cs, pod("bad", corev1.RestartPolicyNever, func(p *corev1.Pod) { p.Spec.Containers[0].Command = []string{"sh", "-c", "exit 3"} }))
		waitPod(t, cs, "ok", "Succeeded", func(p *corev1.Pod) error {
			if p.Status.Phase != corev1.PodSucceeded || p.Status.ContainerStatuses[0].State.Terminated.Reason != "Completed" {
				return fmt.Errorf("status %+v", p.Status)
			}
			return nil
		})
		waitPod(t, cs, "bad", "Failed with exit code 3", func(p *corev1.Pod) error {
			if p.Status.Phase != corev1.PodFailed || p.Status.ContainerStatuses[0].State.Terminated.ExitCode != 3 {
				return fmt.Errorf("status %+v", p.Status)
			}
			return nil
		})
	})

	t.Run("init containers run first, in order", func(t *testing.T) {
		create(t, cs, pod("init", corev1.RestartPolicyAlways, func(p *corev1.Pod) {
			p.Spec.InitContainers = []corev1.Container{{Name: "one", Image: "x", Command: []string{"sh", "-c", "exit 0"}}, {Name: "two", Image: "x", Command: []string{"sh", "-c", "exit 0"}}}
		}))
		p := waitPod(t, cs, "init", "running after init", running)
		for _, ic := range p.Status.InitContainerStatuses {
			if ic.State.Terminated == nil || ic.State.Terminated.ExitCode != 0 {
				t.Fatalf("init status %+v", ic)
			}
		}
	})

	t.Run("too big for the node: OutOfcpu", func(t *testing.T) {
		create(t, cs, pod("huge", corev1.RestartPolicyAlways, func(p *corev1.Pod) {
			p.Spec.Containers[0].Resources.Requests = corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("10000")}
		}))
		waitPod(t, cs, "huge", "rejected", func(p *corev1.Pod) error {
			if p.Status.Phase != corev1.PodFailed || p.Status.Reason != "OutOfcpu" || !strings.Contains(p.Status.Message, "Node didn't have enough resource: cpu") {
				return fmt.Errorf("status %s %s %s", p.Status.Phase, p.Status.Reason, p.Status.Message)
			}
			return nil
		})
	})

	t.Run("missing configMap is reported, not fatal", func(t *testing.T) {
		create(t, cs, pod("nocfg", corev1.RestartPolicyAlways, func(p *corev1.Pod) {
			p.Spec.Containers[0].Env = []corev1.EnvVar{{Name: "X", ValueFrom: &corev1.EnvVarSource{ConfigMapKeyRef: &corev1.ConfigMapKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: "gone"}, Key: "k"}}}}
		}))
		waitPod(t, cs, "nocfg", "CreateContainerConfigError", func(p *corev1.Pod) error {
			if len(p.Status.ContainerStatuses) == 0 || p.Status.ContainerStatuses[0].State.Waiting == nil ||
				p.Status.ContainerStatuses[0].State.Waiting.Reason != "CreateContainerConfigError" ||
				!strings.Contains(p.Status.ContainerStatuses[0].State.Waiting.Message, `configMap "gone"`) {
				return fmt.Errorf("status %+v", p.Status.ContainerStatuses)
			}
			return nil
		})
	})

	t.Run("graceful deletion stops the containers and removes the pod", func(t *testing.T) {
		p := waitPod(t, cs, "init", "running", running)
		id := containerID(p)
		if err := cs.CoreV1().Pods("default").Delete(ctx, "init", metav1.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
		testenv.Eventually(t, 15*time.Second, "pod gone", func() error {
			_, err := cs.CoreV1().Pods("default").Get(ctx, "init", metav1.GetOptions{})
			if apierrors.IsNotFound(err) {
				return nil
			}
			return fmt.Errorf("still there (%v)", err)
		})
		if st, err := drv.Inspect(ctx, id); err == nil && st.State == "running" {
			t.Fatalf("container still running after deletion: %+v", st)
		}
	})
}

func TestAgentRestartKeepsPods(t *testing.T) {
	cs := env(t)
	drv := mock.New()
	defer drv.Close()
	stop := startAgent(t, cs, drv)
	create(t, cs, pod("keep", corev1.RestartPolicyAlways))
	before := containerID(waitPod(t, cs, "keep", "running", running))
	stop()
	startAgent(t, cs, drv)
	time.Sleep(time.Second) // the new agent has synced the pod by now
	after := waitPod(t, cs, "keep", "running", running)
	if containerID(after) != before || after.Status.ContainerStatuses[0].RestartCount != 0 || drv.Starts("main") != 1 {
		t.Fatalf("container %s → %s, restarts %d, starts %d: the pod was restarted", before, containerID(after),
			after.Status.ContainerStatuses[0].RestartCount, drv.Starts("main"))
	}
}
