package bench

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"github.com/berth-dev/berth/internal/plot"
	"image/png"
	"io"
	"log/slog"
	"os"
	"runtime"
	"strings"
	"testing"
	"time"
)

// testWriter sends logs to t.Log.
type testWriter struct{ t *testing.T }

func (w testWriter) Write(b []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(b), "\n"))
	return len(b), nil
}

// warnLogger logs warnings and errors to t.Log.
func warnLogger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn}))
}

// berthBin returns the prebuilt berth binary named by BERTH_BIN
// (scripts/test.sh sets it); it skips the test when BERTH_BIN is unset.
func berthBin(t *testing.T) string {
	t.Helper()
	bin := os.Getenv("BERTH_BIN")
	if bin == "" {
		t.Skip("BERTH_BIN is unset: build the binary (go build -o bin/berth ./cmd/berth) and set BERTH_BIN=$PWD/bin/berth")
	}
	if _, err := os.Stat(bin); err != nil {
		t.Fatalf("BERTH_BIN: %v", err)
	}
	return bin
}

// lastJSONLine decodes the last line of a benchmark's output, its JSON
// result.
func lastJSONLine(t *testing.T, out string) map[string]any {
	t.Helper()
	lines := strings.Split(strings.TrimRight(out, "\n"), "\n")
	var last map[string]any
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &last); err != nil {
		t.Fatalf("last output line is not JSON: %v\n%s", err, lines[len(lines)-1])
	}
	return last
}

// checkGoroutinesEnded checks that every goroutine that run (the function
// tested) started has ended: that within 5 s no more than before
// goroutines are left. HTTP/2 connection readers may need a moment after
// their connection was closed.
func checkGoroutinesEnded(t *testing.T, before int, run string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > before {
		buf := make([]byte, 1<<20)
		t.Errorf("%d goroutines before %s, %d after:\n%s", before, run, n, buf[:runtime.Stack(buf, true)])
	}
}

// checkServerFails checks that benchmark bench, run by run with the given
// binary and logger, fails when the server exits before it is ready, and
// that its output is then one JSON error line.
func checkServerFails(t *testing.T, bench string, run func(binary string, log *slog.Logger, out io.Writer) error) {
	t.Helper()
	if testing.Short() {
		t.Skip("spawns a process; runs without -short")
	}
	var out bytes.Buffer
	err := run("/bin/false", slog.New(slog.NewTextHandler(testWriter{t}, nil)), &out)
	if err == nil || !strings.Contains(err.Error(), "exited before it was ready") {
		t.Fatalf("%s benchmark with a binary that exits: err = %v", bench, err)
	}
	var last struct{ Bench, Error string }
	if json.Unmarshal(bytes.TrimSpace(out.Bytes()), &last) != nil || last.Bench != bench || last.Error == "" {
		t.Fatalf("output %q: want one JSON error line", out.String())
	}
}

// checkPlotFile checks that file holds a PNG of plot.W × plot.H pixels.
func checkPlotFile(t *testing.T, file string) {
	t.Helper()
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatalf("plot is not a PNG: %v", err)
	}
	if b := img.Bounds(); b.Dx() != plot.W || b.Dy() != plot.H {
		t.Fatalf("plot size %v, want %dx%d", b, plot.W, plot.H)
	}
}

// checkDefaultsAndHelp checks that parse, the flag parser of a benchmark,
// returns defaults when given no flags and flag.ErrHelp for -h. It returns
// the configuration parsed from no flags.
func checkDefaultsAndHelp[C comparable](t *testing.T, parse func([]string, io.Writer) (C, error), defaults C) C {
	t.Helper()
	cfg, err := parse(nil, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if cfg != defaults {
		t.Fatalf("defaults: %+v, want %+v", cfg, defaults)
	}
	if _, err := parse([]string{"-h"}, io.Discard); !errors.Is(err, flag.ErrHelp) {
		t.Fatalf("-h: got %v, want flag.ErrHelp", err)
	}
	return cfg
}

// checkOutcome checks the outcome of a table test case: with wantErr set,
// an error containing it; otherwise no error and got == want.
func checkOutcome[T comparable](t *testing.T, got T, err error, want T, wantErr string) {
	t.Helper()
	if wantErr != "" {
		if err == nil || !strings.Contains(err.Error(), wantErr) {
			t.Fatalf("error = %v, want one containing %q", err, wantErr)
		}
		return
	}
	if err != nil || got != want {
		t.Fatalf("got %+v, %v; want %+v", got, err, want)
	}
}
