package nodelifecycle

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/berth-dev/berth/internal/controller"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	coordinationlisters "k8s.io/client-go/listers/coordination/v1"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"
)

// Name is the controller's name in logs and the enable list.
const Name = "nodelifecycle"

// Defaults of Config, as in Kubernetes.
const (
	// DefaultGracePeriod is Config.GracePeriod's default.
	DefaultGracePeriod = 40 * time.Second
	// DefaultEvictionTimeout is Config.EvictionTimeout's default.
	DefaultEvictionTimeout = 300 * time.Second
	// DefaultMonitorPeriod is Config.MonitorPeriod's default.
	DefaultMonitorPeriod = 5 * time.Second
)

// staleRetry is how soon a write that lost a race with a newer version is
// retried.
const staleRetry = 200 * time.Millisecond

// nodeNameIndex indexes pods by spec.nodeName in the shared pod informer.
const nodeNameIndex = "nodelifecycle/spec.nodeName"

// Config tunes the controller; zero fields take the defaults.
type Config struct {
	// GracePeriod is how long a node may go without a heartbeat (a
	// renewal of its Lease in kube-node-lease or a new
	// lastHeartbeatTime of its Ready condition) before its conditions
	// become Unknown and it is tainted unreachable (default 40 s, as
	// Kubernetes' --node-monitor-grace-period).
	GracePeriod time.Duration
	// EvictionTimeout is Kubernetes' --pod-eviction-timeout (default
	// 300 s). As in Kubernetes with taint-based eviction it does not
	// time evictions: those follow the pods' tolerationSeconds, which the
	// API server defaults to 300 s for the not-ready and unreachable
	// taints (addDefaultTolerations). It is kept so configurations that
	// set it stay valid.
	EvictionTimeout time.Duration
	// MonitorPeriod is how often every node's health is re-checked
	// (default 5 s, as --node-monitor-period); a node whose heartbeat
	// expires earlier is checked at that moment.
	MonitorPeriod time.Duration
}

// withDefaults fills the zero fields of cfg.
func (cfg Config) withDefaults() Config {
	if cfg.GracePeriod <= 0 {
		cfg.GracePeriod = DefaultGracePeriod
	}
	if cfg.EvictionTimeout <= 0 {
		cfg.EvictionTimeout = DefaultEvictionTimeout
	}
	if cfg.MonitorPeriod <= 0 {
		cfg.MonitorPeriod = DefaultMonitorPeriod
	}
	return cfg
}

// Controller is the node lifecycle controller.
type Controller struct {
	cfg       Config
	client    kubernetes.Interface
	nodes     corelisters.NodeLister
	leases    coordinationlisters.LeaseLister
	pods      corelisters.PodLister
	podIndex  cache.Indexer
	recorder  record.EventRecorder
	log       *slog.Logger
	nodeQueue *controller.Queue // node names: health, conditions, taints
	podQueue  *controller.Queue // pod keys: NoExecute evictions
	now       func() time.Time

	mu         sync.Mutex
	health     map[string]*nodeHealth
	taintsSeen map[string]map[taintID]time.Time // node → NoExecute taint → first seen
	marked     map[string]readyState            // node → not-ready state whose pods were marked not ready
	evicted    map[types.UID]bool               // pods deleted, until the informer shows it
}

// nodeHealth is the last heartbeat seen of a node, and when (by the
// controller's clock) it changed: timestamps written by the node are
// only compared with each other, never with the controller's clock.
type nodeHealth struct {
	renew     time.Time // the Lease's renewTime
	heartbeat time.Time // the Ready condition's lastHeartbeatTime
	probeAt   time.Time // when either last changed
}

// taintID identifies a taint on a node.
type taintID struct {
	key, value string
	effect     corev1.TaintEffect
}

// readyState is a Ready condition's status and transition time.
type readyState struct {
	status corev1.ConditionStatus
	since  time.Time
}

// New is the controller.Factory of the node lifecycle controller with the
// default Config.
func New(cctx *controller.Context) (controller.Controller, error) {
	return NewWithConfig(Config{})(cctx)
}

// NewWithConfig returns the factory of a node lifecycle controller with
// cfg.
func NewWithConfig(cfg Config) controller.Factory {
	cfg = cfg.withDefaults()
	return func(cctx *controller.Context) (controller.Controller, error) {
		nodeInf := cctx.Informers.Core().V1().Nodes()
		podInf := cctx.Informers.Core().V1().Pods()
		leaseInf := cctx.Informers.Coordination().V1().Leases()
		c := &Controller{
			cfg:        cfg,
			client:     cctx.Client,
			nodes:      nodeInf.Lister(),
			leases:     leaseInf.Lister(),
			pods:       podInf.Lister(),
			podIndex:   podInf.Informer().GetIndexer(),
			recorder:   cctx.Recorder,
			log:        cctx.Logger.With("controller", Name),
			now:        time.Now,
			health:     map[string]*nodeHealth{},
			taintsSeen: map[string]map[taintID]time.Time{},
			marked:     map[string]readyState{},
			evicted:    map[types.UID]bool{},
		}
		c.nodeQueue = controller.NewQueue(Name, cctx.Logger, c.reconcileNode)
		c.podQueue = controller.NewQueue(Name+"-eviction", cctx.Logger, c.reconcilePod)
		if err := podInf.Informer().AddIndexers(cache.Indexers{nodeNameIndex: func(obj any) ([]string, error) {
			if p, ok := obj.(*corev1.Pod); ok && p.Spec.NodeName != "" {
				return []string{p.Spec.NodeName}, nil
			}
			return nil, nil
		}}); err != nil {
			return nil, fmt.Errorf("nodelifecycle: pod index: %w", err)
		}
		if _, err := nodeInf.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
			AddFunc:    func(obj any) { c.nodeChanged(nil, obj) },
			UpdateFunc: c.nodeChanged,
			DeleteFunc: c.nodeDeleted,
		}); err != nil {
			return nil, fmt.Errorf("nodelifecycle: node handler: %w", err)
		}
		if _, err := leaseInf.Informer().AddEventHandler(controller.ChangeHandlers(c.leaseChanged, c.leaseChanged)); err != nil {
			return nil, fmt.Errorf("nodelifecycle: lease handler: %w", err)
		}
		if _, err := podInf.Informer().AddEventHandler(controller.ChangeHandlers(c.podChanged, c.podDeleted)); err != nil {
			return nil, fmt.Errorf("nodelifecycle: pod handler: %w", err)
		}
		return c, nil
	}
}

// Name implements controller.Controller.
func (c *Controller) Name() string { return Name }

// Run monitors nodes and evicts pods until ctx is done.
func (c *Controller) Run(ctx context.Context, workers int) {
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		c.nodeQueue.Run(ctx, workers)
	}()
	go func() {
		defer wg.Done()
		c.podQueue.Run(ctx, workers)
	}()
	wg.Wait()
}

// nodeChanged records when the node's NoExecute taints appeared, queues
// the node, and queues its pods when those taints changed.
func (c *Controller) nodeChanged(_, obj any) {
	n, ok := obj.(*corev1.Node)
	if !ok {
		return
	}
	c.nodeQueue.Add(n.Name)
	if c.observeTaints(n) {
		c.enqueuePodsOn(n.Name)
	}
}

// nodeDeleted forgets the node.
func (c *Controller) nodeDeleted(obj any) {
	if t, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = t.Obj
	}
	n, ok := obj.(*corev1.Node)
	if !ok {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.health, n.Name)
	delete(c.taintsSeen, n.Name)
	delete(c.marked, n.Name)
}

// leaseChanged queues the node of a node Lease.
func (c *Controller) leaseChanged(obj any) {
	if t, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = t.Obj
	}
	if l, ok := obj.(*coordinationv1.Lease); ok && l.Namespace == corev1.NamespaceNodeLease {
		c.nodeQueue.Add(l.Name)
	}
}

// taintStrings renders taints for logs.
func taintStrings(taints []corev1.Taint) []string {
	out := make([]string, len(taints))
	for i := range taints {
		out[i] = taints[i].ToString()
	}
	return out
}

// ignoreNotFound returns nil for a NotFound error, else err wrapped.
func ignoreNotFound(err error, what string) error {
	if err == nil || apierrors.IsNotFound(err) {
		return nil
	}
	return fmt.Errorf("nodelifecycle: %s: %w", what, err)
}

// writeError maps the error of a write: nil and NotFound (the object is
// gone) to nil, a conflict (a stale cache) to a quick retry, anything else
// to the wrapped error.
func writeError(err error, what string) error {
	switch {
	case err == nil || apierrors.IsNotFound(err):
		return nil
	case apierrors.IsConflict(err):
		return controller.RequeueAfter{Delay: staleRetry}
	}
	return fmt.Errorf("nodelifecycle: %s: %w", what, err)
}
