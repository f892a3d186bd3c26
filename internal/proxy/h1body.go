package proxy

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
)

// Body framings of a response.
const (
	bodyNone = iota
	bodyLength
	bodyChunked
	bodyUntilClose
)

// errUpstream marks a failure to read the endpoint's answer (as opposed to
// writing it to the client).
var errUpstream = errors.New("upstream")

// copyBody copies a body framed as kind from src to dst (chunked bodies
// as they are, with their trailers), flushing dst whenever src has
// nothing buffered, so streamed answers are not held back. It returns the
// bytes copied; read errors wrap errUpstream.
func copyBody(dst *bufio.Writer, src *bufio.Reader, kind int, length int64) (int64, error) {
	switch kind {
	case bodyLength:
		return copyN(dst, src, length)
	case bodyUntilClose:
		return copyN(dst, src, -1)
	case bodyChunked:
		return copyChunked(dst, src)
	}
	return 0, nil
}

// copyN copies n bytes (n < 0: until EOF) from src to dst.
func copyN(dst *bufio.Writer, src *bufio.Reader, n int64) (int64, error) {
	var done int64
	for n < 0 || done < n {
		if src.Buffered() == 0 {
			if err := dst.Flush(); err != nil {
				return done, err
			}
		}
		if _, err := src.Peek(1); err != nil {
			if n < 0 && errors.Is(err, io.EOF) {
				return done, nil
			}
			return done, fmt.Errorf("%w: %w", errUpstream, err)
		}
		k := src.Buffered()
		if n >= 0 && int64(k) > n-done {
			k = int(n - done)
		}
		b, _ := src.Peek(k)
		if _, err := dst.Write(b); err != nil {
			return done, err
		}
		_, _ = src.Discard(k)
		done += int64(k)
	}
	return done, nil
}

// copyChunked copies a chunked body, chunk lines, data and trailers.
func copyChunked(dst *bufio.Writer, src *bufio.Reader) (int64, error) {
	var total int64
	for {
		line, err := readLine(dst, src)
		if err != nil {
			return total, err
		}
		size, ok := chunkSize(line)
		if _, err := dst.Write(line); err != nil {
			return total, err
		}
		if !ok {
			return total, fmt.Errorf("%w: malformed chunk size %q", errUpstream, bytes.TrimSpace(line))
		}
		if size == 0 {
			// Trailers, up to the empty line.
			for {
				line, err := readLine(dst, src)
				if err != nil {
					return total, err
				}
				if _, err := dst.Write(line); err != nil {
					return total, err
				}
				if len(line) <= 2 {
					return total, nil
				}
			}
		}
		n, err := copyN(dst, src, size+2) // data and its CRLF
		total += n
		if err != nil {
			return total, err
		}
	}
}

// readLine reads one line (with its line end) from src, flushing dst first
// when it would wait.
func readLine(dst *bufio.Writer, src *bufio.Reader) ([]byte, error) {
	if src.Buffered() == 0 {
		if err := dst.Flush(); err != nil {
			return nil, err
		}
	}
	line, err := src.ReadSlice('\n')
	if err != nil {
		return nil, fmt.Errorf("%w: %w", errUpstream, err)
	}
	return line, nil
}

// chunkSize parses a chunk-size line ("1a;ext\r\n").
func chunkSize(line []byte) (int64, bool) {
	var n int64
	digits := 0
	for _, c := range line {
		var d byte
		switch {
		case c >= '0' && c <= '9':
			d = c - '0'
		case c >= 'a' && c <= 'f':
			d = c - 'a' + 10
		case c >= 'A' && c <= 'F':
			d = c - 'A' + 10
		default:
			return n, digits > 0 && (c == ';' || c == '\r' || c == ' ' || c == '\t')
		}
		if digits == 15 {
			return 0, false
		}
		n = n<<4 | int64(d)
		digits++
	}
	return 0, false
}
