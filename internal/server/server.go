package server

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"github.com/prometheus/client_golang/prometheus"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/berth-dev/berth/internal/apiserver"
	"github.com/berth-dev/berth/internal/apiserver/registry"
	"github.com/berth-dev/berth/internal/controller"
	"github.com/berth-dev/berth/internal/controller/nodeipam"
	"github.com/berth-dev/berth/internal/controller/nodelifecycle"
	"github.com/berth-dev/berth/internal/pki"
	"github.com/berth-dev/berth/internal/scheduler"
	"github.com/berth-dev/berth/internal/store"
	clientv3 "go.etcd.io/etcd/client/v3"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
)

// Server is a running control plane.
type Server struct {
	cfg        Config
	log        *slog.Logger
	url        string
	adminToken string
	caPEM      []byte
	kubeconfig string

	etcd   *store.Embedded
	client *clientv3.Client
	http   *http.Server
	ready  atomic.Bool
	// metrics is the registry behind /metrics.
	metrics prometheus.Registerer
	// managerDone closes when the controller manager has stopped (and
	// released its Lease); nil when no controllers run.
	managerDone chan struct{}
	cancel      context.CancelFunc
	wg          sync.WaitGroup
	errc        chan error
	once        sync.Once
}

// Start brings up the control plane and returns once it serves and is ready.
func Start(ctx context.Context, cfg Config) (*Server, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	paths := PathsOf(cfg.DataDir)
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("server: data dir: %w", err)
	}
	s := &Server{cfg: cfg, log: cfg.Logger, errc: make(chan error, 2), kubeconfig: paths.Kubeconfig()}
	ok := false
	defer func() {
		if !ok {
			s.Close()
		}
	}()
	runCtx, cancel := context.WithCancel(context.Background())
	s.cancel = cancel

	endpoints := cfg.EtcdEndpoints
	if len(endpoints) == 0 {
		s.etcd, err = store.StartEmbedded(ctx, store.EmbeddedConfig{DataDir: paths.Etcd(), Logger: cfg.Logger})
		if err != nil {
			return nil, fmt.Errorf("server: start embedded etcd: %w", err)
		}
		// In-process calls: a third less server CPU per write than gRPC
		// over loopback (docs/benchmarks.md).
		s.client = s.etcd.Client()
	} else if s.client, err = store.NewClient(ctx, endpoints, 5*time.Second); err != nil {
		return nil, fmt.Errorf("server: connect to etcd %v: %w", endpoints, err)
	}
	st := store.New(s.client, store.Options{Prefix: "/registry/", Logger: cfg.Logger})

	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return nil, fmt.Errorf("server: listen on %s: %w", cfg.Listen, err)
	}
	host, port, _ := net.SplitHostPort(ln.Addr().String())
	clientHost := host
	if ip, err := netip.ParseAddr(host); err == nil && ip.IsUnspecified() {
		clientHost = "127.0.0.1"
	}
	s.url = "https://" + net.JoinHostPort(clientHost, port)

	sans := append([]string{"localhost", "127.0.0.1", clientHost}, cfg.ExtraSANs...)
	if h, err := os.Hostname(); err == nil {
		sans = append(sans, h)
	}
	bundle, err := pki.LoadOrCreate(paths.TLS(), sans)
	if err != nil {
		ln.Close()
		return nil, err
	}
	s.caPEM = bundle.CAPEM
	if s.adminToken, err = pki.LoadOrCreateToken(paths.AdminToken()); err != nil {
		ln.Close()
		return nil, err
	}
	nodeToken, err := pki.LoadOrCreateToken(paths.NodeToken())
	if err != nil {
		ln.Close()
		return nil, err
	}
	agentClient, err := pki.LoadOrCreateAgentClient(paths.TLS())
	if err != nil {
		ln.Close()
		return nil, err
	}
	resources := registry.AllWith(registry.Options{NotReadyTolerationSeconds: *cfg.DefaultNotReadyTolerationSeconds,
		UnreachableTolerationSeconds: *cfg.DefaultUnreachableTolerationSeconds})
	api, err := apiserver.New(apiserver.Config{
		Store:       st,
		Resources:   resources,
		Tokens:      map[string]string{s.adminToken: "admin", nodeToken: "node"},
		ServiceCIDR: netip.MustParsePrefix(cfg.ServiceCIDR),
		EventTTL:    cfg.EventTTL,
		Version:     cfg.Version,
		Logger:      cfg.Logger.With("component", "apiserver"),
		Ready:       s.ready.Load,
		// Agents serve with self-signed certificates; each is pinned to
		// the fingerprint its Node publishes.
		AgentTLS: &tls.Config{Certificates: []tls.Certificate{agentClient}, MinVersion: tls.VersionTLS12},
	})
	if err != nil {
		ln.Close()
		return nil, err
	}
	s.metrics = api.Registerer()
	s.http = &http.Server{
		Handler:           api.Handler(),
		ReadHeaderTimeout: 30 * time.Second,
		IdleTimeout:       5 * time.Minute,
		ErrorLog:          slog.NewLogLogger(cfg.Logger.Handler(), slog.LevelDebug),
		TLSConfig: &tls.Config{
			Certificates: []tls.Certificate{bundle.ServerCert},
			MinVersion:   tls.VersionTLS12,
			NextProtos:   []string{"h2", "http/1.1"},
		},
	}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		if err := s.http.ServeTLS(ln, "", ""); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.errc <- fmt.Errorf("server: serve: %w", err)
		}
	}()
	if err := retry(ctx, 30*time.Second, func() error { return api.Bootstrap(ctx) }); err != nil {
		return nil, err
	}
	if err := writeKubeconfig(s.kubeconfig, s.url, s.caPEM, s.adminToken); err != nil {
		return nil, err
	}
	s.wg.Add(2)
	go func() {
		defer s.wg.Done()
		st.RunCompactor(runCtx, cfg.CompactInterval)
	}()
	go func() {
		defer s.wg.Done()
		api.RunResourceMetrics(runCtx, cfg.MetricsInterval)
	}()
	if s.etcd != nil {
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			select {
			case err := <-s.etcd.Err():
				if err != nil {
					s.errc <- fmt.Errorf("server: embedded etcd: %w", err)
				}
			case <-runCtx.Done():
			}
		}()
	}
	if err := s.startControllers(runCtx); err != nil {
		return nil, err
	}
	s.ready.Store(true)
	ok = true
	s.log.Info("control plane ready", "url", s.url, "kubeconfig", s.kubeconfig, "dataDir", cfg.DataDir)
	return s, nil
}

// retry calls f until it succeeds or the timeout passes (etcd may still be
// electing a leader right after start).
func retry(ctx context.Context, timeout time.Duration, f func() error) error {
	deadline := time.Now().Add(timeout)
	for {
		err := f()
		if err == nil || time.Now().After(deadline) {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// URL is the HTTPS base URL clients use.
func (s *Server) URL() string { return s.url }

// AdminToken is the admin bearer token.
func (s *Server) AdminToken() string { return s.adminToken }

// CAPEM is the PEM-encoded cluster CA.
func (s *Server) CAPEM() []byte { return s.caPEM }

// KubeconfigPath is the admin kubeconfig's path.
func (s *Server) KubeconfigPath() string { return s.kubeconfig }

// Err reports fatal errors of the running server.
func (s *Server) Err() <-chan error { return s.errc }

// Close stops serving, stops etcd if embedded, and waits for every
// goroutine it started.
func (s *Server) Close() {
	s.once.Do(func() {
		s.ready.Store(false)
		if s.cancel != nil {
			s.cancel() // controllers stop and release their Lease first
		}
		if s.managerDone != nil {
			select {
			case <-s.managerDone:
			case <-time.After(5 * time.Second):
				s.log.Warn("controller manager did not stop in time")
			}
		}
		if s.http != nil {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			_ = s.http.Shutdown(ctx)
			cancel()
			_ = s.http.Close()
		}
		if s.cancel != nil {
			s.cancel()
		}
		if s.client != nil {
			_ = s.client.Close()
		}
		if s.etcd != nil {
			s.etcd.Close()
		}
		s.wg.Wait()
	})
}

// CompactNow compacts etcd history up to the current revision and returns
// that revision; watches and lists at older revisions then get 410 Gone.
func (s *Server) CompactNow(ctx context.Context) (int64, error) {
	st := store.New(s.client, store.Options{Prefix: "/registry/", Logger: s.log})
	rev, err := st.CurrentRevision(ctx)
	if err != nil {
		return 0, err
	}
	return rev, st.Compact(ctx, rev)
}

// RestConfig returns a client configuration for the admin user.
func (s *Server) RestConfig() *rest.Config {
	return &rest.Config{
		Host:            s.url,
		BearerToken:     s.adminToken,
		TLSClientConfig: rest.TLSClientConfig{CAData: s.caPEM},
		QPS:             500,
		Burst:           1000,
	}
}

// startControllers runs the controller manager (leader-elected) in the
// background until runCtx is done.
func (s *Server) startControllers(runCtx context.Context) error {
	factories := s.cfg.Controllers
	if factories == nil {
		factories = append(DefaultControllers(),
			nodeipam.NewWithCIDR(s.cfg.ClusterCIDR, s.cfg.NodeCIDRMaskSize),
			nodelifecycle.NewWithConfig(nodelifecycle.Config{GracePeriod: s.cfg.NodeMonitorGracePeriod}),
			scheduler.Factory(*s.cfg.Scheduler))
	}
	if s.cfg.NoControllers || len(factories) == 0 {
		return nil
	}
	rc := s.RestConfig()
	rc.UserAgent = "berth-controller-manager"
	rc.QPS, rc.Burst = 5000, 10000 // loopback: the server, not the client, is the limit
	client, err := kubernetes.NewForConfig(rc)
	if err != nil {
		return fmt.Errorf("server: controller client: %w", err)
	}
	s.managerDone = make(chan struct{})
	go func() {
		defer close(s.managerDone)
		err := controller.RunManager(runCtx, controller.ManagerConfig{
			Client: client, RestConfig: rc, Factories: factories, Workers: s.cfg.ControllerWorkers,
			Identity: s.cfg.Identity, Logger: s.log, Metrics: s.metrics,
		})
		if err != nil {
			s.errc <- err
		}
	}()
	return nil
}
