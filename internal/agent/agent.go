package agent

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/berth-dev/berth/internal/agent/runtime"
	"github.com/berth-dev/berth/internal/controller"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/record"
)

// Config configures an agent.
type Config struct {
	// Client talks to the API server with the node's credentials.
	Client kubernetes.Interface
	// NodeName is the Node this agent registers and serves.
	NodeName string
	// Driver runs the pods. If nil, NewDriver builds it once the node is
	// registered (a driver may need the node's podCIDR).
	Driver runtime.Driver
	// NewDriver builds the driver for the registered node; it returns why
	// pods will share the host network, if they will.
	NewDriver func(ctx context.Context, node *corev1.Node) (drv runtime.Driver, hostNetworkReason string, err error)
	// DriverName labels the node (default: Driver.Name()).
	DriverName string
	// DataDir holds pod volumes (DataDir/pods/<uid>/volumes).
	DataDir string
	// Reserved is subtracted from the capacity to give allocatable.
	Reserved corev1.ResourceList
	// MaxPods is the pod capacity (default 110).
	MaxPods int
	// Labels are extra node labels.
	Labels map[string]string
	// NodeIP overrides the detected InternalIP.
	NodeIP string
	// HostNetworkReason, when set, says why pods share the host network
	// (reported in the Ready condition and an event).
	HostNetworkReason string
	// StatusInterval is how often node conditions are refreshed (default 20s).
	StatusInterval time.Duration
	// Version is reported in the node info.
	Version string
	// Logger receives logs (default slog.Default).
	Logger *slog.Logger
}

// Agent is a running node agent.
type Agent struct {
	cfg         Config
	log         *slog.Logger
	ip          string
	capacity    corev1.ResourceList
	allocatable corev1.ResourceList
	src         objectSource
	recorder    record.EventRecorder
	pods        corelisters.PodLister
	queue       *controller.Queue

	mu    sync.Mutex
	state map[string]*podState // by namespace/name
	// bg tracks the container watchers.
	bg sync.WaitGroup
	// now is the clock (tests).
	now func() time.Time
}

// Run registers the node and serves its pods until ctx is done. Pods keep
// running when the agent stops.
func Run(ctx context.Context, cfg Config) error {
	if cfg.NodeName == "" {
		return errors.New("agent: node name is required")
	}
	if cfg.Driver == nil && cfg.NewDriver == nil {
		return errors.New("agent: a runtime driver is required")
	}
	if cfg.DriverName == "" && cfg.Driver != nil {
		cfg.DriverName = cfg.Driver.Name()
	}
	if cfg.MaxPods == 0 {
		cfg.MaxPods = 110
	}
	if cfg.StatusInterval == 0 {
		cfg.StatusInterval = 20 * time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.DataDir == "" {
		return errors.New("agent: data dir is required")
	}
	if err := os.MkdirAll(filepath.Join(cfg.DataDir, "pods"), 0o755); err != nil {
		return fmt.Errorf("agent: %w", err)
	}
	a := &Agent{cfg: cfg, log: cfg.Logger.With("component", "agent", "node", cfg.NodeName), src: apiSource{cfg.Client},
		state: map[string]*podState{}, now: time.Now}
	a.ip = cfg.NodeIP
	if a.ip == "" {
		a.ip = nodeIP()
	}
	a.capacity = capacity(cfg.DataDir, cfg.MaxPods)
	a.allocatable = allocatable(a.capacity, cfg.Reserved)
	if err := a.register(ctx); err != nil {
		if apierrors.IsUnauthorized(err) {
			return fmt.Errorf("agent: the server refused the node token (401 Unauthorized): check --token-file: %w", err)
		}
		return err
	}
	if a.cfg.Driver == nil {
		node, err := cfg.Client.CoreV1().Nodes().Get(ctx, cfg.NodeName, metav1.GetOptions{})
		if err != nil {
			return fmt.Errorf("agent: %w", err)
		}
		drv, reason, err := cfg.NewDriver(ctx, node)
		if err != nil {
			return fmt.Errorf("agent: driver: %w", err)
		}
		a.cfg.Driver = drv
		if reason != "" {
			a.cfg.HostNetworkReason = reason
		}
	}
	cfg = a.cfg
	broadcaster, recorder := controller.NewRecorder(cfg.Client, "berth-agent")
	defer broadcaster.Shutdown()
	a.recorder = recorder
	if cfg.HostNetworkReason != "" {
		ref := &corev1.ObjectReference{Kind: "Node", Name: cfg.NodeName, UID: "", APIVersion: "v1"}
		recorder.Eventf(ref, corev1.EventTypeWarning, "HostNetworkPods", "Pods on this node use the host network: %s", cfg.HostNetworkReason)
	}

	factory := informers.NewSharedInformerFactoryWithOptions(cfg.Client, 0, informers.WithTweakListOptions(func(o *metav1.ListOptions) {
		o.FieldSelector = fields.OneTermEqualSelector("spec.nodeName", cfg.NodeName).String()
	}))
	podInf := factory.Core().V1().Pods()
	a.pods = podInf.Lister()
	a.queue = controller.NewQueue("agent", a.log, a.sync)
	if _, err := podInf.Informer().AddEventHandler(a.queue.Handlers()); err != nil {
		return fmt.Errorf("agent: %w", err)
	}
	factory.Start(ctx.Done())
	defer factory.Shutdown()
	for typ, ok := range factory.WaitForCacheSync(ctx.Done()) {
		if !ok {
			return fmt.Errorf("agent: informer for %v did not sync", typ)
		}
	}
	if err := a.adopt(ctx); err != nil {
		a.log.Warn("re-adopting pods failed", "err", err)
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); a.heartbeat(ctx, cfg.StatusInterval) }()
	a.log.Info("agent serving pods", "driver", cfg.Driver.Name(), "hostNetworkReason", cfg.HostNetworkReason)
	a.queue.Run(ctx, 8)
	wg.Wait()
	a.bg.Wait()
	return nil
}
