package testenv

import (
	"context"
	"log/slog"
	"os"
	"testing"
	"time"

	"github.com/berth-dev/berth/internal/controller"
	"github.com/berth-dev/berth/internal/server"
	"github.com/berth-dev/berth/internal/testutil/fakekubelet"
	"k8s.io/client-go/kubernetes"
)

// Options configures Start.
type Options struct {
	// Controllers are the controllers the server runs (nil: the server's
	// defaults).
	Controllers []controller.Factory
	// Logger receives the server's logs (nil: the server's default).
	Logger *slog.Logger
	// Kubelet, when set, runs a fake kubelet with this configuration
	// until the test ends; its Client is set to the environment's.
	Kubelet *fakekubelet.Config
	// MetricsInterval is how often the server scrapes node agents'
	// resource metrics (0: the server's default).
	MetricsInterval time.Duration
}

// Env is a running test environment.
type Env struct {
	// Server is the running API server.
	Server *server.Server
	// Client talks to Server with admin rights.
	Client *kubernetes.Clientset
}

// Start starts the environment described by opts, or skips the test under
// -short. It fails the test if the server does not start within a minute,
// and reports an error of the fake kubelet unless it stopped because the
// test ended. Cleanup stops the kubelet before the server.
func Start(t *testing.T, opts Options) *Env {
	t.Helper()
	if testing.Short() {
		t.Skip("integration: starts the API server and etcd")
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	srv, err := server.Start(ctx, server.Config{DataDir: t.TempDir(), Listen: "127.0.0.1:0", Logger: opts.Logger,
		Controllers: opts.Controllers, MetricsInterval: opts.MetricsInterval})
	if err != nil {
		t.Fatalf("start server: %v", err)
	}
	t.Cleanup(srv.Close)
	cs, err := kubernetes.NewForConfig(srv.RestConfig())
	if err != nil {
		t.Fatal(err)
	}
	if opts.Kubelet != nil {
		cfg := *opts.Kubelet
		cfg.Client = cs
		kctx, kcancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() {
			defer close(done)
			if err := fakekubelet.Run(kctx, cfg); err != nil && kctx.Err() == nil {
				t.Errorf("fake kubelet: %v", err)
			}
		}()
		t.Cleanup(func() { kcancel(); <-done }) // runs before srv.Close
	}
	return &Env{Server: srv, Client: cs}
}

// Logger returns a logger for tests: it discards everything unless
// $BERTH_TEST_LOG is set, then it writes debug logs to stderr.
func Logger() *slog.Logger {
	if os.Getenv("BERTH_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.DiscardHandler)
}
