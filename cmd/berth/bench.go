package main

import (
	"fmt"
	"io"
)

// runBench runs `berth bench NAME [flags]`.
func runBench(args []string, stdout, stderr io.Writer) int {
	fmt.Fprintln(stderr, "berth bench: no benchmarks are built into this version yet")
	return 2
}
