package bench

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"
)

// Defaults of APIConfig, chosen so that the default run of `berth bench api`
// finishes in about four minutes on a 2-core machine.
const (
	// DefaultOps is the number of operations per verb per concurrency level.
	DefaultOps = 2000
	// DefaultListObjects is how many pods the big-list measurement creates.
	DefaultListObjects = 10000
	// DefaultIdleWait is how long the spawned server idles before its idle
	// RSS is read.
	DefaultIdleWait = 5 * time.Second
	// maxClients bounds one concurrency level (goroutines sharing a client).
	maxClients = 4096
)

// DefaultClients are the default concurrency levels.
var DefaultClients = []int{1, 16, 64}

// APIConfig configures RunAPI. The zero value of a field means its default,
// except ListObjects, where 0 skips the big-list measurement; use
// DefaultAPIConfig for the defaults of `berth bench api`.
type APIConfig struct {
	// Clients are the concurrency levels, run in this order: at level c, c
	// goroutines share one clientset.
	Clients []int
	// Ops is the number of operations per verb per level, split across the
	// level's goroutines.
	Ops int
	// ListObjects is how many pods the big-list measurement creates; 0
	// skips it.
	ListObjects int
	// Server is the URL of an already running API server. It needs
	// Kubeconfig for the credentials.
	Server string
	// Kubeconfig is the kubeconfig of an already running server. When set,
	// RunAPI benchmarks that server instead of spawning one and reports no
	// start or memory figures.
	Kubeconfig string
	// JSONOnly leaves out the human-readable table: only the JSON line is
	// written.
	JSONOnly bool
	// PlotFile, when set, receives a PNG bar chart of p50/p99 latency per
	// verb per level.
	PlotFile string
	// Binary is the berth executable spawned as `berth server`;
	// os.Executable() when empty.
	Binary string
	// IdleWait is how long the spawned server idles after it is ready
	// before its idle RSS is read; DefaultIdleWait when zero.
	IdleWait time.Duration
	// Logger receives progress messages; slog.Default() when nil.
	Logger *slog.Logger
}

// DefaultAPIConfig returns the configuration of `berth bench api` without
// flags.
func DefaultAPIConfig() APIConfig {
	return APIConfig{
		Clients:     append([]int(nil), DefaultClients...),
		Ops:         DefaultOps,
		ListObjects: DefaultListObjects,
		IdleWait:    DefaultIdleWait,
	}
}

// ParseAPIArgs parses the flags of `berth bench api` into a validated
// APIConfig. Usage and flag errors are written to output. It returns
// flag.ErrHelp for -h.
func ParseAPIArgs(args []string, output io.Writer) (APIConfig, error) {
	cfg := DefaultAPIConfig()
	fs := newBenchFlagSet("api", "Benchmarks the API server from outside; the last output line is JSON.", output)
	clients := fs.String("clients", joinInts(DefaultClients), "comma-separated concurrency levels (goroutines sharing one client)")
	fs.IntVar(&cfg.Ops, "ops", cfg.Ops, "operations per verb per concurrency level")
	fs.IntVar(&cfg.ListObjects, "list-objects", cfg.ListObjects, "pods created for the big-list measurement (0 skips it)")
	fs.StringVar(&cfg.Server, "server", "", "`URL` of an already running API server (needs --kubeconfig); no start/RSS figures then")
	fs.StringVar(&cfg.Kubeconfig, "kubeconfig", "", "kubeconfig `file` of an already running server (default: spawn 'berth server' in a temp dir)")
	fs.BoolVar(&cfg.JSONOnly, "json-only", false, "print only the JSON line")
	fs.StringVar(&cfg.PlotFile, "plot", "", "write a PNG chart of p50/p99 latency per verb and level to `file`")
	if err := parseBenchFlags(fs, args); err != nil {
		return cfg, err
	}
	var err error
	if cfg.Clients, err = ParseClients(*clients); err != nil {
		return cfg, fmt.Errorf("--clients %q: %w", *clients, err)
	}
	return cfg, cfg.Validate()
}

// ParseClients parses a comma-separated list of distinct positive integers
// such as "1,16,64".
func ParseClients(s string) ([]int, error) {
	var out []int
	seen := map[int]bool{}
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			return nil, errors.New("empty entry: want comma-separated positive integers such as 1,16,64")
		}
		n, err := strconv.Atoi(f)
		if err != nil || n <= 0 {
			return nil, fmt.Errorf("%q is not a positive integer", f)
		}
		if seen[n] {
			return nil, fmt.Errorf("%d is listed twice", n)
		}
		seen[n] = true
		out = append(out, n)
	}
	return out, nil
}

// Validate reports the first invalid setting, naming its flag.
func (c APIConfig) Validate() error {
	if len(c.Clients) == 0 {
		return errors.New("--clients: at least one concurrency level is needed")
	}
	seen := map[int]bool{}
	for _, n := range c.Clients {
		if n <= 0 || n > maxClients {
			return fmt.Errorf("--clients: %d is out of range 1..%d", n, maxClients)
		}
		if seen[n] {
			return fmt.Errorf("--clients: %d is listed twice", n)
		}
		seen[n] = true
	}
	if c.Ops <= 0 {
		return fmt.Errorf("--ops: %d is not a positive integer", c.Ops)
	}
	if m := c.maxClients(); c.Ops < m {
		return fmt.Errorf("--ops: %d is fewer than the %d clients of the largest level; every client needs at least one operation", c.Ops, m)
	}
	if c.ListObjects < 0 {
		return fmt.Errorf("--list-objects: %d is negative", c.ListObjects)
	}
	if c.Server != "" {
		u, err := url.Parse(c.Server)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			return fmt.Errorf("--server %q: want a URL such as https://127.0.0.1:6443", c.Server)
		}
		if c.Kubeconfig == "" {
			return errors.New("--server needs --kubeconfig for the credentials")
		}
	}
	if c.Kubeconfig != "" {
		if _, err := os.Stat(c.Kubeconfig); err != nil {
			return fmt.Errorf("--kubeconfig: %w", err)
		}
	}
	if c.IdleWait < 0 {
		return fmt.Errorf("idle wait %v is negative", c.IdleWait)
	}
	return nil
}

// external reports whether an already running server is benchmarked.
func (c APIConfig) external() bool { return c.Kubeconfig != "" }

// maxClients is the highest concurrency level.
func (c APIConfig) maxClients() int { return maxOf(c.Clients) }

func (c APIConfig) withDefaults() (APIConfig, error) {
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.IdleWait == 0 {
		c.IdleWait = DefaultIdleWait
	}
	if !c.external() {
		var err error
		if c.Binary, err = berthBinary(c.Binary); err != nil {
			return c, err
		}
	}
	c.Clients = append([]int(nil), c.Clients...)
	return c, c.Validate()
}

// newBenchFlagSet returns the flag set of `berth bench <name>`. It writes
// flag errors and the usage to output; the usage is the command line,
// about and the flags.
func newBenchFlagSet(name, about string, output io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("berth bench "+name, flag.ContinueOnError)
	fs.SetOutput(output)
	fs.Usage = func() {
		fmt.Fprintf(output, "Usage: berth bench %s [flags]\n\n%s\n\nFlags:\n", name, about)
		fs.PrintDefaults()
	}
	return fs
}

// parseBenchFlags parses args with fs and rejects positional arguments.
func parseBenchFlags(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %v", fs.Args())
	}
	return nil
}

// berthBinary is bin, or this executable when bin is empty: the berth
// binary spawned as `berth server`.
func berthBinary(bin string) (string, error) {
	if bin != "" {
		return bin, nil
	}
	exe, err := os.Executable()
	if err != nil {
		return "", fmt.Errorf("bench: find the berth binary: %w", err)
	}
	return exe, nil
}

func maxOf(xs []int) int {
	m := 0
	for _, x := range xs {
		m = max(m, x)
	}
	return m
}

func joinInts(xs []int) string {
	s := make([]string, len(xs))
	for i, x := range xs {
		s[i] = strconv.Itoa(x)
	}
	return strings.Join(s, ",")
}
