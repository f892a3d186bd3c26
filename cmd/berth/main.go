package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/berth-dev/berth/internal/agent/runtime/process"
	"github.com/berth-dev/berth/internal/apiserver/registry"
	"github.com/berth-dev/berth/internal/gctune"
	"github.com/berth-dev/berth/internal/kubectl"
	"github.com/berth-dev/berth/internal/scheduler"
	"github.com/berth-dev/berth/internal/server"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "v0.1.0-dev"

const usage = `berth: a container orchestrator that speaks the Kubernetes API.

Usage:
  berth up      [flags]   control plane for a local cluster (prints the kubeconfig path when ready)
  berth server  [flags]   control plane: API server on embedded or external etcd
  berth agent   [flags]   a node: joins the cluster at --server and runs its pods
  berth kubectl ARGS...   the real kubectl, defaulting to <data-dir>/admin.kubeconfig
  berth bench   api|controllers|scheduler|pods|failover|lb|hpa [flags]  benchmarks; the last output line is JSON
  berth sim     autoscale [flags]  replay a load trace through the autoscaler; the last output line is JSON
  berth version           print the version

Run 'berth <command> -h' for the flags of a command.
`

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	cmd, rest := args[0], args[1:]
	switch cmd {
	case "up":
		return runServer(cmd, rest, "127.0.0.1:6443", stdout, stderr)
	case "agent":
		return runAgent(rest, stdout, stderr)
	case "__container-init":
		return process.InitMain(rest)
	case "server":
		return runServer(cmd, rest, "0.0.0.0:6443", stdout, stderr)
	case "kubectl":
		if os.Getenv("KUBECONFIG") == "" {
			os.Setenv("KUBECONFIG", server.PathsOf(server.DefaultDataDir()).Kubeconfig())
		}
		return kubectl.Run(rest)
	case "bench":
		return runBench(rest, stdout, stderr)
	case "sim":
		return runSim(rest, stdout, stderr)
	case "version", "--version":
		fmt.Fprintln(stdout, "berth", version)
		return 0
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return 0
	}
	fmt.Fprintf(stderr, "berth: unknown command %q\n\n%s", cmd, usage)
	return 2
}

// serverFlags binds the control-plane flags shared by up and server.
func serverFlags(fs *flag.FlagSet, cfg *server.Config, defaultListen string) (etcd, sans, level, schedCfg *string) {
	fs.StringVar(&cfg.DataDir, "data-dir", server.DefaultDataDir(), "directory for etcd data, TLS material, tokens and admin.kubeconfig")
	fs.StringVar(&cfg.Listen, "listen", defaultListen, "HTTPS listen address HOST:PORT")
	fs.StringVar(&cfg.ServiceCIDR, "service-cidr", "10.43.0.0/16", "range Service ClusterIPs are allocated from")
	fs.StringVar(&cfg.ClusterCIDR, "cluster-cidr", "10.42.0.0/16", "range each node's podCIDR (a /24) is allocated from")
	fs.DurationVar(&cfg.NodeMonitorGracePeriod, "node-monitor-grace-period", 40*time.Second, "a node whose agent has not renewed its Lease for this long turns NotReady and its pods are evicted after their toleration (--default-unreachable-toleration-seconds)")
	fs.Var(secondsFlag{&cfg.DefaultNotReadyTolerationSeconds, registry.DefaultTolerationSeconds}, "default-not-ready-toleration-seconds",
		"`seconds` pods tolerate the node.kubernetes.io/not-ready NoExecute taint before eviction, unless they say otherwise")
	fs.Var(secondsFlag{&cfg.DefaultUnreachableTolerationSeconds, registry.DefaultTolerationSeconds}, "default-unreachable-toleration-seconds",
		"`seconds` pods tolerate the node.kubernetes.io/unreachable NoExecute taint (a node whose agent stopped) before eviction, unless they say otherwise")
	fs.DurationVar(&cfg.EventTTL, "event-ttl", time.Hour, "how long events are kept after their last change")
	fs.DurationVar(&cfg.CompactInterval, "compact-interval", 5*time.Minute, "how often etcd history is compacted")
	fs.IntVar(&cfg.ControllerWorkers, "controller-workers", 4, "reconcile workers per controller")
	etcd = fs.String("etcd-endpoints", "", "comma-separated URLs of an existing etcd cluster (default: embedded etcd in <data-dir>/etcd)")
	sans = fs.String("tls-san", "", "comma-separated extra names/IPs for the serving certificate")
	level = fs.String("log-level", "info", "log level: debug, info, warn, error")
	schedCfg = fs.String("scheduler-config", "", "scheduler configuration file (YAML; default: profiles default-scheduler, fcfs, sjf, round-robin, priority; see docs/scheduler.md)")
	return etcd, sans, level, schedCfg
}

func runServer(name string, args []string, defaultListen string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("berth "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	var cfg server.Config
	etcd, sans, level, schedCfg := serverFlags(fs, &cfg, defaultListen)
	var af agentFlags
	withAgent := false
	if name == "up" {
		fs.BoolVar(&withAgent, "agent", true, "run a local agent: this machine becomes a node of the cluster")
		af.bind(fs, "")
	}
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "berth %s: unexpected arguments %v\n", name, fs.Args())
		return 2
	}
	logger, err := newLogger(*level, stderr)
	if err != nil {
		fmt.Fprintf(stderr, "berth %s: %v\n", name, err)
		return 2
	}
	cfg.Logger, cfg.Version = logger, version
	sc, err := scheduler.LoadConfig(*schedCfg)
	if err != nil {
		fmt.Fprintf(stderr, "berth %s: --scheduler-config: %v\n", name, err)
		return 2
	}
	cfg.Scheduler = &sc
	routeClientGoLogs(logger) // leader election and informers log through klog
	cfg.EtcdEndpoints = splitList(*etcd)
	cfg.ExtraSANs = splitList(*sans)
	if abs, err := filepath.Abs(cfg.DataDir); err == nil {
		cfg.DataDir = abs
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	srv, err := server.Start(ctx, cfg)
	if err != nil {
		fmt.Fprintf(stderr, "berth %s: %v\n", name, err)
		return 1
	}
	defer srv.Close()
	trimMemory(logger)
	defer tuneGC(ctx, logger)()
	agentDone := make(chan error, 1)
	if withAgent {
		if af.dataDir == "" {
			af.dataDir = filepath.Join(cfg.DataDir, "agent")
		}
		if err := startLocalAgent(ctx, srv, cfg.DataDir, &af, logger, agentDone); err != nil {
			fmt.Fprintf(stderr, "berth %s: agent: %v\n", name, err)
			return 2
		}
	}
	fmt.Fprintf(stdout, "Berth is ready at %s\nkubeconfig: %s\n", srv.URL(), srv.KubeconfigPath())
	fmt.Fprintf(stdout, "Try: KUBECONFIG=%s berth kubectl get namespaces\n", srv.KubeconfigPath())
	select {
	case <-ctx.Done():
		logger.Info("shutting down")
		if withAgent {
			<-agentDone // pods keep running; the agent re-adopts them on the next start
		}
		return 0
	case err := <-srv.Err():
		fmt.Fprintf(stderr, "berth %s: %v\n", name, err)
		return 1
	case err := <-agentDone:
		fmt.Fprintf(stderr, "berth %s: agent: %v\n", name, err)
		return 1
	}
}

// secondsFlag is a flag.Value setting an optional count of seconds: *p
// stays nil (the default, def) unless the flag is given.
type secondsFlag struct {
	p   **int64
	def int64
}

// String implements flag.Value.
func (f secondsFlag) String() string {
	switch {
	case f.p == nil:
		return ""
	case *f.p == nil:
		return strconv.FormatInt(f.def, 10)
	}
	return strconv.FormatInt(**f.p, 10)
}

// Set implements flag.Value.
func (f secondsFlag) Set(s string) error {
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return fmt.Errorf("want a whole number of seconds: %w", err)
	}
	*f.p = &v
	return nil
}

func newLogger(level string, w io.Writer) (*slog.Logger, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("--log-level %q: %w", level, err)
	}
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: l})), nil
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// tuneGC adapts the garbage collector's percentage to the process's load
// (internal/gctune) until ctx ends or the returned function, which waits
// for the tuner to stop, is called.
func tuneGC(ctx context.Context, logger *slog.Logger) (stop func()) {
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		gctune.Run(ctx, gctune.Config{}, logger)
	}()
	return func() {
		cancel()
		<-done
	}
}
