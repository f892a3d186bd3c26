package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/berth-dev/berth/internal/sim"
)

// runSim runs `berth sim NAME [flags]`. The last line it writes to stdout
// is JSON, also on failure.
func runSim(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprintln(stderr, "usage: berth sim autoscale [flags]   (berth sim autoscale -h lists the flags)")
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	if args[0] != "autoscale" {
		fmt.Fprintf(stderr, "berth sim: unknown simulation %q (available: autoscale)\n", args[0])
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	cmd, err := sim.ParseAutoscaleArgs(args[1:], stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintf(stderr, "berth sim autoscale: %v\n", err)
		fmt.Fprintf(stdout, "{\"sim\":\"autoscale\",\"error\":%q}\n", err.Error())
		return 2
	}
	if _, err := sim.RunAutoscaleCommand(ctx, cmd, stdout); err != nil {
		fmt.Fprintf(stderr, "berth sim autoscale: %v\n", err)
		return 1
	}
	return 0
}
