package server

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"time"

	"github.com/berth-dev/berth/internal/apiserver"
	"github.com/berth-dev/berth/internal/apiserver/registry"
	"github.com/berth-dev/berth/internal/controller"
	"github.com/berth-dev/berth/internal/scheduler"
)

// Config configures the control plane.
type Config struct {
	// DataDir holds etcd data, TLS material, tokens and the kubeconfig.
	DataDir string
	// Listen is the HTTPS address (host:port); port 0 picks a free port.
	Listen string
	// EtcdEndpoints selects an existing etcd cluster; empty starts an
	// embedded etcd under DataDir/etcd.
	EtcdEndpoints []string
	// ServiceCIDR is the range ClusterIPs come from.
	ServiceCIDR string
	// ClusterCIDR is the range nodes' podCIDRs come from (default
	// 10.42.0.0/16); NodeCIDRMaskSize is each node's prefix length
	// (default 24).
	ClusterCIDR      string
	NodeCIDRMaskSize int
	// NodeMonitorGracePeriod is how long a node's Lease may go unrenewed
	// before the node turns NotReady/Unknown and gets the unreachable
	// taints (default 40s).
	NodeMonitorGracePeriod time.Duration
	// EventTTL is how long events are kept after their last write
	// (default an hour, as kube-apiserver's --event-ttl).
	EventTTL time.Duration
	// DefaultNotReadyTolerationSeconds and
	// DefaultUnreachableTolerationSeconds are how long pods tolerate the
	// node.kubernetes.io/not-ready and node.kubernetes.io/unreachable
	// NoExecute taints before they are evicted, unless they say otherwise:
	// the API server gives every pod these tolerations (as kube-apiserver's
	// flags of the same names). nil means 300; 0 evicts at once.
	DefaultNotReadyTolerationSeconds    *int64
	DefaultUnreachableTolerationSeconds *int64
	// ExtraSANs are further names or IPs for the serving certificate.
	ExtraSANs []string
	// CompactInterval is how often etcd history is compacted.
	CompactInterval time.Duration
	// MetricsInterval is how often node agents' resource metrics are
	// scraped for metrics.k8s.io (default 15s).
	MetricsInterval time.Duration
	// Version is reported by /version.
	Version string
	// Logger receives the control plane's logs.
	Logger *slog.Logger
	// Controllers are the controllers to run under leader election; nil
	// means DefaultControllers and the scheduler.
	Controllers []controller.Factory
	// Scheduler configures the scheduler that runs with the default
	// controllers (nil: scheduler.DefaultConfig).
	Scheduler *scheduler.Config
	// NoControllers runs the API server alone (tests of one controller).
	NoControllers bool
	// ControllerWorkers is the number of workers per controller (default 4).
	ControllerWorkers int
	// Identity names this server in leader election (default: hostname+uuid).
	Identity string
}

// DefaultDataDir is $BERTH_DATA_DIR, else /var/lib/berth for root, else
// ~/.berth.
func DefaultDataDir() string {
	if d := os.Getenv("BERTH_DATA_DIR"); d != "" {
		return d
	}
	if os.Geteuid() == 0 {
		return "/var/lib/berth"
	}
	if home, err := os.UserHomeDir(); err == nil {
		return filepath.Join(home, ".berth")
	}
	return ".berth"
}

// withDefaults fills unset fields and validates the rest.
func (c Config) withDefaults() (Config, error) {
	if c.DataDir == "" {
		c.DataDir = DefaultDataDir()
	}
	if c.Listen == "" {
		c.Listen = "127.0.0.1:6443"
	}
	if _, _, err := net.SplitHostPort(c.Listen); err != nil {
		return c, fmt.Errorf("server: --listen %q: want HOST:PORT: %w", c.Listen, err)
	}
	if c.ServiceCIDR == "" {
		c.ServiceCIDR = "10.43.0.0/16"
	}
	if _, err := netip.ParsePrefix(c.ServiceCIDR); err != nil {
		return c, fmt.Errorf("server: --service-cidr %q: %w", c.ServiceCIDR, err)
	}
	if c.NodeMonitorGracePeriod == 0 {
		c.NodeMonitorGracePeriod = 40 * time.Second
	}
	if c.NodeMonitorGracePeriod < 0 {
		return c, errors.New("server: --node-monitor-grace-period must be positive")
	}
	if c.EventTTL == 0 {
		c.EventTTL = apiserver.DefaultEventTTL
	}
	if c.EventTTL < time.Second {
		return c, fmt.Errorf("server: --event-ttl %v: must be at least 1s", c.EventTTL)
	}
	for _, tol := range []struct {
		flag string
		p    **int64
	}{
		{"--default-not-ready-toleration-seconds", &c.DefaultNotReadyTolerationSeconds},
		{"--default-unreachable-toleration-seconds", &c.DefaultUnreachableTolerationSeconds},
	} {
		if *tol.p == nil {
			v := registry.DefaultTolerationSeconds
			*tol.p = &v
		} else if **tol.p < 0 {
			return c, fmt.Errorf("server: %s %d: must be 0 or more", tol.flag, **tol.p)
		}
	}
	if c.ClusterCIDR == "" {
		c.ClusterCIDR = "10.42.0.0/16"
	}
	if c.NodeCIDRMaskSize == 0 {
		c.NodeCIDRMaskSize = 24
	}
	if p, err := netip.ParsePrefix(c.ClusterCIDR); err != nil {
		return c, fmt.Errorf("server: --cluster-cidr %q: %w", c.ClusterCIDR, err)
	} else if c.NodeCIDRMaskSize < p.Bits() || c.NodeCIDRMaskSize > 30 {
		return c, fmt.Errorf("server: node CIDR mask /%d must lie between the cluster CIDR's /%d and /30", c.NodeCIDRMaskSize, p.Bits())
	}
	if c.CompactInterval == 0 {
		c.CompactInterval = 5 * time.Minute
	}
	if c.CompactInterval < 0 {
		return c, errors.New("server: compaction interval must be positive")
	}
	if c.MetricsInterval == 0 {
		c.MetricsInterval = 15 * time.Second
	}
	if c.MetricsInterval < 0 {
		return c, errors.New("server: metrics interval must be positive")
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.Scheduler == nil {
		sc, err := scheduler.LoadConfig("")
		if err != nil {
			return c, err
		}
		c.Scheduler = &sc
	}
	return c, nil
}

// Paths names the files the server keeps in its data directory.
type Paths struct{ dir string }

// PathsOf returns the file layout of dataDir.
func PathsOf(dataDir string) Paths { return Paths{dir: dataDir} }

// Etcd is the embedded etcd data directory.
func (p Paths) Etcd() string { return filepath.Join(p.dir, "etcd") }

// TLS is the directory of the CA and serving certificate.
func (p Paths) TLS() string { return filepath.Join(p.dir, "tls") }

// AdminToken is the admin bearer token file.
func (p Paths) AdminToken() string { return filepath.Join(p.dir, "admin-token") }

// NodeToken is the node join token file.
func (p Paths) NodeToken() string { return filepath.Join(p.dir, "node-token") }

// Kubeconfig is the admin kubeconfig.
func (p Paths) Kubeconfig() string { return filepath.Join(p.dir, "admin.kubeconfig") }
