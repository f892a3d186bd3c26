package bench

import (
	"cmp"
	"fmt"
	"io"
	"log/slog"
	"time"
)

// Defaults and limits of LBConfig.
const (
	// DefaultLBConnections is wrk's -c: open connections per target.
	DefaultLBConnections = 64
	// DefaultLBThreads is wrk's -t.
	DefaultLBThreads = 2
	// DefaultLBDuration is wrk's -d per target and round.
	DefaultLBDuration = 10 * time.Second
	// DefaultLBRounds is how many times every target is measured (the
	// targets interleaved in each round).
	DefaultLBRounds = 3
	// DefaultLBWarmup is the unrecorded wrk run per target before the
	// first round (fills connection pools, faults in the code).
	DefaultLBWarmup = 2 * time.Second
	// lbBackends is how many backends (pods of the Service) there are.
	lbBackends = 3
	// maxLBConnections bounds --connections.
	maxLBConnections = 10000
)

// LBConfig configures RunLB. Zero values mean the defaults, except Warmup
// (0 skips the warm-up); DefaultLBConfig returns the defaults of `berth
// bench lb`.
type LBConfig struct {
	// Connections is wrk's -c: connections kept open per target.
	Connections int
	// Threads is wrk's -t.
	Threads int
	// Duration is wrk's -d per target and round: whole seconds, at least 1.
	Duration time.Duration
	// Rounds is how many times every target is measured; the figures are
	// the medians over the rounds.
	Rounds int
	// Warmup is an unrecorded wrk run per target before the first round
	// (whole seconds; 0 skips it).
	Warmup time.Duration
	// WebApp, when set, is the examples/webapp executable run three times
	// as the backends (PORT and POD_NAME in the environment); otherwise
	// the backends are HTTP servers in this process answering as it does.
	WebApp string
	// Wrk and HAProxy are the executables of wrk and haproxy (looked up on
	// PATH when they have no slash).
	Wrk     string
	HAProxy string
	// JSONOnly leaves out the human-readable summary.
	JSONOnly bool
	// PlotFile, when set, receives a PNG bar chart of requests/s and
	// p50/p99 latency per target.
	PlotFile string
	// Logger receives progress messages; slog.Default() when nil.
	Logger *slog.Logger
}

// DefaultLBConfig returns the configuration of `berth bench lb` without
// flags.
func DefaultLBConfig() LBConfig {
	return LBConfig{
		Connections: DefaultLBConnections,
		Threads:     DefaultLBThreads,
		Duration:    DefaultLBDuration,
		Rounds:      DefaultLBRounds,
		Warmup:      DefaultLBWarmup,
		Wrk:         "wrk",
		HAProxy:     "haproxy",
	}
}

// ParseLBArgs parses the flags of `berth bench lb` into a validated
// LBConfig. Usage and flag errors are written to output. It returns
// flag.ErrHelp for -h.
func ParseLBArgs(args []string, output io.Writer) (LBConfig, error) {
	cfg := DefaultLBConfig()
	fs := newBenchFlagSet("lb", "Measures Berth's service proxy (the agent's forwarding code, in this process, round-robin over\n"+
		"three backends, in TCP and HTTP mode) against HAProxy configured the same way and against a backend\n"+
		"directly, with wrk, all on loopback in one run: requests/s and p50/p99 latency, as ratios to HAProxy.\n"+
		"Needs the Debian packages wrk and haproxy. The last output line is JSON.", output)
	fs.IntVar(&cfg.Connections, "connections", cfg.Connections, "wrk's -c: connections kept open per target")
	fs.IntVar(&cfg.Threads, "threads", cfg.Threads, "wrk's -t: wrk threads")
	fs.DurationVar(&cfg.Duration, "duration", cfg.Duration, "wrk's -d per target and round (whole seconds)")
	fs.IntVar(&cfg.Rounds, "rounds", cfg.Rounds, "rounds; each measures every target once (interleaved) and the medians are reported")
	fs.DurationVar(&cfg.Warmup, "warmup", cfg.Warmup, "unrecorded wrk run per target before the first round (whole seconds; 0 skips it)")
	fs.StringVar(&cfg.WebApp, "webapp", "", "examples/webapp `executable` run as the three backends (default: HTTP servers in this process)")
	fs.StringVar(&cfg.Wrk, "wrk", cfg.Wrk, "wrk `executable` (Debian package wrk)")
	fs.StringVar(&cfg.HAProxy, "haproxy", cfg.HAProxy, "haproxy `executable` (Debian package haproxy)")
	fs.BoolVar(&cfg.JSONOnly, "json-only", false, "print only the JSON line")
	fs.StringVar(&cfg.PlotFile, "plot", "", "write a PNG chart of requests/s and p50/p99 latency per target to `file`")
	if err := parseBenchFlags(fs, args); err != nil {
		return cfg, err
	}
	return cfg, cfg.Validate()
}

// Validate reports the first invalid setting, naming its flag. Unlike
// RunLB it does not fill in defaults.
func (c LBConfig) Validate() error {
	if c.Threads < 1 || c.Threads > 64 {
		return fmt.Errorf("--threads: %d is out of range 1..64", c.Threads)
	}
	if c.Connections < c.Threads || c.Connections > maxLBConnections {
		return fmt.Errorf("--connections: %d is out of range %d..%d (wrk needs at least one connection per thread)", c.Connections, c.Threads, maxLBConnections)
	}
	if c.Duration < time.Second || c.Duration%time.Second != 0 {
		return fmt.Errorf("--duration: %v is not a whole number of seconds ≥ 1s (wrk's -d counts seconds)", c.Duration)
	}
	if c.Warmup < 0 || c.Warmup%time.Second != 0 {
		return fmt.Errorf("--warmup: %v is not a whole number of seconds ≥ 0", c.Warmup)
	}
	if c.Rounds <= 0 {
		return fmt.Errorf("--rounds: %d is not positive", c.Rounds)
	}
	if c.Wrk == "" {
		return fmt.Errorf("--wrk: empty")
	}
	if c.HAProxy == "" {
		return fmt.Errorf("--haproxy: empty")
	}
	return nil
}

// withDefaults fills in the zero fields and validates the result.
func (c LBConfig) withDefaults() (LBConfig, error) {
	d := DefaultLBConfig()
	c.Logger = cmp.Or(c.Logger, slog.Default())
	c.Connections, c.Threads = cmp.Or(c.Connections, d.Connections), cmp.Or(c.Threads, d.Threads)
	c.Duration, c.Rounds = cmp.Or(c.Duration, d.Duration), cmp.Or(c.Rounds, d.Rounds)
	c.Wrk, c.HAProxy = cmp.Or(c.Wrk, d.Wrk), cmp.Or(c.HAProxy, d.HAProxy)
	return c, c.Validate()
}
