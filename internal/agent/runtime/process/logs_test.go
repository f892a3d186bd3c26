package process

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/berth-dev/berth/internal/agent/runtime"
)

// criRecord is the CRI log line format.
var criRecord = regexp.MustCompile(`^(\S+) (stdout|stderr) ([FP]) (.*)$`)

// checkCRI checks that file holds CRI records and returns their tags.
func checkCRI(t *testing.T, file string) string {
	t.Helper()
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var tags strings.Builder
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		m := criRecord.FindStringSubmatch(sc.Text())
		if m == nil {
			t.Fatalf("%s: not a CRI record: %q", file, sc.Text())
		}
		if _, err := time.Parse(time.RFC3339Nano, m[1]); err != nil {
			t.Fatalf("%s: bad time in %q: %v", file, sc.Text(), err)
		}
		tags.WriteString(m[3])
	}
	return tags.String()
}

// consecutive checks that out is "line-<from>" ... "line-<to>".
func consecutive(t *testing.T, out string, to int) int {
	t.Helper()
	ls := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	var first int
	if _, err := fmt.Sscanf(ls[0], "line-%d", &first); err != nil {
		t.Fatalf("first line %q", ls[0])
	}
	for i, l := range ls {
		if want := fmt.Sprintf("line-%d", first+i); l != want {
			t.Fatalf("line %d is %q, want %q", i, l, want)
		}
	}
	if first+len(ls)-1 != to {
		t.Fatalf("last line %q, want line-%d", ls[len(ls)-1], to)
	}
	return first
}

func TestLogRotation(t *testing.T) {
	d := newDriver(t, testConfig(t))
	sb := sandboxFor(t, d, runtime.SandboxSpec{Name: "p"})
	const max = 2000
	id := sh(t, d, sb, "talker", `i=0; while [ $i -lt 300 ]; do echo "line-$i"; i=$((i+1)); done`,
		func(s *runtime.ContainerSpec) { s.LogMaxBytes = max })
	if st := wait(t, d, id); st.ExitCode != 0 {
		t.Fatalf("exit %+v", st)
	}
	dir := filepath.Join(d.cfg.StateDir, containersDir, id)
	for _, f := range []string{logFile, rotatedFile} {
		fi, err := os.Stat(filepath.Join(dir, f))
		if err != nil {
			t.Fatalf("after rotation: %v", err)
		}
		if fi.Size() > max {
			t.Errorf("%s has %d bytes, more than %d", f, fi.Size(), max)
		}
		checkCRI(t, filepath.Join(dir, f))
	}
	if first := consecutive(t, logs(t, d, id), 299); first == 0 {
		t.Errorf("all 300 lines kept: nothing rotated away")
	}
	for _, f := range []string{"stdout", "stderr", offsetsFile} {
		if _, err := os.Stat(filepath.Join(dir, f)); !os.IsNotExist(err) {
			t.Errorf("raw file %s kept after the exit: %v", f, err)
		}
	}
}

func TestFollowAcrossRotation(t *testing.T) {
	d := newDriver(t, testConfig(t))
	sb := sandboxFor(t, d, runtime.SandboxSpec{Name: "p"})
	id := sh(t, d, sb, "talker",
		`i=0; while [ $i -lt 100 ]; do echo "line-$i"; i=$((i+1)); if [ $((i % 5)) -eq 0 ]; then sleep 0.05; fi; done`,
		func(s *runtime.ContainerSpec) { s.LogMaxBytes = 1500 })
	var out bytes.Buffer
	if err := d.Logs(t.Context(), id, runtime.LogOptions{Follow: true, TailLines: -1}, &out); err != nil {
		t.Fatal(err)
	}
	if first := consecutive(t, out.String(), 99); first != 0 {
		t.Errorf("follow missed the first %d lines", first)
	}
	if _, err := os.Stat(filepath.Join(d.cfg.StateDir, containersDir, id, rotatedFile)); err != nil {
		t.Errorf("the log never rotated: %v", err)
	}
}

func TestLogLines(t *testing.T) {
	tests := []struct {
		name   string
		script string
		want   string
		// tags are the record tags of the log file.
		tags string
	}{
		{name: "long line", script: `head -c 40000 /dev/zero | tr '\0' a; echo`, want: strings.Repeat("a", 40000) + "\n", tags: "PPF"},
		{name: "unterminated", script: `printf abc`, want: "abc\n", tags: "F"},
		{name: "empty lines", script: `echo; echo; echo x`, want: "\n\nx\n", tags: "FFF"},
		{name: "stderr", script: `echo err >&2`, want: "err\n", tags: "F"},
	}
	d := newDriver(t, testConfig(t))
	sb := sandboxFor(t, d, runtime.SandboxSpec{Name: "p"})
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			id := sh(t, d, sb, "c", tc.script, nil)
			wait(t, d, id)
			if got := logs(t, d, id); got != tc.want {
				t.Errorf("logs %q, want %q", trim(got), trim(tc.want))
			}
			if tags := checkCRI(t, filepath.Join(d.cfg.StateDir, containersDir, id, logFile)); tags != tc.tags {
				t.Errorf("record tags %q, want %q", tags, tc.tags)
			}
		})
	}
}

func trim(s string) string {
	if len(s) > 60 {
		return fmt.Sprintf("%s...(%d bytes)", s[:60], len(s))
	}
	return s
}
