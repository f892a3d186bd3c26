package process

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/berth-dev/berth/internal/agent/runtime"
	"golang.org/x/sys/unix"
)

// A container's process writes to two raw files (stdout, stderr) opened
// for appending, so that it keeps running when the agent restarts. The
// log pump copies complete lines from them into the container's log in
// the CRI format ("<RFC3339Nano> <stdout|stderr> <F|P> <text>"), stamping
// them with the time it read them, and remembers how far it got in the
// offsets file (created with the first output); a new driver continues
// from there. Consumed parts of the raw files are freed by punching holes
// into them.
const (
	logFile     = "container.log"
	rotatedFile = "container.log.1"
	offsetsFile = "offsets"
	// maxLineBytes splits longer lines into partial (P) records.
	maxLineBytes = 16 << 10
	// readChunk is how much a pump reads per stream and read.
	readChunk = 256 << 10
	// maxReadsPerStep bounds one step's work per stream.
	maxReadsPerStep = 16
	// punchEvery is how much consumed raw output is freed at a time.
	punchEvery = 1 << 20
)

// streams are the raw files, by index.
var streams = [2]string{"stdout", "stderr"}

// openRawForWriting opens the raw files for the container's process.
func openRawForWriting(dir string) (stdout, stderr *os.File, err error) {
	stdout, err = os.OpenFile(filepath.Join(dir, streams[0]), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return nil, nil, fmt.Errorf("open output file: %w", err)
	}
	stderr, err = os.OpenFile(filepath.Join(dir, streams[1]), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		stdout.Close()
		return nil, nil, fmt.Errorf("open output file: %w", err)
	}
	return stdout, stderr, nil
}

// logPump copies a container's raw output into its log. It is used by
// one goroutine at a time.
type logPump struct {
	dir string
	max int64
	// rotMu is the container's logMu (held exclusively to rotate).
	rotMu   *sync.RWMutex
	raw     [2]*os.File
	off     [2]int64
	punched [2]int64
	noPunch bool
	out     *os.File
	size    int64
	offsets *os.File
	buf     []byte
	wbuf    bytes.Buffer
	// warned: an error was already returned (errors are reported once).
	warned bool
}

// openPump opens the pump of the container in dir, continuing where the
// offsets file says.
func openPump(dir string, maxBytes int64, rotMu *sync.RWMutex) (p *logPump, err error) {
	if maxBytes <= 0 {
		maxBytes = DefaultLogMaxBytes
	}
	p = &logPump{dir: dir, max: maxBytes, rotMu: rotMu, buf: make([]byte, readChunk)}
	defer func() {
		if err != nil {
			p.close(false)
		}
	}()
	for i, s := range streams {
		if p.raw[i], err = os.OpenFile(filepath.Join(dir, s), os.O_RDWR|os.O_CREATE, 0o600); err != nil {
			return nil, fmt.Errorf("open output file: %w", err)
		}
	}
	// The offsets file appears with the first output: one file creation
	// less on the start of a quiet container.
	b, err := os.ReadFile(filepath.Join(dir, offsetsFile))
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("read log offsets: %w", err)
	}
	if f := strings.Fields(string(b)); len(f) == 2 {
		p.off[0], _ = strconv.ParseInt(f[0], 10, 64)
		p.off[1], _ = strconv.ParseInt(f[1], 10, 64)
		p.punched = p.off
	}
	// So does the log itself.
	if p.out, err = os.OpenFile(filepath.Join(dir, logFile), os.O_WRONLY|os.O_APPEND, 0o600); errors.Is(err, fs.ErrNotExist) {
		return p, nil
	} else if err != nil {
		return nil, fmt.Errorf("open log: %w", err)
	}
	fi, err := p.out.Stat()
	if err != nil {
		return nil, fmt.Errorf("open log: %w", err)
	}
	p.size = fi.Size()
	return p, nil
}

// step copies new complete lines into the log.
func (p *logPump) step(final bool) error {
	err := p.copy(final)
	if err != nil && p.warned {
		return nil
	}
	p.warned = p.warned || err != nil
	return err
}

// drain copies everything left, unterminated last lines included.
func (p *logPump) drain() {
	_ = p.copy(true)
}

func (p *logPump) copy(final bool) error {
	now := time.Now()
	before := p.off
	for i := range streams {
		for range maxReadsPerStep {
			n, err := p.raw[i].ReadAt(p.buf, p.off[i])
			if err != nil && !errors.Is(err, io.EOF) {
				return fmt.Errorf("read %s: %w", streams[i], err)
			}
			if n == 0 {
				break
			}
			used, err := p.records(i, p.buf[:n], now, final && n < len(p.buf))
			if err != nil {
				return err
			}
			p.off[i] += int64(used)
			if n < len(p.buf) || used == 0 {
				break
			}
		}
	}
	if err := p.flush(); err != nil {
		return err
	}
	if p.off == before {
		return nil
	}
	if p.offsets == nil {
		var err error
		if p.offsets, err = os.OpenFile(filepath.Join(p.dir, offsetsFile), os.O_RDWR|os.O_CREATE, 0o600); err != nil {
			return fmt.Errorf("open log offsets: %w", err)
		}
	}
	if _, err := p.offsets.WriteAt(fmt.Appendf(nil, "%020d %020d\n", p.off[0], p.off[1]), 0); err != nil {
		return fmt.Errorf("write log offsets: %w", err)
	}
	p.punch()
	return nil
}

// records turns data into log records and returns how many bytes it
// used: complete lines, pieces of overlong lines and, if last, the rest.
func (p *logPump) records(stream int, data []byte, now time.Time, last bool) (int, error) {
	used := 0
	for used < len(data) {
		rest := data[used:]
		nl := bytes.IndexByte(rest, '\n')
		switch {
		case nl >= 0 && nl <= maxLineBytes:
			if err := p.add(stream, now, 'F', rest[:nl]); err != nil {
				return used, err
			}
			used += nl + 1
		case nl > maxLineBytes || len(rest) >= maxLineBytes:
			if err := p.add(stream, now, 'P', rest[:maxLineBytes]); err != nil {
				return used, err
			}
			used += maxLineBytes
		case last:
			if err := p.add(stream, now, 'F', rest); err != nil {
				return used, err
			}
			used = len(data)
		default: // an incomplete line: wait for the rest
			return used, nil
		}
	}
	return used, nil
}

// add appends one record, rotating the log when it would grow too big.
func (p *logPump) add(stream int, now time.Time, tag byte, text []byte) error {
	ts := now.UTC().Format(time.RFC3339Nano)
	n := int64(len(ts) + 1 + len(streams[stream]) + 3 + len(text) + 1)
	if cur := p.size + int64(p.wbuf.Len()); cur > 0 && cur+n > p.max {
		if err := p.flush(); err != nil {
			return err
		}
		if err := p.rotate(); err != nil {
			return err
		}
	}
	p.wbuf.WriteString(ts)
	p.wbuf.WriteByte(' ')
	p.wbuf.WriteString(streams[stream])
	p.wbuf.WriteByte(' ')
	p.wbuf.WriteByte(tag)
	p.wbuf.WriteByte(' ')
	p.wbuf.Write(text)
	p.wbuf.WriteByte('\n')
	return nil
}

func (p *logPump) flush() error {
	if p.wbuf.Len() == 0 {
		return nil
	}
	if p.out == nil {
		var err error
		if p.out, err = os.OpenFile(filepath.Join(p.dir, logFile), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600); err != nil {
			return fmt.Errorf("open log: %w", err)
		}
	}
	n, err := p.out.Write(p.wbuf.Bytes())
	p.size += int64(n)
	p.wbuf.Reset()
	if err != nil {
		return fmt.Errorf("write log: %w", err)
	}
	return nil
}

// rotate makes the log the rotated file and starts a new one.
func (p *logPump) rotate() error {
	p.rotMu.Lock()
	defer p.rotMu.Unlock()
	if err := os.Rename(filepath.Join(p.dir, logFile), filepath.Join(p.dir, rotatedFile)); err != nil {
		return fmt.Errorf("rotate log: %w", err)
	}
	out, err := os.OpenFile(filepath.Join(p.dir, logFile), os.O_WRONLY|os.O_CREATE|os.O_APPEND|os.O_TRUNC, 0o600)
	if err != nil {
		return fmt.Errorf("rotate log: %w", err)
	}
	p.out.Close()
	p.out, p.size = out, 0
	return nil
}

// punch frees the consumed parts of the raw files.
func (p *logPump) punch() {
	if p.noPunch {
		return
	}
	for i := range streams {
		end := p.off[i] &^ 4095
		if end-p.punched[i] < punchEvery {
			continue
		}
		err := unix.Fallocate(int(p.raw[i].Fd()), unix.FALLOC_FL_PUNCH_HOLE|unix.FALLOC_FL_KEEP_SIZE, 0, end)
		if err != nil {
			p.noPunch = true // the file system cannot: the raw files grow
			return
		}
		p.punched[i] = end
	}
}

// close closes the pump's files; done removes the raw files (the process
// has exited and everything is logged).
func (p *logPump) close(done bool) {
	for i, f := range p.raw {
		if f != nil {
			f.Close()
			if done {
				_ = os.Remove(filepath.Join(p.dir, streams[i]))
			}
		}
	}
	for _, f := range []*os.File{p.out, p.offsets} {
		if f != nil {
			f.Close()
		}
	}
	if done {
		_ = os.Remove(filepath.Join(p.dir, offsetsFile))
	}
}

// logLine is one line of a container's log.
type logLine struct {
	t    time.Time
	text []byte
}

// lineReader reads a CRI log, joining partial records into lines.
type lineReader struct {
	// pending is an unterminated record; partial the text of P records.
	pending []byte
	partial []byte
	// partialTime is the time of the first P record.
	partialTime time.Time
	buf         []byte
}

// read reads f to EOF and calls emit for each complete line.
func (r *lineReader) read(f *os.File, emit func(logLine) error) error {
	if r.buf == nil {
		r.buf = make([]byte, 64<<10)
	}
	for {
		n, err := f.Read(r.buf)
		if n > 0 {
			data := append(r.pending, r.buf[:n]...)
			for {
				nl := bytes.IndexByte(data, '\n')
				if nl < 0 {
					break
				}
				if err := r.record(data[:nl], emit); err != nil {
					return err
				}
				data = data[nl+1:]
			}
			r.pending = append(r.pending[:0:0], data...)
		}
		if errors.Is(err, io.EOF) || (err == nil && n == 0) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("read log: %w", err)
		}
	}
}

// record handles one CRI record (without its newline).
func (r *lineReader) record(rec []byte, emit func(logLine) error) error {
	ts, rest, ok1 := bytes.Cut(rec, []byte{' '})
	_, rest, ok2 := bytes.Cut(rest, []byte{' '}) // stream
	tag, text, ok3 := bytes.Cut(rest, []byte{' '})
	if !ok1 || !ok2 || !ok3 {
		return nil // not a record: skip
	}
	t, err := time.Parse(time.RFC3339Nano, string(ts))
	if err != nil {
		return nil
	}
	if string(tag) == "P" {
		if r.partial == nil {
			r.partialTime = t
		}
		r.partial = append(r.partial, text...)
		return nil
	}
	if r.partial != nil {
		line := logLine{t: r.partialTime, text: append(r.partial, text...)}
		r.partial = nil
		return emit(line)
	}
	return emit(logLine{t: t, text: text})
}

// Logs writes the container's output from its log files (the rotated one
// first), one line per line written. With Follow it streams until the
// container has exited and its output is all written (nil), ctx is done
// (ctx's error) or the driver closes.
func (d *Driver) Logs(ctx context.Context, id string, opts runtime.LogOptions, w io.Writer) error {
	c, err := d.get(id)
	if err != nil {
		return err
	}
	err = d.logs(ctx, c, opts, runtime.LimitWriter(w, opts.LimitBytes))
	if errors.Is(err, runtime.ErrLogLimit) {
		return nil
	}
	return err
}

func (d *Driver) logs(ctx context.Context, c *container, opts runtime.LogOptions, w io.Writer) error {
	c.logMu.RLock()
	rotated, err := os.Open(filepath.Join(c.dir, rotatedFile))
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		c.logMu.RUnlock()
		return fmt.Errorf("process: logs of %s: %w", c.id, err)
	}
	current, err := os.Open(filepath.Join(c.dir, logFile))
	c.logMu.RUnlock()
	if rotated != nil {
		defer rotated.Close()
	}
	switch {
	case errors.Is(err, os.ErrNotExist) && !isDir(c.dir):
		return notFound("container", c.id) // removed meanwhile
	case errors.Is(err, os.ErrNotExist):
		current = nil // no output yet: the log appears with the first
	case err != nil:
		return fmt.Errorf("process: logs of %s: %w", c.id, err)
	}
	defer func() {
		if current != nil {
			current.Close()
		}
	}()

	var line []byte
	write := func(l logLine) error {
		if !opts.Since.IsZero() && l.t.Before(opts.Since) {
			return nil
		}
		line = line[:0]
		if opts.Timestamps {
			line = append(l.t.UTC().AppendFormat(line, time.RFC3339Nano), ' ')
		}
		line = append(append(line, l.text...), '\n')
		_, err := w.Write(line)
		if err != nil && !errors.Is(err, runtime.ErrLogLimit) {
			err = fmt.Errorf("process: write logs: %w", err)
		}
		return err
	}
	var r lineReader
	emit := write
	var tail []logLine
	if opts.TailLines >= 0 {
		emit = func(l logLine) error {
			if !opts.Since.IsZero() && l.t.Before(opts.Since) {
				return nil
			}
			if int64(len(tail)) >= opts.TailLines {
				if opts.TailLines == 0 {
					return nil
				}
				tail = tail[1:]
			}
			tail = append(tail, logLine{t: l.t, text: bytes.Clone(l.text)})
			return nil
		}
	}
	if rotated != nil {
		if err := r.read(rotated, emit); err != nil {
			return err
		}
	}
	if current != nil {
		if err := r.read(current, emit); err != nil {
			return err
		}
	}
	for _, l := range tail {
		if err := write(l); err != nil {
			return err
		}
	}
	if !opts.Follow {
		return nil
	}

	t := time.NewTicker(d.cfg.PollInterval)
	defer t.Stop()
	for {
		done := false
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-d.stop:
			return nil
		case <-c.logDone:
			done = true
		case <-t.C:
		}
		if current != nil {
			if err := r.read(current, write); err != nil {
				return err
			}
		}
		// After a rotation the open file is the rotated one, complete
		// now: it is read to its end, then the new log is opened.
		c.logMu.RLock()
		next, err := os.Open(filepath.Join(c.dir, logFile))
		c.logMu.RUnlock()
		switch {
		case errors.Is(err, os.ErrNotExist) && current == nil && isDir(c.dir):
			// Still no output.
		case err != nil:
			return nil // removed
		case current == nil:
			current = next
			if err := r.read(current, write); err != nil {
				return err
			}
		case same(current, next):
			next.Close()
		default:
			err := r.read(current, write)
			current.Close()
			current = next
			if err == nil {
				err = r.read(current, write)
			}
			if err != nil {
				return err
			}
		}
		if done {
			return nil
		}
	}
}

// isDir reports whether dir is a directory.
func isDir(dir string) bool {
	fi, err := os.Stat(dir)
	return err == nil && fi.IsDir()
}

// same reports whether two open files are the same file.
func same(a, b *os.File) bool {
	fa, err1 := a.Stat()
	fb, err2 := b.Stat()
	return err1 == nil && err2 == nil && os.SameFile(fa, fb)
}
