package bench

import (
	"cmp"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net/netip"
	"strings"
	"time"
)

// Defaults and limits of PodsConfig.
const (
	// DefaultPodsPods is how many pods `berth bench pods` starts.
	DefaultPodsPods = 100
	// DefaultPodsClients is how many goroutines create (and delete) them.
	DefaultPodsClients = 10
	// DefaultPodsTimeout bounds first create → every pod Ready, and
	// first delete → every pod gone.
	DefaultPodsTimeout = 2 * time.Minute
	// DefaultAgentIdleWait is how long the agent idles once its node is
	// ready before its idle RSS is read.
	DefaultAgentIdleWait = 3 * time.Second
	// PodsTargetP99Ms is the goal for the p99 of create → Ready latency
	// (Kubernetes' pod start-up SLO is 5 s without image pulls).
	PodsTargetP99Ms = 1000
	// PodsTargetAgentRSSMB bounds the agent's idle VmRSS.
	PodsTargetAgentRSSMB = 40
	// DefaultPodsClusterCIDR is the spawned server's --cluster-cidr: a
	// range of its own, away from the 10.42.0.0/16 default of `berth up`
	// and the ranges the end-to-end tests use, so that the benchmark's pod
	// addresses and masquerade rule collide with no other Berth on the
	// machine.
	DefaultPodsClusterCIDR = "10.45.0.0/16"
	// DefaultPodsBridge is the spawned agent's --cni-bridge, distinct from
	// the berth0 of `berth up` and the end-to-end tests.
	DefaultPodsBridge = "berthb0"
	// maxBenchPods bounds --pods: the agent's node gets a /24 podCIDR, 253
	// pod addresses, when pods have network namespaces of their own.
	maxBenchPods = 250
)

// PodsConfig configures RunPods. Zero values of Clients, Timeout and
// IdleWait mean their defaults; use DefaultPodsConfig for the defaults of
// `berth bench pods`.
type PodsConfig struct {
	// Pods is how many bare pods, each one container running
	// /bin/sleep 3600, are created and must become Ready.
	Pods int
	// Clients is how many goroutines, sharing one clientset, create the
	// pods and later delete them.
	Clients int
	// Rate, when positive, paces the creates: pod i is created i/Rate
	// seconds after the first (Kubernetes' load test creates pods at 10/s
	// across its whole cluster). Zero creates them all at once, as fast as
	// the clients go: a burst.
	Rate float64
	// Binary is the berth executable spawned as `berth server` and
	// `berth agent`; os.Executable() when empty.
	Binary string
	// ClusterCIDR is the server's --cluster-cidr (the node's /24 podCIDR
	// comes from it); DefaultPodsClusterCIDR when empty.
	ClusterCIDR string
	// Bridge is the agent's --cni-bridge; DefaultPodsBridge when empty.
	Bridge string
	// AgentPort is the agent's --agent-port; a free port when zero.
	AgentPort int
	// Driver is the agent's --driver: "process" (default; pods run
	// /bin/sleep) or "docker" (pods run Image, which must be on the node:
	// imagePullPolicy IfNotPresent).
	Driver string
	// Image is the docker driver's pod image (its own entrypoint runs;
	// PORT=3000 is set for the example app's image).
	Image string
	// Timeout bounds the time from the first create until every pod is
	// Ready, and again from the first delete until every pod is gone.
	Timeout time.Duration
	// IdleWait is how long the agent idles once its node is ready before
	// its idle RSS is read; DefaultAgentIdleWait when zero.
	IdleWait time.Duration
	// JSONOnly leaves out the human-readable summary.
	JSONOnly bool
	// PlotFile, when set, receives a PNG chart of the create → Ready
	// latency of every pod, sorted.
	PlotFile string
	// Logger receives progress messages; slog.Default() when nil.
	Logger *slog.Logger
}

// DefaultPodsConfig returns the configuration of `berth bench pods`
// without flags.
func DefaultPodsConfig() PodsConfig {
	return PodsConfig{
		Pods:        DefaultPodsPods,
		Clients:     DefaultPodsClients,
		Timeout:     DefaultPodsTimeout,
		IdleWait:    DefaultAgentIdleWait,
		ClusterCIDR: DefaultPodsClusterCIDR,
		Bridge:      DefaultPodsBridge,
		Driver:      "process",
		Image:       "my-web-app",
	}
}

// ParsePodsArgs parses the flags of `berth bench pods` into a validated
// PodsConfig. Usage and flag errors are written to output. It returns
// flag.ErrHelp for -h.
func ParsePodsArgs(args []string, output io.Writer) (PodsConfig, error) {
	cfg := DefaultPodsConfig()
	fs := newBenchFlagSet("pods", "Spawns 'berth server' and 'berth agent' (process driver), creates pods running /bin/sleep\n"+
		"and times each from create to Ready, then deletes them; the last output line is JSON.", output)
	fs.IntVar(&cfg.Pods, "pods", cfg.Pods, fmt.Sprintf("pods created (one /bin/sleep container each, cpu 1m, memory 1Mi), at most %d", maxBenchPods))
	fs.IntVar(&cfg.Clients, "clients", cfg.Clients, "goroutines creating and deleting the pods")
	fs.Float64Var(&cfg.Rate, "rate", 0, "create the pods at this many per second (0: all at once)")
	fs.DurationVar(&cfg.Timeout, "timeout", cfg.Timeout, "limit from the first create until every pod is Ready, and from the first delete until every pod is gone")
	fs.StringVar(&cfg.Binary, "binary", "", "berth `executable` spawned as server and agent (default: this one)")
	fs.StringVar(&cfg.ClusterCIDR, "cluster-cidr", cfg.ClusterCIDR, "the spawned server's --cluster-cidr (keep it apart from other Berth clusters on this machine)")
	fs.StringVar(&cfg.Bridge, "cni-bridge", cfg.Bridge, "the spawned agent's --cni-bridge (keep it apart from other Berth agents on this machine)")
	fs.IntVar(&cfg.AgentPort, "agent-port", 0, "the spawned agent's --agent-port (0: a free port)")
	fs.StringVar(&cfg.Driver, "driver", cfg.Driver, "the agent's runtime driver: process (pods run /bin/sleep) or docker (pods run --image)")
	fs.StringVar(&cfg.Image, "image", cfg.Image, "with --driver docker: the pods' image, already on the node (e.g. built from examples/webapp)")
	fs.BoolVar(&cfg.JSONOnly, "json-only", false, "print only the JSON line")
	fs.StringVar(&cfg.PlotFile, "plot", "", "write a PNG chart of every pod's create → Ready latency, sorted, to `file`")
	if err := parseBenchFlags(fs, args); err != nil {
		return cfg, err
	}
	return cfg, cfg.Validate()
}

// Validate reports the first invalid setting, naming its flag. Unlike
// RunPods it does not fill in defaults: Clients and Timeout must be
// positive.
func (c PodsConfig) Validate() error {
	if c.Pods <= 0 || c.Pods > maxBenchPods {
		return fmt.Errorf("--pods: %d is out of range 1..%d", c.Pods, maxBenchPods)
	}
	if c.Clients <= 0 || c.Clients > maxClients {
		return fmt.Errorf("--clients: %d is out of range 1..%d", c.Clients, maxClients)
	}
	if c.Timeout <= 0 {
		return fmt.Errorf("--timeout: %v is not positive", c.Timeout)
	}
	if !(c.Rate >= 0) || math.IsInf(c.Rate, 0) {
		return fmt.Errorf("--rate: %v is not a rate (pods per second, 0 for all at once)", c.Rate)
	}
	if c.Rate > 0 && time.Duration(float64(c.Pods-1)/c.Rate*float64(time.Second)) >= c.Timeout {
		return fmt.Errorf("--rate: creating %d pods at %v/s takes longer than --timeout %v", c.Pods, c.Rate, c.Timeout)
	}
	if c.Driver != "" && c.Driver != "process" && c.Driver != "docker" {
		return fmt.Errorf("--driver %q: want process or docker", c.Driver)
	}
	if c.Driver == "docker" && c.Image == "" {
		return fmt.Errorf("--image: required with --driver docker")
	}
	if c.IdleWait < 0 {
		return fmt.Errorf("idle wait %v is negative", c.IdleWait)
	}
	if c.ClusterCIDR != "" {
		if _, err := netip.ParsePrefix(c.ClusterCIDR); err != nil {
			return fmt.Errorf("--cluster-cidr: %w", err)
		}
	}
	if len(c.Bridge) > 15 || strings.ContainsAny(c.Bridge, "/: \t\n") {
		return fmt.Errorf("--cni-bridge: %q is not an interface name (at most 15 bytes, no '/', ':' or spaces)", c.Bridge)
	}
	if c.AgentPort < 0 || c.AgentPort > 65535 {
		return fmt.Errorf("--agent-port: %d is out of range 0..65535", c.AgentPort)
	}
	return nil
}

// withDefaults fills in the zero fields that have defaults and validates
// the result.
func (c PodsConfig) withDefaults() (PodsConfig, error) {
	d := DefaultPodsConfig()
	c.Logger = cmp.Or(c.Logger, slog.Default())
	c.Clients, c.Timeout, c.IdleWait = cmp.Or(c.Clients, d.Clients), cmp.Or(c.Timeout, d.Timeout), cmp.Or(c.IdleWait, d.IdleWait)
	c.ClusterCIDR, c.Bridge = cmp.Or(c.ClusterCIDR, d.ClusterCIDR), cmp.Or(c.Bridge, d.Bridge)
	var err error
	if c.Binary, err = berthBinary(c.Binary); err != nil {
		return c, err
	}
	return c, c.Validate()
}
