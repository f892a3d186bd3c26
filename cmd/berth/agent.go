package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/berth-dev/berth/internal/agent"
	"github.com/berth-dev/berth/internal/agent/cgroups"
	"github.com/berth-dev/berth/internal/agent/network"
	"github.com/berth-dev/berth/internal/agent/runtime"
	"github.com/berth-dev/berth/internal/agent/runtime/process"
	"github.com/berth-dev/berth/internal/proxy"
	"github.com/berth-dev/berth/internal/server"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
)

// agentFlags are the flags of `berth agent` (and the local agent of `berth up`).
type agentFlags struct {
	nodeName, driver, dataDir, reserved, nodeIP, bridge string
	maxPods, port                                       int
	// drainOnExit: on SIGTERM cordon the node and move its pods away.
	drainOnExit bool
	// serviceProxy runs the service proxy and cluster DNS; svcIface is
	// the label of the loopback addresses ClusterIPs become, domain the
	// cluster domain.
	serviceProxy     bool
	svcIface, domain string
}

func (f *agentFlags) bind(fs *flag.FlagSet, defaultDataDir string) {
	host, _ := os.Hostname()
	fs.StringVar(&f.nodeName, "node-name", strings.ToLower(host), "name of this node")
	fs.StringVar(&f.driver, "driver", "auto", "runtime driver: docker (containers from images, through the Docker Engine), process (commands as host processes), or auto (docker when the Docker daemon answers, else process)")
	fs.StringVar(&f.dataDir, "agent-data-dir", defaultDataDir, "directory for the agent's pod state, logs and volumes")
	fs.StringVar(&f.reserved, "reserved", "cpu=100m,memory=256Mi", "resources kept from pods (allocatable = capacity - reserved), e.g. cpu=500m,memory=1Gi")
	fs.StringVar(&f.nodeIP, "node-ip", "", "InternalIP to report (default: the first non-loopback IPv4 address)")
	fs.IntVar(&f.maxPods, "max-pods", 110, "pods this node accepts")
	fs.BoolVar(&f.drainOnExit, "drain-on-exit", false, "on SIGTERM, cordon the node, delete its pods (their controllers replace them on other nodes), stop their containers gracefully and exit once they are gone; without it pods keep running")
	fs.StringVar(&f.bridge, "cni-bridge", network.DefaultBridgeName, "host bridge the pods' network namespaces are connected to (distinct per agent when several run on one machine)")
	fs.BoolVar(&f.serviceProxy, "service-proxy", true, "serve Services on this node (ClusterIP as root, NodePort, LoadBalancer) and, as root, the cluster DNS")
	fs.StringVar(&f.svcIface, "service-address-label", "lo:berth-svc", "label of the loopback addresses ClusterIPs are assigned as (root only; distinct per agent when several run on one machine)")
	fs.StringVar(&f.domain, "cluster-domain", "cluster.local", "the cluster's DNS domain")
	fs.IntVar(&f.port, "agent-port", 10250, "port of the agent's HTTPS endpoint the API server reaches for logs, exec and metrics (0: any free port)")
}

// parseReserved parses "cpu=100m,memory=256Mi".
func parseReserved(s string) (corev1.ResourceList, error) {
	rl := corev1.ResourceList{}
	for _, kv := range splitList(s) {
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			return nil, fmt.Errorf("--reserved %q: want NAME=QUANTITY", kv)
		}
		q, err := resource.ParseQuantity(v)
		if err != nil {
			return nil, fmt.Errorf("--reserved %s: %w", k, err)
		}
		rl[corev1.ResourceName(k)] = q
	}
	return rl, nil
}

// agentConfig builds the agent configuration from flags and a client.
// caPEM is the cluster CA, which the agent's endpoint trusts for callers.
func (f *agentFlags) config(client kubernetes.Interface, caPEM []byte, logger *slog.Logger) (agent.Config, error) {
	driver, err := chooseDriver(f.driver)
	if err != nil {
		return agent.Config{}, err
	}
	if f.nodeName == "" {
		return agent.Config{}, errors.New("--node-name is required")
	}
	if f.port < 0 || f.port > 65535 {
		return agent.Config{}, fmt.Errorf("--agent-port %d: want a port number 0-65535", f.port)
	}
	reserved, err := parseReserved(f.reserved)
	if err != nil {
		return agent.Config{}, err
	}
	dataDir, err := filepath.Abs(f.dataDir)
	if err != nil {
		return agent.Config{}, err
	}
	if err := proxy.ValidLabel(f.svcIface); f.serviceProxy && err != nil {
		return agent.Config{}, fmt.Errorf("--service-address-label: %w", err)
	}
	var services *agent.ServicesConfig
	if f.serviceProxy {
		services = &agent.ServicesConfig{Domain: f.domain}
		if os.Geteuid() == 0 {
			services.AddressLabel = f.svcIface
		}
	}
	return agent.Config{
		Client: client, NodeName: f.nodeName, DataDir: dataDir, Reserved: reserved, MaxPods: f.maxPods, NodeIP: f.nodeIP,
		DriverName: driver, Version: version, Logger: logger, DrainOnExit: f.drainOnExit, Services: services, EndpointAddr: fmt.Sprintf(":%d", f.port), CAPEM: caPEM,
		NewDriver: func(ctx context.Context, node *corev1.Node) (runtime.Driver, string, error) {
			if driver == "docker" {
				return newDockerDriver(ctx, client, node, logger)
			}
			return newProcessDriver(ctx, client, node, dataDir, f.bridge, logger)
		},
	}, nil
}

// newProcessDriver builds the process driver: as root with the node's
// podCIDR, pods get their own network namespace (CNI, on bridge) and cgroup; otherwise
// they share the host network and the reason is returned.
func newProcessDriver(ctx context.Context, client kubernetes.Interface, node *corev1.Node, dataDir, bridge string, logger *slog.Logger) (runtime.Driver, string, error) {
	cfg := process.Config{StateDir: filepath.Join(dataDir, "process"), Logger: logger}
	reason := ""
	if os.Geteuid() != 0 {
		reason = "the agent does not run as root"
	}
	if reason == "" {
		cg, err := cgroups.New(cgroups.Config{Logger: logger})
		if err != nil {
			logger.Warn("cgroups unavailable: pod limits are not enforced", "err", err)
		} else {
			cfg.Cgroups = cg
		}
		cidr, err := waitPodCIDR(ctx, client, node)
		if err != nil {
			return nil, "", err
		}
		if cidr == "" {
			reason = "the server assigned no podCIDR to the node"
		} else {
			// The namespace files live on a tmpfs, in a directory of
			// this node's own: an agent's start-up cleanup removes every
			// namespace there that it does not know.
			netnsDir := filepath.Join("/run/berth/netns", node.Name)
			nw, err := network.New(network.Config{PodCIDR: cidr, BridgeName: bridge, StateDir: filepath.Join(dataDir, "cni"),
				NetNSDir: netnsDir, Logger: logger})
			if err == nil {
				err = nw.Available()
			}
			if err != nil {
				reason = err.Error()
			} else {
				cfg.Network, cfg.NamespaceDirs = nw, []string{netnsDir}
			}
		}
	}
	drv, err := process.New(cfg)
	if err != nil {
		return nil, "", err
	}
	if nw, ok := cfg.Network.(*network.CNI); ok {
		// Pod networks of sandboxes this agent does not know (left by an
		// agent of another data directory, or before a crash) would keep
		// their addresses on the bridge and answer for new pods given the
		// same addresses.
		sbs, err := drv.ListSandboxes(ctx)
		if err == nil {
			keep := make(map[string]bool, len(sbs))
			for _, sb := range sbs {
				keep[sb.ID] = true
			}
			err = nw.Cleanup(ctx, keep)
		}
		if err != nil {
			logger.Warn("pod networks left by an earlier agent were not all removed", "err", err)
		}
	}
	return drv, reason, nil
}

// runAgent is `berth agent`: a node that joins the cluster at --server.
func runAgent(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("berth agent", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var f agentFlags
	f.bind(fs, filepath.Join(defaultAgentRoot(), "agent"))
	serverURL := fs.String("server", "", "URL of the API server, e.g. https://10.0.0.1:6443 (required)")
	tokenFile := fs.String("token-file", "", "file holding the node join token (<server data-dir>/node-token) (required)")
	caFile := fs.String("ca-file", "", "CA certificate of the server (default: tls/ca.crt next to the token file)")
	level := fs.String("log-level", "info", "log level: debug, info, warn, error")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "berth agent: unexpected arguments %v\n", fs.Args())
		return 2
	}
	logger, err := newLogger(*level, stderr)
	if err != nil {
		fmt.Fprintf(stderr, "berth agent: %v\n", err)
		return 2
	}
	routeClientGoLogs(logger)
	trimMemory(logger)
	if *serverURL == "" || *tokenFile == "" {
		fmt.Fprintln(stderr, "berth agent: --server and --token-file are required")
		return 2
	}
	token, err := os.ReadFile(*tokenFile)
	if err != nil {
		fmt.Fprintf(stderr, "berth agent: --token-file: %v\n", err)
		return 2
	}
	if *caFile == "" {
		*caFile = filepath.Join(filepath.Dir(*tokenFile), "tls", "ca.crt")
	}
	ca, err := os.ReadFile(*caFile)
	if err != nil {
		fmt.Fprintf(stderr, "berth agent: --ca-file: %v\n", err)
		return 2
	}
	client, err := kubernetes.NewForConfig(&rest.Config{Host: *serverURL, BearerToken: strings.TrimSpace(string(token)),
		TLSClientConfig: rest.TLSClientConfig{CAData: ca}, UserAgent: "berth-agent", QPS: 100, Burst: 200})
	if err != nil {
		fmt.Fprintf(stderr, "berth agent: %v\n", err)
		return 2
	}
	cfg, err := f.config(client, ca, logger)
	if err != nil {
		fmt.Fprintf(stderr, "berth agent: %v\n", err)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := agent.Run(ctx, cfg); err != nil {
		fmt.Fprintf(stderr, "berth agent: %v\n", err)
		return 1
	}
	return 0
}

// defaultAgentRoot is /var/lib/berth for root, else ~/.berth.
func defaultAgentRoot() string {
	if os.Geteuid() == 0 {
		return "/var/lib/berth"
	}
	if home, err := os.UserHomeDir(); err == nil {
		return filepath.Join(home, ".berth")
	}
	return ".berth"
}

// startLocalAgent runs the agent of `berth up` in this process, with the
// node token, until ctx is done; its result arrives on done.
func startLocalAgent(ctx context.Context, srv *server.Server, dataDir string, f *agentFlags, logger *slog.Logger, done chan<- error) error {
	token, err := os.ReadFile(server.PathsOf(dataDir).NodeToken())
	if err != nil {
		return err
	}
	client, err := kubernetes.NewForConfig(&rest.Config{Host: srv.URL(), BearerToken: strings.TrimSpace(string(token)),
		TLSClientConfig: rest.TLSClientConfig{CAData: srv.CAPEM()}, UserAgent: "berth-agent", QPS: 100, Burst: 200})
	if err != nil {
		return err
	}
	cfg, err := f.config(client, srv.CAPEM(), logger)
	if err != nil {
		return err
	}
	go func() { done <- agent.Run(ctx, cfg) }()
	return nil
}
