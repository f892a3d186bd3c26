package bench

import (
	"context"
	"errors"
	"fmt"
	"math"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// WrkResult is what one wrk run reported.
type WrkResult struct {
	// RPS is the "Requests/sec" line.
	RPS float64
	// P50Ms and P99Ms are the 50% and 99% lines of the latency
	// distribution (wrk --latency), in milliseconds.
	P50Ms, P99Ms float64
	// Requests is the total of the "N requests in T" line.
	Requests int64
	// SocketErrors is the sum of the "Socket errors" line (connect, read,
	// write, timeout); 0 when wrk printed none.
	SocketErrors int64
	// Non2xx is the "Non-2xx or 3xx responses" count.
	Non2xx int64
}

// ParseWrkOutput reads the figures of wrk's output (run with --latency).
// It fails when Requests/sec or the 50% or 99% latency is missing.
func ParseWrkOutput(out string) (WrkResult, error) {
	var r WrkResult
	var haveRPS, have50, have99 bool
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		if len(f) == 0 {
			continue
		}
		var err error
		switch {
		case f[0] == "Requests/sec:" && len(f) == 2:
			r.RPS, err = parseMetric(f[1])
			haveRPS = true
		case (f[0] == "50%" || f[0] == "99%") && len(f) == 2:
			var d time.Duration
			if d, err = parseWrkTime(f[1]); err == nil {
				if f[0] == "50%" {
					r.P50Ms, have50 = ms(d), true
				} else {
					r.P99Ms, have99 = ms(d), true
				}
			}
		case len(f) >= 3 && f[1] == "requests" && f[2] == "in":
			var n float64
			n, err = parseMetric(f[0])
			r.Requests = int64(n)
		case f[0] == "Socket" && len(f) > 2 && f[1] == "errors:":
			// Socket errors: connect 0, read 0, write 0, timeout 12
			for i := 2; i+1 < len(f); i += 2 {
				n, perr := strconv.ParseInt(strings.TrimSuffix(f[i+1], ","), 10, 64)
				if perr != nil {
					err = perr
					break
				}
				r.SocketErrors += n
			}
		case strings.HasPrefix(strings.TrimSpace(line), "Non-2xx or 3xx responses:"):
			r.Non2xx, err = strconv.ParseInt(f[len(f)-1], 10, 64)
		}
		if err != nil {
			return r, fmt.Errorf("wrk output line %q: %w", strings.TrimSpace(line), err)
		}
	}
	if !haveRPS || !have50 || !have99 {
		return r, errors.New("wrk output has no Requests/sec line or no 50%/99% latency line (was it run with --latency?)")
	}
	return r, nil
}

// parseMetric parses a number as wrk prints counts: plain or with a k, M
// or G suffix (powers of 1000).
func parseMetric(s string) (float64, error) {
	mult := 1.0
	switch {
	case strings.HasSuffix(s, "k"):
		mult, s = 1e3, strings.TrimSuffix(s, "k")
	case strings.HasSuffix(s, "M"):
		mult, s = 1e6, strings.TrimSuffix(s, "M")
	case strings.HasSuffix(s, "G"):
		mult, s = 1e9, strings.TrimSuffix(s, "G")
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return 0, fmt.Errorf("not a number: %w", err)
	}
	return v * mult, nil
}

// parseWrkTime parses a latency as wrk prints it: a number with the unit
// us, ms, s, m or h.
func parseWrkTime(s string) (time.Duration, error) {
	units := []struct {
		suffix string
		unit   time.Duration
	}{{"us", time.Microsecond}, {"ms", time.Millisecond}, {"s", time.Second}, {"m", time.Minute}, {"h", time.Hour}}
	for _, u := range units {
		if num, ok := strings.CutSuffix(s, u.suffix); ok {
			v, err := strconv.ParseFloat(num, 64)
			if err != nil || v < 0 {
				return 0, fmt.Errorf("latency %q: not a number of %s", s, u.suffix)
			}
			return time.Duration(math.Round(v * float64(u.unit))), nil
		}
	}
	return 0, fmt.Errorf("latency %q: no unit (us, ms, s, m, h)", s)
}

// wrkArgs are wrk's arguments for one run against url.
func wrkArgs(threads, connections int, d time.Duration, url string) []string {
	return []string{
		"-t" + strconv.Itoa(threads),
		"-c" + strconv.Itoa(connections),
		"-d" + strconv.Itoa(int(d/time.Second)) + "s",
		"--latency", url,
	}
}

// wrkRun is one finished wrk run: its figures and the CPU time wrk used.
type wrkRun struct {
	WrkResult
	cpu time.Duration
}

// runWrk runs wrk against url and parses its output. wrk is killed when
// ctx ends.
func runWrk(ctx context.Context, wrk string, threads, connections int, d time.Duration, url string) (wrkRun, error) {
	cmd := exec.CommandContext(ctx, wrk, wrkArgs(threads, connections, d, url)...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	cmd.WaitDelay = 5 * time.Second
	var stderr tailBuffer
	stderr.max = 4 << 10
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if ctx.Err() != nil {
		return wrkRun{}, fmt.Errorf("bench: wrk %s: %w", url, ctx.Err())
	}
	if err != nil {
		return wrkRun{}, fmt.Errorf("bench: wrk %s: %w: %s %s", url, err, strings.TrimSpace(string(out)), stderr.String())
	}
	res, err := ParseWrkOutput(string(out))
	if err != nil {
		return wrkRun{}, fmt.Errorf("bench: wrk %s: %w:\n%s", url, err, out)
	}
	run := wrkRun{WrkResult: res}
	if ps := cmd.ProcessState; ps != nil {
		run.cpu = ps.UserTime() + ps.SystemTime()
	}
	return run, nil
}
