package bench

import (
	"cmp"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"strings"
	"time"
)

// Defaults and limits of FailoverConfig.
const (
	// DefaultFailoverReplicas is the Deployment's replicas.
	DefaultFailoverReplicas = 10
	// DefaultFailoverRounds is how many times an agent is killed.
	DefaultFailoverRounds = 3
	// DefaultFailoverGracePeriod is the server's
	// --node-monitor-grace-period.
	DefaultFailoverGracePeriod = 20 * time.Second
	// minFailoverGracePeriod bounds --node-monitor-grace-period from
	// below: it must exceed the agents' 10 s Lease renewal interval with
	// some slack, or the healthy node turns NotReady between renewals.
	minFailoverGracePeriod = 15 * time.Second
	// DefaultFailoverToleration is the server's
	// --default-not-ready-toleration-seconds and
	// --default-unreachable-toleration-seconds.
	DefaultFailoverToleration = 5
	// DefaultFailoverTimeout bounds each wait of a round.
	DefaultFailoverTimeout = 2 * time.Minute
	// DefaultFailoverClusterCIDR is the spawned server's --cluster-cidr,
	// apart from `berth up`'s default, the pods benchmark's and the
	// end-to-end tests' ranges.
	DefaultFailoverClusterCIDR = "10.48.0.0/16"
	// maxFailoverReplicas bounds --replicas: all of them must fit on one
	// node (110 pods by default).
	maxFailoverReplicas = 100
)

// DefaultFailoverBridges are the spawned agents' --cni-bridge, distinct
// from the other benchmarks' and tests' bridges.
var DefaultFailoverBridges = [2]string{"berthx0", "berthx1"}

// FailoverConfig configures RunFailover. Zero values mean the defaults,
// except TolerationSeconds (0 evicts at once); DefaultFailoverConfig
// returns the defaults of `berth bench failover`.
type FailoverConfig struct {
	// Replicas is the Deployment's replicas, spread over the two nodes.
	Replicas int
	// Rounds is how many times the second agent is killed (and started
	// again between rounds).
	Rounds int
	// GracePeriod is the server's --node-monitor-grace-period.
	GracePeriod time.Duration
	// TolerationSeconds is the server's default not-ready and
	// unreachable toleration (seconds; 0 evicts at once).
	TolerationSeconds int
	// Timeout bounds each wait: nodes Ready, replicas Ready, the failed
	// node's pods replaced, the node back.
	Timeout time.Duration
	// Binary is the berth executable spawned as `berth server` and twice
	// as `berth agent`; os.Executable() when empty.
	Binary string
	// WebApp, when set, is the examples/webapp binary the containers run
	// (with a readiness probe on /healthz, port 3000); otherwise they run
	// /bin/sleep 3600 and are ready once started.
	WebApp string
	// ClusterCIDR is the server's --cluster-cidr.
	ClusterCIDR string
	// Bridges are the two agents' --cni-bridge.
	Bridges [2]string
	// JSONOnly leaves out the human-readable summary.
	JSONOnly bool
	// PlotFile, when set, receives a PNG chart of the Ready replicas over
	// the seconds since the agent was killed, one line per round.
	PlotFile string
	// Logger receives progress messages; slog.Default() when nil.
	Logger *slog.Logger
}

// DefaultFailoverConfig returns the configuration of `berth bench
// failover` without flags.
func DefaultFailoverConfig() FailoverConfig {
	return FailoverConfig{
		Replicas:          DefaultFailoverReplicas,
		Rounds:            DefaultFailoverRounds,
		GracePeriod:       DefaultFailoverGracePeriod,
		TolerationSeconds: DefaultFailoverToleration,
		Timeout:           DefaultFailoverTimeout,
		ClusterCIDR:       DefaultFailoverClusterCIDR,
		Bridges:           DefaultFailoverBridges,
	}
}

// ParseFailoverArgs parses the flags of `berth bench failover` into a
// validated FailoverConfig. Usage and flag errors are written to output. It
// returns flag.ErrHelp for -h.
func ParseFailoverArgs(args []string, output io.Writer) (FailoverConfig, error) {
	cfg := DefaultFailoverConfig()
	fs := newBenchFlagSet("failover", "Spawns 'berth server' and two 'berth agent's (process driver), runs a Deployment over both nodes,\n"+
		"kills one agent (SIGKILL: a node failure) and times the failure → node NotReady → pods evicted →\n"+
		"replacements Ready on the other node; repeated for --rounds. The last output line is JSON.", output)
	fs.IntVar(&cfg.Replicas, "replicas", cfg.Replicas, fmt.Sprintf("replicas of the Deployment, at most %d", maxFailoverReplicas))
	fs.IntVar(&cfg.Rounds, "rounds", cfg.Rounds, "node failures timed (the killed agent is started again between rounds)")
	fs.DurationVar(&cfg.GracePeriod, "node-monitor-grace-period", cfg.GracePeriod, "the spawned server's --node-monitor-grace-period")
	fs.IntVar(&cfg.TolerationSeconds, "toleration-seconds", cfg.TolerationSeconds,
		"the spawned server's --default-not-ready-toleration-seconds and --default-unreachable-toleration-seconds")
	fs.DurationVar(&cfg.Timeout, "timeout", cfg.Timeout, "limit of each wait (nodes Ready, replicas Ready, replacements Ready, node back)")
	fs.StringVar(&cfg.Binary, "binary", "", "berth `executable` spawned as server and agents (default: this one)")
	fs.StringVar(&cfg.WebApp, "webapp", "", "examples/webapp `executable` the containers run, with a readiness probe (default: /bin/sleep 3600)")
	fs.StringVar(&cfg.ClusterCIDR, "cluster-cidr", cfg.ClusterCIDR, "the spawned server's --cluster-cidr (keep it apart from other Berth clusters on this machine)")
	bridges := fs.String("cni-bridges", strings.Join(cfg.Bridges[:], ","), "the two agents' --cni-bridge, comma-separated (keep them apart from other Berth agents on this machine)")
	fs.BoolVar(&cfg.JSONOnly, "json-only", false, "print only the JSON line")
	fs.StringVar(&cfg.PlotFile, "plot", "", "write a PNG chart of the Ready replicas over the seconds since each node failure to `file`")
	if err := parseBenchFlags(fs, args); err != nil {
		return cfg, err
	}
	b := strings.Split(*bridges, ",")
	if len(b) != 2 {
		return cfg, fmt.Errorf("--cni-bridges %q: want two bridge names, comma-separated", *bridges)
	}
	cfg.Bridges = [2]string{strings.TrimSpace(b[0]), strings.TrimSpace(b[1])}
	return cfg, cfg.Validate()
}

// Validate reports the first invalid setting, naming its flag. Unlike
// RunFailover it does not fill in defaults.
func (c FailoverConfig) Validate() error {
	if c.Replicas < 2 || c.Replicas > maxFailoverReplicas {
		return fmt.Errorf("--replicas: %d is out of range 2..%d (both nodes must run some)", c.Replicas, maxFailoverReplicas)
	}
	if c.Rounds <= 0 {
		return fmt.Errorf("--rounds: %d is not positive", c.Rounds)
	}
	if c.GracePeriod < minFailoverGracePeriod {
		return fmt.Errorf("--node-monitor-grace-period: %v is below %v: the agents renew their Lease every 10 s, so the healthy node would turn NotReady between renewals",
			c.GracePeriod, minFailoverGracePeriod)
	}
	if c.TolerationSeconds < 0 {
		return fmt.Errorf("--toleration-seconds: %d is negative", c.TolerationSeconds)
	}
	if c.Timeout <= 0 {
		return fmt.Errorf("--timeout: %v is not positive", c.Timeout)
	}
	if _, err := netip.ParsePrefix(c.ClusterCIDR); err != nil {
		return fmt.Errorf("--cluster-cidr: %w", err)
	}
	for _, b := range c.Bridges {
		if b == "" || len(b) > 15 || strings.ContainsAny(b, "/: \t\n") {
			return fmt.Errorf("--cni-bridges: %q is not an interface name (at most 15 bytes, no '/', ':' or spaces)", b)
		}
	}
	if c.Bridges[0] == c.Bridges[1] {
		return fmt.Errorf("--cni-bridges: the two agents need two bridges, not %q twice", c.Bridges[0])
	}
	return nil
}

// withDefaults fills in the zero fields and validates the result.
func (c FailoverConfig) withDefaults() (FailoverConfig, error) {
	d := DefaultFailoverConfig()
	c.Logger = cmp.Or(c.Logger, slog.Default())
	c.Replicas, c.Rounds = cmp.Or(c.Replicas, d.Replicas), cmp.Or(c.Rounds, d.Rounds)
	c.GracePeriod, c.Timeout = cmp.Or(c.GracePeriod, d.GracePeriod), cmp.Or(c.Timeout, d.Timeout)
	c.ClusterCIDR = cmp.Or(c.ClusterCIDR, d.ClusterCIDR)
	if c.Bridges == [2]string{} {
		c.Bridges = d.Bridges
	}
	var err error
	if c.Binary, err = berthBinary(c.Binary); err != nil {
		return c, err
	}
	return c, c.Validate()
}
