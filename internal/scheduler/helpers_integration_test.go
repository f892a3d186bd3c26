package scheduler_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/berth-dev/berth/internal/controller"
	"github.com/berth-dev/berth/internal/scheduler"
	"github.com/berth-dev/berth/internal/testutil/fakekubelet"
	"github.com/berth-dev/berth/internal/testutil/testenv"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"
)

// testConfig is the default configuration with short back-offs, so that
// tests wait for policies rather than back-off timers.
func testConfig(t *testing.T, extra string) scheduler.Config {
	t.Helper()
	cfg, err := scheduler.ParseConfig([]byte(`
podInitialBackoff: 20ms
podMaxBackoff: 100ms
profiles:
- {schedulerName: default-scheduler, queue: priority}
- {schedulerName: fcfs, queue: fcfs}
- {schedulerName: sjf, queue: sjf, sjf: {agingFactor: 0.1}}
- {schedulerName: round-robin, queue: round-robin}
- {schedulerName: spread, queue: fcfs, placement: spread}
- {schedulerName: binpack, queue: fcfs, placement: bin-pack}
` + extra))
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// start runs the API server with the scheduler (and extra controllers) and,
// if kubelet is set, a fake kubelet.
func start(t *testing.T, cfg scheduler.Config, kubelet *fakekubelet.Config, extra ...controller.Factory) kubernetes.Interface {
	t.Helper()
	log := testenv.Logger()
	if kubelet != nil {
		kubelet.Logger = log
	}
	return testenv.Start(t, testenv.Options{Logger: log,
		Controllers: append([]controller.Factory{scheduler.Factory(cfg)}, extra...), Kubelet: kubelet}).Client
}

func resources(cpu, mem, pods string) corev1.ResourceList {
	rl := corev1.ResourceList{corev1.ResourceCPU: resource.MustParse(cpu), corev1.ResourcePods: resource.MustParse(pods)}
	if mem != "" {
		rl[corev1.ResourceMemory] = resource.MustParse(mem)
	}
	return rl
}

// readyNode is a Ready node with the given allocatable resources.
func readyNode(name string, alloc corev1.ResourceList, mods ...func(*corev1.Node)) *corev1.Node {
	n := &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{corev1.LabelHostname: name}},
		Status: corev1.NodeStatus{Capacity: alloc, Allocatable: alloc, Conditions: []corev1.NodeCondition{
			{Type: corev1.NodeReady, Status: corev1.ConditionTrue, LastHeartbeatTime: metav1.Now(), LastTransitionTime: metav1.Now()}}},
	}
	for _, m := range mods {
		m(n)
	}
	return n
}

func createNodes(t *testing.T, cs kubernetes.Interface, nodes ...*corev1.Node) {
	t.Helper()
	for _, n := range nodes {
		if _, err := cs.CoreV1().Nodes().Create(context.Background(), n, metav1.CreateOptions{}); err != nil {
			t.Fatalf("create node %s: %v", n.Name, err)
		}
	}
}

// waitSchedulerKnows blocks until the scheduler's cache has node (and so,
// informers delivering in order, every node created before it): a pod
// without requests pinned to it is bound, then deleted. Tests comparing
// placements across nodes need all of them known before their pods come.
func waitSchedulerKnows(t *testing.T, cs kubernetes.Interface, node, profile string) {
	t.Helper()
	ctx := context.Background()
	name := "canary-" + node
	p := newPod("default", name, profile, "0", func(p *corev1.Pod) {
		p.Spec.NodeSelector = map[string]string{corev1.LabelHostname: node}
	})
	if _, err := cs.CoreV1().Pods("default").Create(ctx, p, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, 20*time.Second, name+" bound", func() error {
		got, err := cs.CoreV1().Pods("default").Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		if got.Spec.NodeName != node {
			return fmt.Errorf("not bound yet")
		}
		return nil
	})
	zero := int64(0)
	if err := cs.CoreV1().Pods("default").Delete(ctx, name, metav1.DeleteOptions{GracePeriodSeconds: &zero}); err != nil {
		t.Fatal(err)
	}
}

// waitSchedulerSeesNoRoom blocks until the scheduler finds no node for a
// pod of profile (e.g. after a test cordoned its only node): canary pods
// are created until one is reported unschedulable (one that is still bound,
// before the scheduler saw the cordon, is deleted and replaced), then the
// last is deleted. Without it the scheduler may still bind a test's first
// pod to a node whose cordon it has not seen yet.
func waitSchedulerSeesNoRoom(t *testing.T, cs kubernetes.Interface, profile string) {
	t.Helper()
	ctx := context.Background()
	zero := int64(0)
	attempt := 0
	name := ""
	create := func() {
		attempt++
		name = fmt.Sprintf("canary-%s-%d", profile, attempt)
		if _, err := cs.CoreV1().Pods("default").Create(ctx, newPod("default", name, profile, "0"), metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	create()
	testenv.Eventually(t, 20*time.Second, "a canary pod of "+profile+" unschedulable", func() error {
		got, err := cs.CoreV1().Pods("default").Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		if got.Spec.NodeName != "" {
			// Bound before the scheduler saw the cordon: try again.
			if err := cs.CoreV1().Pods("default").Delete(ctx, name, metav1.DeleteOptions{GracePeriodSeconds: &zero}); err != nil {
				return err
			}
			create()
			return fmt.Errorf("bound to %s: the scheduler had not seen the cordon yet", got.Spec.NodeName)
		}
		for _, c := range got.Status.Conditions {
			if c.Type == corev1.PodScheduled && c.Status == corev1.ConditionFalse {
				return nil
			}
		}
		return fmt.Errorf("not tried yet")
	})
	if err := cs.CoreV1().Pods("default").Delete(ctx, name, metav1.DeleteOptions{GracePeriodSeconds: &zero}); err != nil {
		t.Fatal(err)
	}
}

// newPod is a bare pod for profile requesting cpu.
func newPod(ns, name, profile, cpu string, mods ...func(*corev1.Pod)) *corev1.Pod {
	p := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: corev1.PodSpec{SchedulerName: profile, Containers: []corev1.Container{{Name: "c", Image: "pause",
			Resources: corev1.ResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse(cpu)}}}}},
	}
	for _, m := range mods {
		m(p)
	}
	return p
}

func createPods(t *testing.T, cs kubernetes.Interface, pods ...*corev1.Pod) {
	t.Helper()
	for _, p := range pods {
		if _, err := cs.CoreV1().Pods(p.Namespace).Create(context.Background(), p, metav1.CreateOptions{}); err != nil {
			t.Fatalf("create pod %s/%s: %v", p.Namespace, p.Name, err)
		}
	}
}

func createNamespaces(t *testing.T, cs kubernetes.Interface, names ...string) {
	t.Helper()
	for _, n := range names {
		if _, err := cs.CoreV1().Namespaces().Create(context.Background(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: n}}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
}

func setUnschedulable(t *testing.T, cs kubernetes.Interface, node string, on bool) {
	t.Helper()
	patch := fmt.Sprintf(`{"spec":{"unschedulable":%v}}`, on)
	if _, err := cs.CoreV1().Nodes().Patch(context.Background(), node, "application/merge-patch+json", []byte(patch), metav1.PatchOptions{}); err != nil {
		t.Fatal(err)
	}
}

// binding is where and when a pod was first seen bound.
type binding struct {
	node string
	at   time.Time
}

// bindWatch records, from an informer, when each pod was first seen bound.
type bindWatch struct {
	mu    sync.Mutex
	binds map[string]binding // namespace/name
	order []string
	pods  map[string]*corev1.Pod
	// nominated records any nominatedNodeName a pod was seen with.
	nominated map[string]string
}

func watchBinds(t *testing.T, cs kubernetes.Interface) *bindWatch {
	t.Helper()
	w := &bindWatch{binds: map[string]binding{}, pods: map[string]*corev1.Pod{}, nominated: map[string]string{}}
	f := informers.NewSharedInformerFactory(cs, 0)
	inf := f.Core().V1().Pods().Informer()
	record := func(obj any) {
		p, ok := obj.(*corev1.Pod)
		if !ok {
			return
		}
		key := p.Namespace + "/" + p.Name
		w.mu.Lock()
		defer w.mu.Unlock()
		w.pods[key] = p
		if p.Status.NominatedNodeName != "" {
			w.nominated[key] = p.Status.NominatedNodeName
		}
		if _, seen := w.binds[key]; !seen && p.Spec.NodeName != "" {
			w.binds[key] = binding{node: p.Spec.NodeName, at: time.Now()}
			w.order = append(w.order, key)
		}
	}
	if _, err := inf.AddEventHandler(cache.ResourceEventHandlerFuncs{AddFunc: record, UpdateFunc: func(_, o any) { record(o) }}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	f.Start(ctx.Done())
	f.WaitForCacheSync(ctx.Done())
	t.Cleanup(func() { cancel(); f.Shutdown() })
	return w
}

func (w *bindWatch) get(key string) (binding, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	b, ok := w.binds[key]
	return b, ok
}

func (w *bindWatch) count(pred func(key string, b binding) bool) int {
	w.mu.Lock()
	defer w.mu.Unlock()
	n := 0
	for k, b := range w.binds {
		if pred(k, b) {
			n++
		}
	}
	return n
}

// unschedulable counts pods with PodScheduled=False whose key passes pred.
func (w *bindWatch) unschedulable(pred func(key string) bool) int {
	w.mu.Lock()
	defer w.mu.Unlock()
	n := 0
	for k, p := range w.pods {
		if !pred(k) || p.Spec.NodeName != "" {
			continue
		}
		for _, c := range p.Status.Conditions {
			if c.Type == corev1.PodScheduled && c.Status == corev1.ConditionFalse {
				n++
			}
		}
	}
	return n
}
