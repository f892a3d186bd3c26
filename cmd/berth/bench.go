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
	"syscall"

	"github.com/berth-dev/berth/internal/bench"
)

// runBench runs `berth bench NAME [flags]`. The last line it writes to
// stdout is JSON, also on failure.
func runBench(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprintln(stderr, "usage: berth bench api|controllers|scheduler [flags]   (berth bench NAME -h lists the flags)")
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	switch args[0] {
	case "api":
		cfg, err := bench.ParseAPIArgs(args[1:], stderr)
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		if err != nil {
			fmt.Fprintf(stderr, "berth bench api: %v\n", err)
			bench.WriteErrorJSON(stdout, err)
			return 2
		}
		cfg.Logger = logger
		if _, err := bench.RunAPI(ctx, cfg, stdout); err != nil {
			fmt.Fprintf(stderr, "berth bench api: %v\n", err)
			return 1
		}
		return 0
	case "controllers":
		cfg, err := bench.ParseControllersArgs(args[1:], stderr)
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		if err != nil {
			fmt.Fprintf(stderr, "berth bench controllers: %v\n", err)
			bench.WriteErrorJSONFor(stdout, "controllers", err)
			return 2
		}
		cfg.Logger = logger
		if _, err := bench.RunControllers(ctx, cfg, stdout); err != nil {
			fmt.Fprintf(stderr, "berth bench controllers: %v\n", err)
			return 1
		}
		return 0
	case "scheduler":
		cfg, err := bench.ParseSchedulerArgs(args[1:], stderr)
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		if err != nil {
			fmt.Fprintf(stderr, "berth bench scheduler: %v\n", err)
			bench.WriteErrorJSONFor(stdout, "scheduler", err)
			return 2
		}
		cfg.Logger = logger
		if _, err := bench.RunScheduler(ctx, cfg, stdout); err != nil {
			fmt.Fprintf(stderr, "berth bench scheduler: %v\n", err)
			return 1
		}
		return 0
	}
	fmt.Fprintf(stderr, "berth bench: unknown benchmark %q (available: api, controllers, scheduler)\n", args[0])
	return 2
}
