package docker

import (
	"archive/tar"
	"bytes"
	"debug/elf"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	goruntime "runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestPauseELF(t *testing.T) {
	tests := []struct {
		arch    string
		machine elf.Machine
		code    int
		wantErr bool
	}{
		{arch: "amd64", machine: elf.EM_X86_64, code: 9},
		{arch: "arm64", machine: elf.EM_AARCH64, code: 28},
		{arch: "riscv64", wantErr: true},
		{arch: "", wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.arch, func(t *testing.T) {
			b, err := pauseELF(tc.arch)
			if tc.wantErr {
				if !errors.Is(err, errUnsupportedArch) || !strings.Contains(err.Error(), "PauseImage") {
					t.Errorf("pauseELF(%q) = %v, want an unsupported architecture error naming Config.PauseImage", tc.arch, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			f, err := elf.NewFile(bytes.NewReader(b))
			if err != nil {
				t.Fatalf("not an ELF file: %v", err)
			}
			if f.Class != elf.ELFCLASS64 || f.Data != elf.ELFDATA2LSB || f.Type != elf.ET_EXEC || f.Machine != tc.machine {
				t.Errorf("header %+v", f.FileHeader)
			}
			if len(f.Progs) != 1 {
				t.Fatalf("%d program headers, want 1", len(f.Progs))
			}
			p := f.Progs[0]
			if p.Type != elf.PT_LOAD || p.Flags != elf.PF_R|elf.PF_X || p.Off != 0 || p.Vaddr != elfBase ||
				p.Filesz != uint64(len(b)) || p.Memsz != p.Filesz || p.Vaddr%p.Align != p.Off%p.Align {
				t.Errorf("program header %+v (file of %d bytes)", p.ProgHeader, len(b))
			}
			if want := uint64(elfBase + elfHeaderSize + elfPhdrSize); f.Entry != want || len(b) != elfHeaderSize+elfPhdrSize+tc.code {
				t.Errorf("entry %#x, size %d; want %#x, %d", f.Entry, len(b), want, elfHeaderSize+elfPhdrSize+tc.code)
			}
		})
	}
}

// TestPauseRuns runs the program of this machine's architecture: it must
// keep waiting (sleeping, not spinning) until killed.
func TestPauseRuns(t *testing.T) {
	b, err := pauseELF(goruntime.GOARCH)
	if err != nil {
		t.Skipf("no pause program for %s", goruntime.GOARCH)
	}
	file := filepath.Join(t.TempDir(), "pause")
	if err := os.WriteFile(file, b, 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(file)
	if err := cmd.Start(); err != nil {
		t.Fatalf("start: %v", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	waited := false
	t.Cleanup(func() {
		if !waited {
			_ = cmd.Process.Kill()
			<-exited
		}
	})

	// state polls the process until it is in state want (S: sleeping in
	// the kernel, T: stopped) and returns its user CPU ticks.
	stat := "/proc/" + strconv.Itoa(cmd.Process.Pid) + "/stat"
	state := func(want string) int {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for {
			select {
			case err := <-exited:
				waited = true
				t.Fatalf("the pause program exited: %v", err)
			default:
			}
			s, err := os.ReadFile(stat)
			if err != nil {
				t.Fatal(err)
			}
			// The fields after the command's closing parenthesis: the
			// state first, utime 12th.
			f := strings.Fields(string(s[bytes.LastIndexByte(s, ')')+1:]))
			if f[0] == want {
				utime, _ := strconv.Atoi(f[11])
				return utime
			}
			if time.Now().After(deadline) {
				t.Fatalf("the pause program is in state %s, want %s", f[0], want)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	if utime := state("S"); utime > 10 {
		t.Errorf("the pause program used %d ticks of CPU: it must wait, not spin", utime)
	}
	// Stopping and continuing interrupts the wait: it must wait again.
	for _, sig := range []struct {
		sig  syscall.Signal
		want string
	}{{syscall.SIGSTOP, "T"}, {syscall.SIGCONT, "S"}} {
		if err := cmd.Process.Signal(sig.sig); err != nil {
			t.Fatal(err)
		}
		state(sig.want)
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	err = <-exited
	waited = true
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
		t.Errorf("the pause program ended with %v, want killed by SIGKILL", err)
	}
}

func TestPauseRootFS(t *testing.T) {
	b, err := pauseRootFS("amd64")
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(bytes.NewReader(b))
	h, err := tr.Next()
	if err != nil {
		t.Fatal(err)
	}
	prog, _ := pauseELF("amd64")
	content, _ := io.ReadAll(tr)
	if h.Name != "pause" || h.Mode != 0o755 || h.Uid != 0 || !bytes.Equal(content, prog) {
		t.Errorf("entry %s mode %o uid %d (%d bytes), want pause 0755 root with the program", h.Name, h.Mode, h.Uid, len(content))
	}
	if _, err := tr.Next(); err != io.EOF {
		t.Errorf("more than one entry: %v", err)
	}
	if _, err := pauseRootFS("mips"); err == nil {
		t.Errorf("pauseRootFS(mips) succeeded")
	}
}
