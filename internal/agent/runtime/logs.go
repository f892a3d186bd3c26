package runtime

import (
	"errors"
	"io"
)

// ErrLogLimit is what a LimitWriter returns once it wrote its limit;
// drivers' Logs end there and return nil.
var ErrLogLimit = errors.New("runtime: log limit reached")

// LimitWriter returns a writer to w that writes at most n bytes (n <= 0:
// no limit), then fails with ErrLogLimit (LogOptions.LimitBytes).
func LimitWriter(w io.Writer, n int64) io.Writer { return &limitWriter{w: w, n: n} }

type limitWriter struct {
	w io.Writer
	n int64
}

// Write writes up to the limit, then fails with ErrLogLimit.
func (l *limitWriter) Write(b []byte) (int, error) {
	if l.n <= 0 {
		return l.w.Write(b)
	}
	short := false
	if int64(len(b)) > l.n {
		b, short = b[:l.n], true
	}
	n, err := l.w.Write(b)
	l.n -= int64(n)
	if err == nil && (short || l.n == 0) {
		err = ErrLogLimit
	}
	return n, err
}
