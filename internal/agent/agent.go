package agent

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/berth-dev/berth/internal/agent/endpoint"
	"github.com/berth-dev/berth/internal/agent/runtime"
	"github.com/berth-dev/berth/internal/controller"
	"github.com/berth-dev/berth/internal/nodeapi"
	"github.com/berth-dev/berth/internal/pki"
	"github.com/berth-dev/berth/internal/proxy"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
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
	// DrainOnExit makes the agent, when ctx ends, cordon its node, delete
	// its pods through the API (their controllers replace them elsewhere),
	// stop their containers gracefully and wait until they are gone
	// before Run returns (see drain.go); otherwise pods keep running.
	DrainOnExit bool
	// EndpointAddr is where the agent's HTTPS endpoint (logs, exec,
	// metrics for the API server) listens, e.g. ":10250" (port 0: any
	// free port); empty runs none.
	EndpointAddr string
	// CAPEM is the cluster CA: the endpoint admits only the API server's
	// client certificate signed by it. Required with EndpointAddr.
	CAPEM []byte
	// StatsInterval is how often resource usage is read (default 15s).
	StatsInterval time.Duration
	// Services, when set, runs the service proxy and cluster DNS.
	Services *ServicesConfig
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
	// views are the pods as the endpoint sees them (see publish).
	views map[string]podView
	// stats holds the latest resource usage.
	stats *statsCollector
	// svc is the service proxy and DNS (nil: off).
	svc *services
	// resolvConfs is the set of resolv.conf files known to be written
	// (see resolvConfFile).
	resolvConfs sync.Map
	// proxy is the running service proxy (nil: none yet, or off); the
	// endpoint reads its counts.
	proxy atomic.Pointer[proxy.Proxier]
	// pulls is the image pull back-off.
	pulls pullBackoff
	// metrics holds the agent's Prometheus metrics (served on the
	// endpoint's /metrics, reached through the API server).
	metrics *prometheus.Registry
	// port is the endpoint's port (0: none) and certFP its certificate's
	// fingerprint, published on the Node.
	port   int
	certFP string
	// bg tracks the container watchers.
	bg sync.WaitGroup
	// now is the clock (tests).
	now func() time.Time
}

// syncWorkers is how many pods the agent syncs at once. A pod's start
// waits on the kernel (the CNI plugins' network changes serialize on one
// lock) as much as it uses CPU, so more workers than cores keep the CPU
// busy in a burst: 32 instead of 8 took berth bench pods' p99 down by ~10 %
// (better in 8 of 11 paired runs) and its median up by ~25 %, as more pods
// share the CPU at once. The kubelet goes further: a goroutine per pod.
const syncWorkers = 32

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
	if cfg.StatsInterval == 0 {
		cfg.StatsInterval = 15 * time.Second
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
		state: map[string]*podState{}, views: map[string]podView{}, now: time.Now,
		stats: newStatsCollector(readHostUsage), metrics: prometheus.NewRegistry()}
	a.ip = cfg.NodeIP
	if a.ip == "" {
		a.ip = nodeIP()
	}
	a.capacity = capacity(cfg.DataDir, cfg.MaxPods)
	a.allocatable = allocatable(a.capacity, cfg.Reserved)
	var ep *endpoint.Server
	if cfg.EndpointAddr != "" {
		cert, err := pki.SelfSigned(cfg.NodeName, []string{a.ip, cfg.NodeName, "localhost", "127.0.0.1"})
		if err != nil {
			return fmt.Errorf("agent: %w", err)
		}
		if ep, err = endpoint.Listen(cfg.EndpointAddr, endpoint.Config{Backend: a, CAPEM: cfg.CAPEM, Certificate: cert, Logger: a.log,
			Metrics: promhttp.HandlerFor(a.metrics, promhttp.HandlerOpts{})}); err != nil {
			return fmt.Errorf("agent: %w", err)
		}
		a.port, a.certFP = ep.Port(), nodeapi.CertFingerprint(cert.Certificate[0])
	}
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
		if err := a.labelPodNetwork(ctx); err != nil {
			return err
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
	wg.Add(2)
	go func() { defer wg.Done(); a.heartbeat(ctx, cfg.StatusInterval) }()
	go func() { defer wg.Done(); a.collectStats(ctx, cfg.StatsInterval) }()
	if ep != nil {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := ep.Serve(ctx); err != nil {
				a.log.Error("agent endpoint stopped", "err", err)
			}
		}()
	}
	if cfg.Services != nil {
		if err := a.startServices(ctx, &wg, cfg.Services); err != nil {
			a.log.Error("service proxy and cluster DNS not started", "err", err)
		}
	}
	a.log.Info("agent serving pods", "driver", cfg.Driver.Name(), "hostNetworkReason", cfg.HostNetworkReason)
	a.queue.Run(ctx, syncWorkers)
	wg.Wait()
	a.bg.Wait()
	if cfg.DrainOnExit {
		return a.drainOnExit(ctx)
	}
	return nil
}
