package bench

import (
	"fmt"
	"io"
	"log/slog"
	"time"
)

// Defaults of SchedulerConfig: 10,000 pods onto 5,000 fake nodes, created
// by 64 goroutines.
const (
	// DefaultSchedulerNodes is how many fake Ready nodes are registered.
	DefaultSchedulerNodes = 5000
	// DefaultSchedulerPods is how many pods are created and must be bound.
	DefaultSchedulerPods = 10000
	// DefaultSchedulerClients is how many goroutines create the pods (and
	// register the nodes).
	DefaultSchedulerClients = 64
	// DefaultSchedulerTimeout bounds first create → every pod bound.
	DefaultSchedulerTimeout = 10 * time.Minute
	// SchedulerTargetPodsPerSecond is the goal for pods bound per second
	// (pods / (last bind − first create)) on a 2-core machine.
	SchedulerTargetPodsPerSecond = 1000
	// schedulerNodeMaxPods is the allocatable pod count of a fake node.
	schedulerNodeMaxPods = 110
	// maxSchedulerNodes and maxSchedulerPods bound the flags.
	maxSchedulerNodes = 100_000
	maxSchedulerPods  = 1_000_000
)

// SchedulerConfig configures RunScheduler. Zero values of Clients and
// Timeout mean their defaults; use DefaultSchedulerConfig for the defaults
// of `berth bench scheduler`.
type SchedulerConfig struct {
	// Nodes is how many fake Node objects (Ready; allocatable 32 CPUs,
	// 128 GiB, 110 pods) are registered before the load. No agent runs
	// behind them.
	Nodes int
	// Pods is how many pods (cpu 100m, memory 500Mi) are created; every
	// one must be bound by the server's scheduler.
	Pods int
	// Clients is how many goroutines, sharing one clientset, create the
	// pods (and register the nodes).
	Clients int
	// Timeout bounds the time from the first pod create until every pod
	// is bound.
	Timeout time.Duration
	// JSONOnly leaves out the human-readable summary.
	JSONOnly bool
	// PlotFile, when set, receives a PNG chart of pods created and bound
	// over time and of the binds per second.
	PlotFile string
	// Binary is the berth executable spawned as `berth server`;
	// os.Executable() when empty.
	Binary string
	// Logger receives progress messages; slog.Default() when nil.
	Logger *slog.Logger
}

// DefaultSchedulerConfig returns the configuration of
// `berth bench scheduler` without flags.
func DefaultSchedulerConfig() SchedulerConfig {
	return SchedulerConfig{
		Nodes:   DefaultSchedulerNodes,
		Pods:    DefaultSchedulerPods,
		Clients: DefaultSchedulerClients,
		Timeout: DefaultSchedulerTimeout,
	}
}

// ParseSchedulerArgs parses the flags of `berth bench scheduler` into a
// validated SchedulerConfig. Usage and flag errors are written to output.
// It returns flag.ErrHelp for -h.
func ParseSchedulerArgs(args []string, output io.Writer) (SchedulerConfig, error) {
	cfg := DefaultSchedulerConfig()
	fs := newBenchFlagSet("scheduler", "Spawns 'berth server', registers fake nodes, creates pods and times the scheduler\n"+
		"until every pod is bound; the last output line is JSON.", output)
	fs.IntVar(&cfg.Nodes, "nodes", cfg.Nodes, "fake Ready nodes registered first (32 CPUs, 128 GiB, 110 pods each; no agent)")
	fs.IntVar(&cfg.Pods, "pods", cfg.Pods, "pods created (cpu 100m, memory 500Mi each); every one must be bound")
	fs.IntVar(&cfg.Clients, "clients", cfg.Clients, "goroutines creating the pods and registering the nodes")
	fs.DurationVar(&cfg.Timeout, "timeout", cfg.Timeout, "limit from the first pod create until every pod is bound")
	fs.BoolVar(&cfg.JSONOnly, "json-only", false, "print only the JSON line")
	fs.StringVar(&cfg.PlotFile, "plot", "", "write a PNG chart of pods created and bound over time and binds per second to `file`")
	if err := parseBenchFlags(fs, args); err != nil {
		return cfg, err
	}
	return cfg, cfg.Validate()
}

// Validate reports the first invalid setting, naming its flag. Unlike
// RunScheduler it does not fill in defaults: Clients and Timeout must be
// positive.
func (c SchedulerConfig) Validate() error {
	switch {
	case c.Nodes <= 0 || c.Nodes > maxSchedulerNodes:
		return fmt.Errorf("--nodes: %d is out of range 1..%d", c.Nodes, maxSchedulerNodes)
	case c.Pods <= 0 || c.Pods > maxSchedulerPods:
		return fmt.Errorf("--pods: %d is out of range 1..%d", c.Pods, maxSchedulerPods)
	case c.Pods > c.Nodes*schedulerNodeMaxPods:
		return fmt.Errorf("--pods: %d pods do not fit on --nodes %d (at most %d pods per node, %d in all)",
			c.Pods, c.Nodes, schedulerNodeMaxPods, c.Nodes*schedulerNodeMaxPods)
	case c.Clients <= 0 || c.Clients > maxClients:
		return fmt.Errorf("--clients: %d is out of range 1..%d", c.Clients, maxClients)
	case c.Timeout <= 0:
		return fmt.Errorf("--timeout: %v is not positive", c.Timeout)
	}
	return nil
}

func (c SchedulerConfig) withDefaults() (SchedulerConfig, error) {
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.Clients == 0 {
		c.Clients = DefaultSchedulerClients
	}
	if c.Timeout == 0 {
		c.Timeout = DefaultSchedulerTimeout
	}
	var err error
	if c.Binary, err = berthBinary(c.Binary); err != nil {
		return c, err
	}
	return c, c.Validate()
}
