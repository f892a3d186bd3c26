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
	"strings"
	"syscall"

	"github.com/berth-dev/berth/internal/bench"
)

// benchCommand runs one benchmark with its flags and returns the exit code.
type benchCommand func(ctx context.Context, name string, args []string, logger *slog.Logger, stdout, stderr io.Writer) int

// benchmarks are the subcommands of `berth bench`, in the order the usage
// lists them.
var benchmarks = []struct {
	name string
	run  benchCommand
}{
	{"api", newBenchCommand(bench.ParseAPIArgs, bench.RunAPI, func(c *bench.APIConfig, l *slog.Logger) { c.Logger = l })},
	{"controllers", newBenchCommand(bench.ParseControllersArgs, bench.RunControllers, func(c *bench.ControllersConfig, l *slog.Logger) { c.Logger = l })},
	{"scheduler", newBenchCommand(bench.ParseSchedulerArgs, bench.RunScheduler, func(c *bench.SchedulerConfig, l *slog.Logger) { c.Logger = l })},
	{"pods", newBenchCommand(bench.ParsePodsArgs, bench.RunPods, func(c *bench.PodsConfig, l *slog.Logger) { c.Logger = l })},
	{"failover", newBenchCommand(bench.ParseFailoverArgs, bench.RunFailover, func(c *bench.FailoverConfig, l *slog.Logger) { c.Logger = l })},
	{"lb", newBenchCommand(bench.ParseLBArgs, bench.RunLB, func(c *bench.LBConfig, l *slog.Logger) { c.Logger = l })},
	{"hpa", newBenchCommand(bench.ParseHPAArgs, bench.RunHPA, func(c *bench.HPAConfig, l *slog.Logger) { c.Logger = l })},
}

// runBench runs `berth bench NAME [flags]`. The last line it writes to
// stdout is JSON, also on failure.
func runBench(args []string, stdout, stderr io.Writer) int {
	names := make([]string, len(benchmarks))
	for i, b := range benchmarks {
		names[i] = b.name
	}
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprintf(stderr, "usage: berth bench %s [flags]   (berth bench NAME -h lists the flags)\n", strings.Join(names, "|"))
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	// The load generators and clients run with the collector settings of
	// Berth's servers, so their own collections disturb the measurements
	// no more than necessary.
	defer tuneGC(ctx, logger)()
	for _, b := range benchmarks {
		if b.name == args[0] {
			return b.run(ctx, b.name, args[1:], logger, stdout, stderr)
		}
	}
	fmt.Fprintf(stderr, "berth bench: unknown benchmark %q (available: %s)\n", args[0], strings.Join(names, ", "))
	return 2
}

// newBenchCommand makes the command of a benchmark from its flag parser
// (which writes usage and flag errors to stderr), its run function and a
// function setting the logger of its configuration. The command returns
// 0, 1 when the benchmark failed, or 2 for bad flags, after which the last
// line on stdout is the JSON error.
func newBenchCommand[C, R any](parse func([]string, io.Writer) (C, error), run func(context.Context, C, io.Writer) (R, error),
	setLogger func(*C, *slog.Logger)) benchCommand {
	return func(ctx context.Context, name string, args []string, logger *slog.Logger, stdout, stderr io.Writer) int {
		cfg, err := parse(args, stderr)
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		if err != nil {
			fmt.Fprintf(stderr, "berth bench %s: %v\n", name, err)
			bench.WriteErrorJSONFor(stdout, name, err)
			return 2
		}
		setLogger(&cfg, logger)
		if _, err := run(ctx, cfg, stdout); err != nil {
			fmt.Fprintf(stderr, "berth bench %s: %v\n", name, err)
			return 1
		}
		return 0
	}
}
