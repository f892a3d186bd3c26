package nodelifecycle_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/berth-dev/berth/internal/controller"
	"github.com/berth-dev/berth/internal/controller/nodelifecycle"
	"github.com/berth-dev/berth/internal/testutil/testenv"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/util/retry"
)

const (
	ns      = "default"
	grace   = 2 * time.Second
	monitor = 500 * time.Millisecond
	timeout = 15 * time.Second
)

// agent stands in for a node agent: it registers a Ready node and renews
// its Lease until stopped.
type agent struct {
	t    *testing.T
	cs   kubernetes.Interface
	name string

	mu     sync.Mutex
	cancel context.CancelFunc
	done   chan struct{}
}

func newAgent(t *testing.T, cs kubernetes.Interface, name string) *agent {
	t.Helper()
	now := metav1.Now()
	node := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name}, Status: corev1.NodeStatus{Conditions: []corev1.NodeCondition{
		{Type: corev1.NodeReady, Status: corev1.ConditionTrue, Reason: "AgentReady", LastHeartbeatTime: now, LastTransitionTime: now},
		{Type: corev1.NodeMemoryPressure, Status: corev1.ConditionFalse, Reason: "AgentHasSufficientMemory", LastHeartbeatTime: now, LastTransitionTime: now},
	}}}
	if _, err := cs.CoreV1().Nodes().Create(context.Background(), node, metav1.CreateOptions{}); err != nil {
		t.Fatalf("create node %s: %v", name, err)
	}
	a := &agent{t: t, cs: cs, name: name}
	a.start()
	t.Cleanup(a.stop)
	return a
}

// renew renews the node's Lease once.
func (a *agent) renew(ctx context.Context) error {
	leases := a.cs.CoordinationV1().Leases(corev1.NamespaceNodeLease)
	now := metav1.NewMicroTime(time.Now())
	l, err := leases.Get(ctx, a.name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		secs := int32(40)
		l = &coordinationv1.Lease{ObjectMeta: metav1.ObjectMeta{Name: a.name, Namespace: corev1.NamespaceNodeLease},
			Spec: coordinationv1.LeaseSpec{HolderIdentity: &a.name, LeaseDurationSeconds: &secs, RenewTime: &now}}
		_, err = leases.Create(ctx, l, metav1.CreateOptions{})
		return err
	}
	if err != nil {
		return err
	}
	l.Spec.RenewTime = &now
	_, err = leases.Update(ctx, l, metav1.UpdateOptions{})
	return err
}

// start renews the Lease every 200 ms until stop.
func (a *agent) start() {
	a.mu.Lock()
	defer a.mu.Unlock()
	ctx, cancel := context.WithCancel(context.Background())
	a.cancel, a.done = cancel, make(chan struct{})
	go func(done chan struct{}) {
		defer close(done)
		tick := time.NewTicker(200 * time.Millisecond)
		defer tick.Stop()
		for {
			if err := a.renew(ctx); err != nil && ctx.Err() == nil {
				a.t.Errorf("renew lease of %s: %v", a.name, err)
			}
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
		}
	}(a.done)
}

// stop stops renewing the Lease.
func (a *agent) stop() {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.cancel == nil {
		return
	}
	a.cancel()
	<-a.done
	a.cancel = nil
}

// report posts the node's Ready condition with a fresh heartbeat.
func (a *agent) report(status corev1.ConditionStatus) {
	a.t.Helper()
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		n, err := a.cs.CoreV1().Nodes().Get(context.Background(), a.name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		now := metav1.Now()
		for i := range n.Status.Conditions {
			c := &n.Status.Conditions[i]
			want := corev1.ConditionFalse
			if c.Type == corev1.NodeReady {
				want = status
			}
			if c.Status != want {
				c.LastTransitionTime = now
			}
			c.Status, c.Reason, c.Message, c.LastHeartbeatTime = want, "Agent", "agent reports", now
		}
		_, err = a.cs.CoreV1().Nodes().UpdateStatus(context.Background(), n, metav1.UpdateOptions{})
		return err
	})
	if err != nil {
		a.t.Fatalf("report status of %s: %v", a.name, err)
	}
}

// runningPod creates a Running, Ready pod bound to node.
func runningPod(t *testing.T, cs kubernetes.Interface, name, node string, tolerations ...corev1.Toleration) {
	t.Helper()
	ctx := context.Background()
	p := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		Spec: corev1.PodSpec{NodeName: node, Tolerations: tolerations,
			Containers: []corev1.Container{{Name: "c", Image: "img:1"}}},
	}
	p, err := cs.CoreV1().Pods(ns).Create(ctx, p, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("create pod %s: %v", name, err)
	}
	now := metav1.Now()
	p.Status.Phase = corev1.PodRunning
	p.Status.Conditions = []corev1.PodCondition{
		{Type: corev1.PodScheduled, Status: corev1.ConditionTrue, LastTransitionTime: now},
		{Type: corev1.PodReady, Status: corev1.ConditionTrue, LastTransitionTime: now},
	}
	if _, err := cs.CoreV1().Pods(ns).UpdateStatus(ctx, p, metav1.UpdateOptions{}); err != nil {
		t.Fatalf("set pod %s running: %v", name, err)
	}
}

func getNode(cs kubernetes.Interface, name string) (*corev1.Node, error) {
	return cs.CoreV1().Nodes().Get(context.Background(), name, metav1.GetOptions{})
}

func readyCondition(n *corev1.Node) *corev1.NodeCondition {
	for i := range n.Status.Conditions {
		if n.Status.Conditions[i].Type == corev1.NodeReady {
			return &n.Status.Conditions[i]
		}
	}
	return nil
}

// hasTaint reports whether n has a taint with key and effect.
func hasTaint(n *corev1.Node, key string, effect corev1.TaintEffect) bool {
	for _, t := range n.Spec.Taints {
		if t.Key == key && t.Effect == effect {
			return true
		}
	}
	return false
}

// controllerTaints lists the node's not-ready and unreachable taints.
func controllerTaints(n *corev1.Node) []string {
	var out []string
	for _, t := range n.Spec.Taints {
		if t.Key == corev1.TaintNodeUnreachable || t.Key == corev1.TaintNodeNotReady {
			out = append(out, t.ToString())
		}
	}
	return out
}

// evicted reports whether the pod is being deleted or gone.
func evicted(cs kubernetes.Interface, name string) (bool, *corev1.Pod, error) {
	p, err := cs.CoreV1().Pods(ns).Get(context.Background(), name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return true, nil, nil
	}
	if err != nil {
		return false, nil, err
	}
	return p.DeletionTimestamp != nil, p, nil
}

func podReady(p *corev1.Pod) corev1.ConditionStatus {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status
		}
	}
	return ""
}

func TestNodeLifecycle(t *testing.T) {
	cs := testenv.Start(t, testenv.Options{Logger: testenv.Logger(), Controllers: []controller.Factory{
		nodelifecycle.NewWithConfig(nodelifecycle.Config{GracePeriod: grace, MonitorPeriod: monitor}),
	}}).Client

	a := newAgent(t, cs, "node-1")
	one := int64(1)
	runningPod(t, cs, "short", "node-1", corev1.Toleration{Key: corev1.TaintNodeUnreachable, Operator: corev1.TolerationOpExists,
		Effect: corev1.TaintEffectNoExecute, TolerationSeconds: &one})
	runningPod(t, cs, "forever", "node-1", corev1.Toleration{Key: corev1.TaintNodeUnreachable, Operator: corev1.TolerationOpExists,
		Effect: corev1.TaintEffectNoExecute})
	runningPod(t, cs, "defaults", "node-1") // the API server's 300 s tolerations

	// A node whose Lease is renewed stays Ready, untainted.
	for end := time.Now().Add(grace + 3*monitor); time.Now().Before(end); time.Sleep(100 * time.Millisecond) {
		n, err := getNode(cs, "node-1")
		if err != nil {
			t.Fatal(err)
		}
		if r := readyCondition(n); r == nil || r.Status != corev1.ConditionTrue || len(controllerTaints(n)) > 0 {
			t.Fatalf("node with a fresh Lease: Ready %+v, taints %v", r, controllerTaints(n))
		}
	}

	// The agent stops: within grace + monitor period the node is Unknown
	// and tainted unreachable.
	a.stop()
	stopped := time.Now()
	testenv.Eventually(t, timeout, "node-1 unreachable", func() error {
		n, err := getNode(cs, "node-1")
		if err != nil {
			return err
		}
		r := readyCondition(n)
		if r == nil || r.Status != corev1.ConditionUnknown {
			return fmt.Errorf("Ready %+v", r)
		}
		if r.Reason != nodelifecycle.ReasonNodeStatusUnknown || r.Message != "Kubelet stopped posting node status." {
			return fmt.Errorf("Ready reason %q message %q", r.Reason, r.Message)
		}
		if !hasTaint(n, corev1.TaintNodeUnreachable, corev1.TaintEffectNoExecute) || !hasTaint(n, corev1.TaintNodeUnreachable, corev1.TaintEffectNoSchedule) {
			return fmt.Errorf("taints %v", controllerTaints(n))
		}
		for _, c := range n.Status.Conditions {
			if c.Status != corev1.ConditionUnknown {
				return fmt.Errorf("condition %s is %s", c.Type, c.Status)
			}
		}
		return nil
	})
	tainted := time.Now()
	if d := tainted.Sub(stopped); d < grace-300*time.Millisecond || d > grace+monitor+3*time.Second {
		t.Errorf("node tainted %v after the last renewal; want about %v-%v", d, grace, grace+monitor)
	}

	// The pod tolerating the taint for 1 s is evicted after about 1 s,
	// with a DisruptionTarget condition; the others stay, marked not
	// ready.
	testenv.Eventually(t, timeout, "pod short evicted", func() error {
		gone, p, err := evicted(cs, "short")
		if err != nil {
			return err
		}
		if !gone {
			return errors.New("not evicted")
		}
		if p != nil {
			found := false
			for _, c := range p.Status.Conditions {
				found = found || c.Type == corev1.DisruptionTarget && c.Status == corev1.ConditionTrue && c.Reason == nodelifecycle.ReasonDeletionByTaintManager
			}
			if !found {
				return fmt.Errorf("no DisruptionTarget condition: %+v", p.Status.Conditions)
			}
		}
		return nil
	})
	if d := time.Since(tainted); d < 500*time.Millisecond {
		t.Errorf("pod short evicted %v after the taint, want about 1 s", d)
	}
	testenv.Eventually(t, timeout, "pods marked not ready", func() error {
		for _, name := range []string{"forever", "defaults"} {
			_, p, err := evicted(cs, name)
			if err != nil || p == nil {
				return fmt.Errorf("pod %s: %v", name, err)
			}
			if podReady(p) != corev1.ConditionFalse {
				return fmt.Errorf("pod %s Ready %s", name, podReady(p))
			}
		}
		return nil
	})
	time.Sleep(2 * time.Second)
	for _, name := range []string{"forever", "defaults"} {
		if gone, _, err := evicted(cs, name); err != nil || gone {
			t.Errorf("pod %s evicted (%v, %v), want it kept", name, gone, err)
		}
	}

	// A renewed Lease alone does not clear the taints: the agent must
	// report Ready.
	a.start()
	time.Sleep(grace / 2)
	if n, err := getNode(cs, "node-1"); err != nil || !hasTaint(n, corev1.TaintNodeUnreachable, corev1.TaintEffectNoExecute) {
		t.Fatalf("taints cleared before the agent reported Ready: %v", err)
	}
	a.report(corev1.ConditionTrue)
	testenv.Eventually(t, timeout, "node-1 ready and untainted", func() error {
		n, err := getNode(cs, "node-1")
		if err != nil {
			return err
		}
		if r := readyCondition(n); r == nil || r.Status != corev1.ConditionTrue {
			return fmt.Errorf("Ready %+v", r)
		}
		if taints := controllerTaints(n); len(taints) > 0 {
			return fmt.Errorf("taints %v", taints)
		}
		return nil
	})
	// And it stays so while the Lease is renewed.
	time.Sleep(grace + 2*monitor)
	if n, err := getNode(cs, "node-1"); err != nil || len(controllerTaints(n)) > 0 || readyCondition(n).Status != corev1.ConditionTrue {
		t.Fatalf("node-1 after recovery: %v", err)
	}

	// An agent that reports NotReady gets the not-ready taints, removed
	// when it reports Ready again.
	b := newAgent(t, cs, "node-2")
	runningPod(t, cs, "on-node-2", "node-2")
	b.report(corev1.ConditionFalse)
	testenv.Eventually(t, timeout, "node-2 not-ready taints", func() error {
		n, err := getNode(cs, "node-2")
		if err != nil {
			return err
		}
		if !hasTaint(n, corev1.TaintNodeNotReady, corev1.TaintEffectNoExecute) || !hasTaint(n, corev1.TaintNodeNotReady, corev1.TaintEffectNoSchedule) ||
			hasTaint(n, corev1.TaintNodeUnreachable, corev1.TaintEffectNoExecute) {
			return fmt.Errorf("taints %v", controllerTaints(n))
		}
		_, p, err := evicted(cs, "on-node-2")
		if err != nil || p == nil || podReady(p) != corev1.ConditionFalse {
			return fmt.Errorf("pod on-node-2: %v (%v)", p, err)
		}
		return nil
	})
	b.report(corev1.ConditionTrue)
	testenv.Eventually(t, timeout, "node-2 untainted", func() error {
		n, err := getNode(cs, "node-2")
		if err != nil {
			return err
		}
		if taints := controllerTaints(n); len(taints) > 0 {
			return fmt.Errorf("taints %v", taints)
		}
		return nil
	})
	if gone, _, err := evicted(cs, "on-node-2"); err != nil || gone {
		t.Errorf("pod on-node-2 evicted (%v, %v) within its 300 s toleration", gone, err)
	}
}
