package fakekubelet

import (
	"context"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/berth-dev/berth/internal/controller"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
)

// NeverReadyAnnotation ("true") on a pod keeps it Running but not Ready.
const NeverReadyAnnotation = "fakekubelet.berth.io/never-ready"

// ExitCodeAnnotation on a pod (or its template) makes its containers exit
// with that code when the pod's restartPolicy is not Always.
const ExitCodeAnnotation = "fakekubelet.berth.io/exit-code"

// RunForAnnotation on a pod (a Go duration) overrides Config.RunFor for it.
const RunForAnnotation = "fakekubelet.berth.io/run-for"

// Config configures a fake kubelet.
type Config struct {
	// Client talks to the API server.
	Client kubernetes.Interface
	// Nodes are the node names to register (default: one node "fake-node-0").
	Nodes []string
	// Bind assigns unscheduled pods to the nodes round-robin (no scheduler).
	Bind bool
	// StartDelay is how long a bound pod stays Pending before it runs.
	StartDelay time.Duration
	// RunFor is how long a pod with restartPolicy Never/OnFailure runs.
	RunFor time.Duration
	// Allocatable is each node's capacity and allocatable (default: 64
	// cpu, 256Gi memory, 1000 pods).
	Allocatable corev1.ResourceList
	// Logger receives logs (default: discard).
	Logger *slog.Logger
}

// Kubelet is a running fake kubelet.
type Kubelet struct {
	cfg    Config
	lister corelisters.PodLister
	queue  *controller.Queue
	nextIP atomic.Uint32
	rr     atomic.Uint32
	nodes  map[string]bool
	// seen and started remember when a pod was first seen bound and when
	// it started running (API timestamps have only second precision).
	mu      sync.Mutex
	seen    map[types.UID]time.Time
	started map[types.UID]time.Time
}

// Run registers the nodes and serves pods until ctx is done.
func Run(ctx context.Context, cfg Config) error {
	if len(cfg.Nodes) == 0 {
		cfg.Nodes = []string{"fake-node-0"}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	k := &Kubelet{cfg: cfg, nodes: map[string]bool{}, seen: map[types.UID]time.Time{}, started: map[types.UID]time.Time{}}
	for _, n := range cfg.Nodes {
		k.nodes[n] = true
		if err := k.registerNode(ctx, n); err != nil {
			return err
		}
	}
	hbDone := make(chan struct{})
	go func() { defer close(hbDone); k.heartbeat(ctx) }()
	defer func() { <-hbDone }()
	factory := informers.NewSharedInformerFactory(cfg.Client, 0)
	podInf := factory.Core().V1().Pods()
	k.lister = podInf.Lister()
	k.queue = controller.NewQueue("fakekubelet", cfg.Logger, k.reconcile)
	if _, err := podInf.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    k.queue.Enqueue,
		UpdateFunc: func(_, o any) { k.queue.Enqueue(o) },
	}); err != nil {
		return err
	}
	factory.Start(ctx.Done())
	defer factory.Shutdown()
	factory.WaitForCacheSync(ctx.Done())
	k.queue.Run(ctx, 4)
	return nil
}

func (k *Kubelet) registerNode(ctx context.Context, name string) error {
	alloc := k.cfg.Allocatable
	if alloc == nil {
		alloc = corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("64"), corev1.ResourceMemory: resource.MustParse("256Gi"), corev1.ResourcePods: resource.MustParse("1000")}
	}
	node := &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{corev1.LabelHostname: name, corev1.LabelOSStable: "linux"}},
		Status: corev1.NodeStatus{
			Capacity:    alloc.DeepCopy(),
			Allocatable: alloc.DeepCopy(),
			Conditions: []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionTrue, Reason: "FakeKubeletReady",
				LastHeartbeatTime: metav1.Now(), LastTransitionTime: metav1.Now()}},
			NodeInfo: corev1.NodeSystemInfo{KubeletVersion: "fake", OperatingSystem: "linux", Architecture: "amd64"},
		},
	}
	_, err := k.cfg.Client.CoreV1().Nodes().Create(ctx, node, metav1.CreateOptions{})
	if err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("fakekubelet: register node %s: %w", name, err)
	}
	return nil
}

func (k *Kubelet) reconcile(ctx context.Context, key string) error {
	ns, name, _ := cache.SplitMetaNamespaceKey(key)
	pod, err := k.lister.Pods(ns).Get(name)
	if apierrors.IsNotFound(err) {
		k.cfg.Logger.Debug("fakekubelet: pod gone", "pod", key)
		return nil
	}
	if err != nil {
		return err
	}
	pods := k.cfg.Client.CoreV1().Pods(ns)
	switch {
	case pod.DeletionTimestamp != nil:
		if pod.Spec.NodeName == "" || k.nodes[pod.Spec.NodeName] {
			zero := int64(0)
			err := pods.Delete(ctx, name, metav1.DeleteOptions{GracePeriodSeconds: &zero, Preconditions: &metav1.Preconditions{UID: &pod.UID}})
			if apierrors.IsNotFound(err) || apierrors.IsConflict(err) {
				return nil
			}
			return err
		}
	case pod.Spec.NodeName == "":
		if !k.cfg.Bind {
			return nil
		}
		node := k.cfg.Nodes[int(k.rr.Add(1))%len(k.cfg.Nodes)]
		err := pods.Bind(ctx, &corev1.Binding{ObjectMeta: metav1.ObjectMeta{Name: name, UID: pod.UID}, Target: corev1.ObjectReference{Kind: "Node", Name: node}}, metav1.CreateOptions{})
		k.cfg.Logger.Debug("fakekubelet: bind", "pod", key, "node", node, "err", err)
		if apierrors.IsConflict(err) || apierrors.IsNotFound(err) {
			return nil
		}
		return err
	case !k.nodes[pod.Spec.NodeName]:
		return nil
	case pod.Status.Phase == corev1.PodPending || pod.Status.Phase == "":
		if wait := time.Until(k.firstSeen(k.seen, pod.UID).Add(k.cfg.StartDelay)); wait > 0 {
			return controller.RequeueAfter{Delay: wait}
		}
		k.firstSeen(k.started, pod.UID)
		return k.setStatus(ctx, pod, running(pod, k.ip()))
	case pod.Status.Phase == corev1.PodRunning && pod.Spec.RestartPolicy != corev1.RestartPolicyAlways:
		runFor := k.cfg.RunFor
		if d, err := time.ParseDuration(pod.Annotations[RunForAnnotation]); err == nil {
			runFor = d
		}
		if wait := time.Until(k.firstSeen(k.started, pod.UID).Add(runFor)); wait > 0 {
			return controller.RequeueAfter{Delay: wait}
		}
		return k.setStatus(ctx, pod, finished(pod))
	}
	return nil
}

// firstSeen returns when uid was first recorded in m, recording now if not.
func (k *Kubelet) firstSeen(m map[types.UID]time.Time, uid types.UID) time.Time {
	k.mu.Lock()
	defer k.mu.Unlock()
	t, ok := m[uid]
	if !ok {
		t = time.Now()
		m[uid] = t
	}
	return t
}

func (k *Kubelet) setStatus(ctx context.Context, pod *corev1.Pod, st corev1.PodStatus) error {
	p := pod.DeepCopy()
	p.Status = st
	_, err := k.cfg.Client.CoreV1().Pods(p.Namespace).UpdateStatus(ctx, p, metav1.UpdateOptions{})
	if apierrors.IsConflict(err) || apierrors.IsNotFound(err) {
		return nil // a newer version is on its way through the informer
	}
	return err
}

func (k *Kubelet) ip() string {
	n := k.nextIP.Add(1)
	return fmt.Sprintf("10.42.%d.%d", (n>>8)&0xff, n&0xff)
}

func running(pod *corev1.Pod, ip string) corev1.PodStatus {
	now := metav1.Now()
	st := corev1.PodStatus{Phase: corev1.PodRunning, PodIP: ip, PodIPs: []corev1.PodIP{{IP: ip}}, HostIP: "127.0.0.1", StartTime: &now, QOSClass: pod.Status.QOSClass}
	ready := pod.Annotations[NeverReadyAnnotation] != "true"
	readyStatus := corev1.ConditionTrue
	if !ready {
		readyStatus = corev1.ConditionFalse
	}
	for _, t := range []corev1.PodConditionType{corev1.PodScheduled, corev1.PodInitialized, corev1.ContainersReady, corev1.PodReady} {
		c := corev1.PodCondition{Type: t, Status: corev1.ConditionTrue, LastTransitionTime: now}
		if t == corev1.ContainersReady || t == corev1.PodReady {
			c.Status = readyStatus
		}
		st.Conditions = append(st.Conditions, c)
	}
	for _, c := range pod.Spec.Containers {
		st.ContainerStatuses = append(st.ContainerStatuses, corev1.ContainerStatus{
			Name: c.Name, Image: c.Image, ImageID: "fake://" + c.Image, ContainerID: "fake://" + string(pod.UID) + "/" + c.Name,
			Ready: ready, Started: ptr(true), State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: now}},
		})
	}
	return st
}

func finished(pod *corev1.Pod) corev1.PodStatus {
	code := int32(0)
	if v, err := strconv.Atoi(pod.Annotations[ExitCodeAnnotation]); err == nil {
		code = int32(v)
	}
	st := *pod.Status.DeepCopy()
	reason := "Completed"
	st.Phase = corev1.PodSucceeded
	if code != 0 {
		st.Phase, reason = corev1.PodFailed, "Error"
	}
	now := metav1.Now()
	for i := range st.Conditions {
		if st.Conditions[i].Type == corev1.PodReady || st.Conditions[i].Type == corev1.ContainersReady {
			st.Conditions[i].Status, st.Conditions[i].Reason, st.Conditions[i].LastTransitionTime = corev1.ConditionFalse, "PodCompleted", now
		}
	}
	for i := range st.ContainerStatuses {
		cs := &st.ContainerStatuses[i]
		var started metav1.Time
		if cs.State.Running != nil {
			started = cs.State.Running.StartedAt
		}
		cs.Ready, cs.Started = false, ptr(false)
		cs.State = corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: code, Reason: reason, StartedAt: started, FinishedAt: now, ContainerID: cs.ContainerID}}
	}
	return st
}

func ptr[T any](v T) *T { return &v }

// heartbeat renews a Lease in kube-node-lease for every node every 10 s,
// as a kubelet does, so the node lifecycle controller keeps them Ready.
func (k *Kubelet) heartbeat(ctx context.Context) {
	renew := func() {
		leases := k.cfg.Client.CoordinationV1().Leases(corev1.NamespaceNodeLease)
		for _, n := range k.cfg.Nodes {
			now := metav1.NewMicroTime(time.Now())
			secs := int32(40)
			l, err := leases.Get(ctx, n, metav1.GetOptions{})
			if apierrors.IsNotFound(err) {
				name := n
				_, err = leases.Create(ctx, &coordinationv1.Lease{ObjectMeta: metav1.ObjectMeta{Name: n, Namespace: corev1.NamespaceNodeLease},
					Spec: coordinationv1.LeaseSpec{HolderIdentity: &name, LeaseDurationSeconds: &secs, RenewTime: &now}}, metav1.CreateOptions{})
			} else if err == nil {
				l.Spec.RenewTime = &now
				_, err = leases.Update(ctx, l, metav1.UpdateOptions{})
			}
			if err != nil && ctx.Err() == nil {
				k.cfg.Logger.Debug("fakekubelet: lease", "node", n, "err", err)
			}
		}
	}
	t := time.NewTicker(10 * time.Second)
	defer t.Stop()
	for {
		renew()
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
