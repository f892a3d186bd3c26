//go:build linux

package main

import (
	"os/exec"
	"runtime"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

func TestCleanReadOnlyMappings(t *testing.T) {
	const smaps = `00400000-01895000 r--p 00000000 fe:00 10019132                           /tmp/berth
Size:              21076 kB
Rss:                2900 kB
Anonymous:             0 kB
01895000-03df1000 r-xp 01495000 fe:00 10019132                           /tmp/berth
Size:              38256 kB
Anonymous:             0 kB
03df1000-06ce9000 r--p 039f1000 fe:00 10019132                           /tmp/berth
Anonymous:             0 kB
06ce9000-06cea000 r--p 068e9000 fe:00 10019132                           /tmp/berth
Anonymous:             4 kB
06cea000-06e0f000 rw-p 068ea000 fe:00 10019132                           /tmp/berth
Anonymous:           236 kB
06e0f000-08e13000 rw-p 00000000 00:00 0 
Anonymous:           164 kB
7fa7d6233000-7fa7d6389000 r-xp 00026000 fe:00 326269                     /usr/lib/x86_64-linux-gnu/libc.so.6
Anonymous:             0 kB
7fa7d7000000-7fa7d7001000 r--p 00000000 fe:01 10019132                   /other/device/same/inode
Anonymous:             0 kB
7fa7d8000000-7fa7d8001000 ---p 00000000 fe:00 10019132                   /tmp/berth
Anonymous:             0 kB
`
	got, err := cleanReadOnlyMappings(strings.NewReader(smaps), unix.Mkdev(0xfe, 0), 10019132)
	if err != nil {
		t.Fatal(err)
	}
	want := []mapping{{0x400000, 0x1895000}, {0x1895000, 0x3df1000}, {0x3df1000, 0x6ce9000}}
	if len(got) != len(want) {
		t.Fatalf("mappings = %#v, want %#v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("mapping %d = %#x-%#x, want %#x-%#x", i, got[i].start, got[i].end, want[i].start, want[i].end)
		}
	}
}

func TestParseDevIno(t *testing.T) {
	tests := []struct {
		dev, ino string
		wantDev  uint64
		wantIno  uint64
		ok       bool
	}{
		{"fe:00", "10019132", unix.Mkdev(0xfe, 0), 10019132, true},
		{"103:02", "5", unix.Mkdev(0x103, 2), 5, true},
		{"00:00", "0", 0, 0, true},
		{"fe00", "1", 0, 0, false},
		{"fe:zz", "1", 0, 0, false},
		{"fe:00", "x", 0, 0, false},
	}
	for _, tc := range tests {
		dev, ino, ok := parseDevIno(tc.dev, tc.ino)
		if ok != tc.ok || ok && (dev != tc.wantDev || ino != tc.wantIno) {
			t.Errorf("parseDevIno(%q, %q) = %d, %d, %v; want %d, %d, %v", tc.dev, tc.ino, dev, ino, ok, tc.wantDev, tc.wantIno, tc.ok)
		}
	}
}

// TestTrimExecutable trims this test binary's mappings (and its page
// cache) and checks that the process still runs code, makes threads and
// starts processes afterwards: a trim that dropped written pages (such as
// the dynamic loader's relocations) would crash here.
func TestTrimExecutable(t *testing.T) {
	n, err := trimExecutable(true)
	if err != nil {
		t.Fatalf("trimExecutable: %v", err)
	}
	if n <= 0 {
		t.Fatalf("trimExecutable advised %d bytes, want the executable's mappings", n)
	}
	done := make(chan int)
	for i := range 4 {
		go func() {
			runtime.LockOSThread() // a new thread each
			done <- i
		}()
	}
	for range 4 {
		<-done
	}
	if out, err := exec.Command("/bin/sh", "-c", "echo ok").Output(); err != nil || strings.TrimSpace(string(out)) != "ok" {
		t.Fatalf("exec after the trim: %q, %v", out, err)
	}
	if _, err := trimExecutable(false); err != nil {
		t.Fatalf("second trimExecutable: %v", err)
	}
	if vmRSS() <= 0 {
		t.Error("vmRSS() = 0")
	}
}
