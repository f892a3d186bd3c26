package controller

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/uuid"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/leaderelection"
	"k8s.io/client-go/tools/leaderelection/resourcelock"
)

// Controller is one control loop.
type Controller interface {
	// Name identifies the controller in logs and the enable list.
	Name() string
	// Run reconciles until ctx is done. The informers it registered at
	// construction are started and synced before Run is called.
	Run(ctx context.Context, workers int)
}

// Factory builds a controller from the shared Context.
type Factory func(*Context) (Controller, error)

// ManagerConfig configures the controller manager.
type ManagerConfig struct {
	// Client is the clientset controllers use.
	Client kubernetes.Interface
	// RestConfig is Client's configuration (Context.RestConfig).
	RestConfig *rest.Config
	// Factories build the controllers to run.
	Factories []Factory
	// Workers per controller (default 4).
	Workers int
	// Identity names this process in the leader Lease (default hostname+uuid).
	Identity string
	// LeaseNamespace and LeaseName locate the leader Lease
	// (default kube-system/berth-controller-manager).
	LeaseNamespace, LeaseName string
	// LeaseDuration, RenewDeadline and RetryPeriod tune leader election
	// (defaults 10 s, 7 s, 1 s: a crashed leader is replaced within ~11 s; one
	// that stops cleanly releases the Lease at once).
	LeaseDuration, RenewDeadline, RetryPeriod time.Duration
	// Logger receives the controllers' logs.
	Logger *slog.Logger
	// Metrics registers the controllers' metrics (nil: a private registry).
	Metrics prometheus.Registerer
}

// RunManager runs the controllers while this process holds the leader
// Lease, until ctx is done. Losing the Lease stops the controllers; the
// process then competes for it again.
func RunManager(ctx context.Context, cfg ManagerConfig) error {
	if cfg.Workers <= 0 {
		cfg.Workers = 4
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Identity == "" {
		host, _ := os.Hostname()
		cfg.Identity = host + "-" + string(uuid.NewUUID())
	}
	if cfg.LeaseNamespace == "" {
		cfg.LeaseNamespace = metav1.NamespaceSystem
	}
	if cfg.LeaseName == "" {
		cfg.LeaseName = "berth-controller-manager"
	}
	if cfg.LeaseDuration == 0 {
		cfg.LeaseDuration, cfg.RenewDeadline, cfg.RetryPeriod = 10*time.Second, 7*time.Second, time.Second
	}
	lock := &resourcelock.LeaseLock{
		LeaseMeta:  metav1.ObjectMeta{Namespace: cfg.LeaseNamespace, Name: cfg.LeaseName},
		Client:     cfg.Client.CoordinationV1(),
		LockConfig: resourcelock.ResourceLockConfig{Identity: cfg.Identity},
	}
	log := cfg.Logger.With("component", "controller-manager", "identity", cfg.Identity)
	for ctx.Err() == nil {
		le, err := leaderelection.NewLeaderElector(leaderelection.LeaderElectionConfig{
			Lock:            lock,
			LeaseDuration:   cfg.LeaseDuration,
			RenewDeadline:   cfg.RenewDeadline,
			RetryPeriod:     cfg.RetryPeriod,
			ReleaseOnCancel: true,
			Name:            cfg.LeaseName,
			Callbacks: leaderelection.LeaderCallbacks{
				OnStartedLeading: func(lctx context.Context) {
					log.Info("became leader; starting controllers")
					if err := runControllers(lctx, cfg, log); err != nil {
						log.Error("controllers stopped", "err", err)
					}
				},
				OnStoppedLeading: func() { log.Info("stopped leading") },
			},
		})
		if err != nil {
			return fmt.Errorf("controller: leader election: %w", err)
		}
		le.Run(ctx)
	}
	return nil
}

// runControllers builds every controller, starts the shared informers and
// runs the controllers until ctx is done.
func runControllers(ctx context.Context, cfg ManagerConfig, log *slog.Logger) error {
	factory := informers.NewSharedInformerFactory(cfg.Client, 0)
	broadcaster, recorder := NewRecorder(cfg.Client, "berth-controller-manager")
	defer broadcaster.Shutdown()
	reg := cfg.Metrics
	if reg == nil {
		reg = prometheus.NewRegistry()
	}
	cctx := &Context{Client: cfg.Client, RestConfig: cfg.RestConfig, Informers: factory, Recorder: recorder, Logger: log, Workers: cfg.Workers, Metrics: reg}
	var ctrls []Controller
	for _, f := range cfg.Factories {
		c, err := f(cctx)
		if err != nil {
			return fmt.Errorf("controller: build: %w", err)
		}
		ctrls = append(ctrls, c)
	}
	factory.Start(ctx.Done())
	defer factory.Shutdown()
	for typ, ok := range factory.WaitForCacheSync(ctx.Done()) {
		if !ok {
			return fmt.Errorf("controller: informer for %v did not sync", typ)
		}
	}
	var wg sync.WaitGroup
	for _, c := range ctrls {
		wg.Add(1)
		go func(c Controller) {
			defer wg.Done()
			log.Info("controller started", "controller", c.Name())
			c.Run(ctx, cfg.Workers)
		}(c)
	}
	wg.Wait()
	return nil
}
