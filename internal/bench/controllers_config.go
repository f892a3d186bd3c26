package bench

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"
)

// Defaults of ControllersConfig: the target load of 1,000
// Deployments × 10 replicas (10,000 pods).
const (
	// DefaultDeployments is how many Deployments are created at once.
	DefaultDeployments = 1000
	// DefaultReplicas is spec.replicas of every Deployment.
	DefaultReplicas = 10
	// DefaultNodes is how many fake Ready nodes are registered.
	DefaultNodes = 100
	// DefaultCreateClients is how many goroutines create the Deployments.
	DefaultCreateClients = 16
	// DefaultControllersTimeout bounds first create → everything synced.
	DefaultControllersTimeout = 10 * time.Minute
	// maxControllerPods bounds deployments × replicas.
	maxControllerPods = 1_000_000
)

// ControllersConfig configures RunControllers. Zero values of Clients,
// Timeout and IdleWait mean their defaults; use DefaultControllersConfig for
// the defaults of `berth bench controllers`.
type ControllersConfig struct {
	// Deployments is how many Deployments are created.
	Deployments int
	// Replicas is spec.replicas of each Deployment.
	Replicas int
	// Nodes is how many fake Node objects (Ready, large allocatable) are
	// registered before the load; nothing schedules pods onto them.
	Nodes int
	// Clients is how many goroutines, sharing one clientset, create the
	// Deployments.
	Clients int
	// Timeout bounds the time from the first create until every
	// ReplicaSet and Deployment reports all its pods.
	Timeout time.Duration
	// JSONOnly leaves out the human-readable summary.
	JSONOnly bool
	// PlotFile, when set, receives a PNG chart of pods created over time.
	PlotFile string
	// Binary is the berth executable spawned as `berth server`;
	// os.Executable() when empty.
	Binary string
	// IdleWait is how long the server idles once its controllers run
	// before its idle RSS is read; DefaultIdleWait when zero.
	IdleWait time.Duration
	// Logger receives progress messages; slog.Default() when nil.
	Logger *slog.Logger
}

// DefaultControllersConfig returns the configuration of
// `berth bench controllers` without flags.
func DefaultControllersConfig() ControllersConfig {
	return ControllersConfig{
		Deployments: DefaultDeployments,
		Replicas:    DefaultReplicas,
		Nodes:       DefaultNodes,
		Clients:     DefaultCreateClients,
		Timeout:     DefaultControllersTimeout,
		IdleWait:    DefaultIdleWait,
	}
}

// ParseControllersArgs parses the flags of `berth bench controllers` into a
// validated ControllersConfig. Usage and flag errors are written to output.
// It returns flag.ErrHelp for -h.
func ParseControllersArgs(args []string, output io.Writer) (ControllersConfig, error) {
	cfg := DefaultControllersConfig()
	fs := newBenchFlagSet("controllers", "Spawns 'berth server', creates Deployments at once and times the workload controllers\n"+
		"until every pod exists; the last output line is JSON.", output)
	fs.IntVar(&cfg.Deployments, "deployments", cfg.Deployments, "Deployments created at once")
	fs.IntVar(&cfg.Replicas, "replicas", cfg.Replicas, "spec.replicas of each Deployment")
	fs.IntVar(&cfg.Nodes, "nodes", cfg.Nodes, "fake Ready nodes registered first (pods stay unbound: there is no scheduler)")
	fs.IntVar(&cfg.Clients, "clients", cfg.Clients, "goroutines creating the Deployments")
	fs.DurationVar(&cfg.Timeout, "timeout", cfg.Timeout, "limit from the first create until every ReplicaSet and Deployment reports all pods")
	fs.BoolVar(&cfg.JSONOnly, "json-only", false, "print only the JSON line")
	fs.StringVar(&cfg.PlotFile, "plot", "", "write a PNG chart of pods created over time to `file`")
	if err := parseBenchFlags(fs, args); err != nil {
		return cfg, err
	}
	return cfg, cfg.Validate()
}

// Validate reports the first invalid setting, naming its flag. Unlike
// RunControllers it does not fill in defaults: Clients and Timeout must be
// positive.
func (c ControllersConfig) Validate() error {
	switch {
	case c.Deployments <= 0:
		return fmt.Errorf("--deployments: %d is not a positive integer", c.Deployments)
	case c.Replicas <= 0:
		return fmt.Errorf("--replicas: %d is not a positive integer", c.Replicas)
	case c.Deployments*c.Replicas > maxControllerPods:
		return fmt.Errorf("--deployments × --replicas: %d pods is more than %d", c.Deployments*c.Replicas, maxControllerPods)
	case c.Nodes < 0:
		return fmt.Errorf("--nodes: %d is negative", c.Nodes)
	case c.Clients <= 0 || c.Clients > maxClients:
		return fmt.Errorf("--clients: %d is out of range 1..%d", c.Clients, maxClients)
	case c.Timeout <= 0:
		return fmt.Errorf("--timeout: %v is not positive", c.Timeout)
	case c.IdleWait < 0:
		return fmt.Errorf("idle wait %v is negative", c.IdleWait)
	}
	return nil
}

func (c ControllersConfig) withDefaults() (ControllersConfig, error) {
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.Clients == 0 {
		c.Clients = DefaultCreateClients
	}
	if c.Timeout == 0 {
		c.Timeout = DefaultControllersTimeout
	}
	if c.IdleWait == 0 {
		c.IdleWait = DefaultIdleWait
	}
	var err error
	if c.Binary, err = berthBinary(c.Binary); err != nil {
		return c, err
	}
	if err = c.Validate(); err != nil {
		return c, err
	}
	if c.Clients > c.Deployments {
		c.Clients = c.Deployments // every goroutine needs a Deployment to create
	}
	return c, nil
}

// errNoProgress marks a run that ended before every pod was created.
var errNoProgress = errors.New("not every pod was created")
