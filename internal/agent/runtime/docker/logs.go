package docker

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/moby/moby/api/pkg/stdcopy"
	"github.com/moby/moby/client"

	"github.com/berth-dev/berth/internal/agent/runtime"
)

// logsOptions converts runtime.LogOptions to the logs API's. It reports
// false when nothing can match (a tail of 0 lines without follow).
//
// Semantics (the daemon's json-file reader, which are also the kubelet's
// for CRI logs): TailLines < 0 is the whole log, n > 0 the last n lines,
// selected before Since filters them; Since is passed with nanosecond
// precision; Timestamps prefixes lines with the daemon's RFC 3339 time
// (nine fraction digits) and a space.
func logsOptions(opts runtime.LogOptions) (client.ContainerLogsOptions, bool) {
	o := client.ContainerLogsOptions{
		ShowStdout: true, ShowStderr: true,
		Follow: opts.Follow, Timestamps: opts.Timestamps,
	}
	switch {
	case opts.TailLines < 0:
		o.Tail = "all"
	case opts.TailLines == 0:
		if !opts.Follow {
			return o, false
		}
		o.Tail = "0"
	default:
		o.Tail = strconv.FormatInt(opts.TailLines, 10)
	}
	if !opts.Since.IsZero() {
		o.Since = unixNano(opts.Since)
	}
	return o, true
}

// unixNano renders t as "<seconds>.<nanoseconds>", the logs API's precise
// time.
func unixNano(t time.Time) string {
	ns := t.UnixNano()
	sec, frac := ns/1e9, ns%1e9
	if frac < 0 {
		sec, frac = sec-1, frac+1e9
	}
	return fmt.Sprintf("%d.%09d", sec, frac)
}

// Logs writes the container's output (stdout and stderr merged in the
// order it was logged) from the logs API. With Follow it streams until
// the container has exited and everything is written (nil) or ctx is
// done (ctx's error).
func (d *Driver) Logs(ctx context.Context, id string, opts runtime.LogOptions, w io.Writer) error {
	ctx, done, err := d.op(ctx)
	if err != nil {
		return err
	}
	defer done()
	if _, err := d.get(ctx, id); err != nil {
		return err
	}
	o, ok := logsOptions(opts)
	if !ok {
		return nil
	}
	rc, err := d.cli.ContainerLogs(ctx, id, o)
	if err != nil {
		return d.apiError(err, "logs of container %s", id)
	}
	defer rc.Close()
	lw := runtime.LimitWriter(w, opts.LimitBytes)
	_, err = stdcopy.StdCopy(lw, lw, rc)
	switch {
	case errors.Is(err, runtime.ErrLogLimit):
		return nil
	case ctx.Err() != nil:
		return d.closedOr(ctx.Err())
	case err != nil:
		return d.apiError(err, "logs of container %s", id)
	}
	if !opts.Follow {
		return nil
	}
	// The daemon ends a follow when the container stops; make sure the
	// state says so too before returning.
	if err := d.waitExit(ctx, id); err != nil && !errors.Is(err, runtime.ErrNotFound) {
		return d.closedOr(err)
	}
	return nil
}
