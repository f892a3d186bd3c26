package mock

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/berth-dev/berth/internal/agent/runtime"
)

// errLimit ends a Logs call that reached LimitBytes.
var errLimit = errors.New("log limit reached")

// limitWriter stops after n bytes (n <= 0: no limit).
type limitWriter struct {
	w io.Writer
	n int64
}

// Write writes up to the limit, then fails with errLimit.
func (l *limitWriter) Write(p []byte) (int, error) {
	if l.n <= 0 {
		return l.w.Write(p)
	}
	short := false
	if int64(len(p)) > l.n {
		p, short = p[:l.n], true
	}
	n, err := l.w.Write(p)
	l.n -= int64(n)
	if err == nil && (short || l.n == 0) {
		err = errLimit
	}
	return n, err
}

// writeLine writes one log line as Logs presents it.
func writeLine(w io.Writer, l logLine, timestamps bool) error {
	var err error
	if timestamps {
		_, err = fmt.Fprintf(w, "%s %s\n", l.t.UTC().Format(time.RFC3339Nano), l.text)
	} else {
		_, err = fmt.Fprintf(w, "%s\n", l.text)
	}
	return err
}

// Logs writes the container's output lines (stdout and stderr
// interleaved as written). With Follow it streams until the container has
// exited or ctx is done (then it returns ctx's error).
func (d *Driver) Logs(ctx context.Context, id string, opts runtime.LogOptions, w io.Writer) error {
	d.mu.Lock()
	c, err := d.get(id)
	if err != nil {
		d.mu.Unlock()
		return err
	}
	lines := c.logs[:len(c.logs):len(c.logs)]
	changed := c.changed
	exited := c.status.State == runtime.StateExited
	d.mu.Unlock()

	lw := &limitWriter{w: w, n: opts.LimitBytes}
	var selected []logLine
	for _, l := range lines {
		if opts.Since.IsZero() || !l.t.Before(opts.Since) {
			selected = append(selected, l)
		}
	}
	if opts.TailLines >= 0 && int64(len(selected)) > opts.TailLines {
		selected = selected[int64(len(selected))-opts.TailLines:]
	}
	if err := writeLines(lw, selected, opts.Timestamps); err != nil {
		return logsErr(err)
	}
	next := len(lines)
	for opts.Follow && !exited {
		select {
		case <-changed:
		case <-ctx.Done():
			return ctx.Err()
		}
		d.mu.Lock()
		lines = c.logs[next:len(c.logs):len(c.logs)]
		next = len(c.logs)
		changed = c.changed
		exited = c.status.State == runtime.StateExited
		d.mu.Unlock()
		var fresh []logLine
		for _, l := range lines {
			if opts.Since.IsZero() || !l.t.Before(opts.Since) {
				fresh = append(fresh, l)
			}
		}
		if err := writeLines(lw, fresh, opts.Timestamps); err != nil {
			return logsErr(err)
		}
	}
	return nil
}

// logsErr turns reaching the byte limit into success.
func logsErr(err error) error {
	if errors.Is(err, errLimit) {
		return nil
	}
	return fmt.Errorf("mock: write logs: %w", err)
}

// writeLines writes lines.
func writeLines(w io.Writer, lines []logLine, timestamps bool) error {
	for _, l := range lines {
		if err := writeLine(w, l, timestamps); err != nil {
			return err
		}
	}
	return nil
}
