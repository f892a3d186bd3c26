package runtimetest

import (
	"strconv"
	"strings"
	"time"
)

// Shell is the interpreter Behaviour.Command runs the script with.
const Shell = "/bin/sh"

// DefaultPath is the PATH the harness puts into every container's env, so
// that real shells find sleep and friends.
const DefaultPath = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// Behaviour describes what a test container does. Command renders it as
// a POSIX shell script (["/bin/sh", "-c", script]) that drivers running
// real processes execute and that the mock driver interprets (it
// understands exactly the statements Script produces). The steps run in
// the order of the fields.
type Behaviour struct {
	// IgnoreTERM makes the container (and the commands it runs) ignore
	// SIGTERM, so that only a kill after the grace period stops it.
	IgnoreTERM bool
	// Stdout are lines written to stdout first.
	Stdout []string
	// Stderr are lines written to stderr next.
	Stderr []string
	// PrintEnv are names of environment variables whose values are
	// printed on stdout, one line each ("" for unset ones).
	PrintEnv []string
	// PrintCwd prints the working directory on stdout.
	PrintCwd bool
	// Busy burns CPU forever (the container then runs until stopped).
	Busy bool
	// Sleep pauses the container (a foreground sleep; SIGTERM ends it
	// unless IgnoreTERM).
	Sleep time.Duration
	// After are lines written to stdout after the sleep.
	After []string
	// ExitCode is the container's exit code once everything ran.
	ExitCode int
}

// Command is the container command running the behaviour.
func (b Behaviour) Command() []string {
	return []string{Shell, "-c", b.Script()}
}

// Script renders the behaviour as statements separated by "; ".
func (b Behaviour) Script() string {
	var s []string
	if b.IgnoreTERM {
		s = append(s, "trap '' TERM")
	}
	for _, l := range b.Stdout {
		s = append(s, `printf '%s\n' `+Quote(l))
	}
	for _, l := range b.Stderr {
		s = append(s, `printf '%s\n' `+Quote(l)+" >&2")
	}
	for _, n := range b.PrintEnv {
		s = append(s, `printf '%s\n' "${`+n+`}"`)
	}
	if b.PrintCwd {
		s = append(s, "pwd")
	}
	if b.Busy {
		s = append(s, "while :; do :; done")
	}
	if b.Sleep > 0 {
		s = append(s, "sleep "+strconv.FormatFloat(b.Sleep.Seconds(), 'f', -1, 64))
	}
	for _, l := range b.After {
		s = append(s, `printf '%s\n' `+Quote(l))
	}
	s = append(s, "exit "+strconv.Itoa(b.ExitCode))
	return strings.Join(s, "; ")
}

// Quote quotes s for a POSIX shell: in single quotes, where a single
// quote inside is closed, escaped and reopened.
func Quote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
