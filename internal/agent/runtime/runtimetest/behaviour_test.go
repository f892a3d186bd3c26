package runtimetest

import (
	"os"
	"os/exec"
	"testing"
	"time"
)

// TestBehaviourInRealShell runs rendered scripts with /bin/sh.
func TestBehaviourInRealShell(t *testing.T) {
	if _, err := os.Stat(Shell); err != nil {
		t.Skipf("no %s: %v", Shell, err)
	}
	dir := t.TempDir()
	tests := []struct {
		name           string
		b              Behaviour
		stdout, stderr string
		code           int
	}{
		{name: "lines", b: Behaviour{Stdout: []string{"a b", "it's", `"$HOME" \n`}}, stdout: "a b\nit's\n\"$HOME\" \\n\n"},
		{name: "stderr and exit", b: Behaviour{Stderr: []string{"oops"}, ExitCode: 3}, stderr: "oops\n", code: 3},
		{name: "env and cwd", b: Behaviour{PrintEnv: []string{"X", "UNSET"}, PrintCwd: true}, stdout: "x y\n\n" + dir + "\n"},
		{name: "sleep then more", b: Behaviour{Stdout: []string{"1"}, Sleep: 10 * time.Millisecond, After: []string{"2"}}, stdout: "1\n2\n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			argv := tc.b.Command()
			cmd := exec.Command(argv[0], argv[1:]...)
			cmd.Env, cmd.Dir = []string{DefaultPath, "X=x y"}, dir
			var stdout, stderr stringsBuilder
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			err := cmd.Run()
			code := 0
			if ee, ok := err.(*exec.ExitError); ok {
				code = ee.ExitCode()
			} else if err != nil {
				t.Fatal(err)
			}
			if stdout.String() != tc.stdout || stderr.String() != tc.stderr || code != tc.code {
				t.Errorf("script %q: stdout %q, stderr %q, exit %d; want %q, %q, %d",
					tc.b.Script(), stdout.String(), stderr.String(), code, tc.stdout, tc.stderr, tc.code)
			}
		})
	}
}

// stringsBuilder is an io.Writer collecting output.
type stringsBuilder struct{ b []byte }

func (s *stringsBuilder) Write(p []byte) (int, error) { s.b = append(s.b, p...); return len(p), nil }
func (s *stringsBuilder) String() string              { return string(s.b) }
