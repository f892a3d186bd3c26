// Package runtimetest is the conformance harness every runtime driver must
// pass. A driver's tests call Run with a constructor and the driver's
// Capabilities:
//
//	func TestConformance(t *testing.T) {
//		runtimetest.Run(t, func(t *testing.T) runtime.Driver {
//			d := newTestDriver(t) // registers its clean-up with t
//			return d
//		}, runtimetest.Capabilities{Exec: true})
//	}
//
// Test containers are described by a Behaviour (print lines, print env
// values or the working directory, ignore SIGTERM, burn CPU, sleep, exit
// with a code). Behaviour.Command renders it as ["/bin/sh", "-c", script]:
// drivers that run real processes execute the script, and the mock driver
// interprets the few statements it is made of, so the same subtests run
// against both.
//
// The subtests cover the sandbox lifecycle, exit codes and reasons,
// graceful and forced stops, env and working directory, logs (plain,
// timestamps, tail, since, byte limit, follow), listing, removal,
// runtime.ErrNotFound for unknown IDs, runtime.ErrNoCommand, Exec, stats
// and concurrent starts. They run in parallel, each with its own driver.
package runtimetest
