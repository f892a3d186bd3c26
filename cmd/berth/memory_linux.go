//go:build linux

package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"runtime/debug"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// Memory trimming of `berth agent` and `berth server`/`up`. Each is a
// part of a big binary (kubectl, etcd, the API server and the agent are
// all compiled in), yet the agent's RSS was ~100 MiB, ~13 MiB of it
// anonymous, and the server's ~95-107 MiB, ~17 MiB anonymous: the kernel
// keeps the executable in the page cache in large folios (up to 2 MiB,
// from the write of the build or from readahead) and maps a whole folio
// when any byte of it is touched (as one PMD, or as all its PTEs by
// fault-around), so the code and read-only data of package initialisers
// and start-up that ran once stay mapped, 2 MiB at a time. Once the
// process has started, trimming unmaps the executable's read-only
// mappings and lets only what it still runs fault back in, in small
// pieces.
const (
	// trimDelay is how long after it is called the trim runs: the agent
	// registers, builds its driver and syncs its pod informer well within
	// it (~0.6 s on a 2-core VM), the server (called once ready) starts its
	// controllers; what runs later faults back in.
	trimDelay = 2 * time.Second
	// retrimInterval is how often the mappings are trimmed again, without
	// touching the page cache, to drop what stopped being used.
	retrimInterval = 5 * time.Minute
)

// trimMemory trims the process's memory trimDelay from now and then
// every retrimInterval, in the background, for the life of the process;
// failures are logged at debug level (the process works the same without).
func trimMemory(logger *slog.Logger) {
	go func() {
		time.Sleep(trimDelay)
		evict := true
		for {
			start := time.Now()
			before := vmRSS()
			n, err := trimExecutable(evict)
			debug.FreeOSMemory()
			logger.Debug("trimmed memory", "mappedBytes", n, "evictedPageCache", evict,
				"rssKiBBefore", before, "rssKiBAfter", vmRSS(), "took", time.Since(start), "err", err)
			evict = false
			time.Sleep(retrimInterval)
		}
	}()
}

// trimExecutable advises the kernel about the clean read-only mappings of
// this process's executable (its text and read-only data; not the RELRO
// page the dynamic loader wrote, whose copy-on-write pages MADV_DONTNEED
// would revert to the file's): no huge page mappings (MADV_NOHUGEPAGE),
// no readahead (MADV_RANDOM), then MADV_DONTNEED, which unmaps them
// without freeing the page cache; evict then drops the executable's pages
// that nothing maps any more from the page cache (POSIX_FADV_DONTNEED), so
// that what faults back in is read in single pages rather than again in
// large folios that fault-around maps whole. Pages other processes map
// (another berth process of the same binary) stay cached and mapped as
// they are. It returns the bytes of the mappings it advised.
func trimExecutable(evict bool) (int, error) {
	var st unix.Stat_t
	if err := unix.Stat("/proc/self/exe", &st); err != nil {
		return 0, fmt.Errorf("stat executable: %w", err)
	}
	f, err := os.Open("/proc/self/smaps")
	if err != nil {
		return 0, fmt.Errorf("read mappings: %w", err)
	}
	regions, err := cleanReadOnlyMappings(f, uint64(st.Dev), st.Ino)
	f.Close()
	if err != nil {
		return 0, err
	}
	total := 0
	for _, r := range regions {
		n := r.end - r.start
		total += int(n)
		for _, advice := range []int{unix.MADV_NOHUGEPAGE, unix.MADV_RANDOM, unix.MADV_DONTNEED} {
			if _, _, errno := unix.Syscall(unix.SYS_MADVISE, r.start, n, uintptr(advice)); errno != 0 {
				return total, fmt.Errorf("madvise(%d) %#x-%#x: %w", advice, r.start, r.end, errno)
			}
		}
	}
	if evict && len(regions) > 0 {
		exe, err := os.Open("/proc/self/exe")
		if err != nil {
			return total, fmt.Errorf("open executable: %w", err)
		}
		defer exe.Close()
		if err := unix.Fadvise(int(exe.Fd()), 0, 0, unix.FADV_DONTNEED); err != nil {
			return total, fmt.Errorf("fadvise executable: %w", err)
		}
	}
	return total, nil
}

// mapping is an address range.
type mapping struct{ start, end uintptr }

// cleanReadOnlyMappings parses /proc/self/smaps and returns the mappings
// of the file (dev, ino) that are neither writable nor hold anonymous
// (copy-on-write) pages.
func cleanReadOnlyMappings(r io.Reader, dev, ino uint64) ([]mapping, error) {
	var out []mapping
	candidate := false
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) >= 5 && strings.Contains(f[0], "-") && len(f[1]) == 4 {
			// A mapping's header: range perms offset dev inode [path].
			candidate = false
			d, i, ok := parseDevIno(f[3], f[4])
			if !ok || d != dev || i != ino || f[1][0] != 'r' || f[1][1] == 'w' {
				continue
			}
			lo, hi, _ := strings.Cut(f[0], "-")
			s, err1 := strconv.ParseUint(lo, 16, 64)
			e, err2 := strconv.ParseUint(hi, 16, 64)
			if err1 != nil || err2 != nil || e <= s {
				continue
			}
			out = append(out, mapping{uintptr(s), uintptr(e)})
			candidate = true
			continue
		}
		if candidate && len(f) >= 2 && f[0] == "Anonymous:" && f[1] != "0" {
			out, candidate = out[:len(out)-1], false
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read mappings: %w", err)
	}
	return out, nil
}

// parseDevIno parses the "major:minor" (hex) and inode fields of a
// mapping.
func parseDevIno(devField, inoField string) (dev, ino uint64, ok bool) {
	maj, mnr, found := strings.Cut(devField, ":")
	a, err1 := strconv.ParseUint(maj, 16, 32)
	b, err2 := strconv.ParseUint(mnr, 16, 32)
	i, err3 := strconv.ParseUint(inoField, 10, 64)
	if !found || errors.Join(err1, err2, err3) != nil {
		return 0, 0, false
	}
	return unix.Mkdev(uint32(a), uint32(b)), i, true
}

// vmRSS returns this process's VmRSS in KiB (0 when unknown).
func vmRSS() int {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			n, _ := strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(v), " kB"))
			return n
		}
	}
	return 0
}
