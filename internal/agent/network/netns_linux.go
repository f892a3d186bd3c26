//go:build linux

package network

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"

	"github.com/berth-dev/berth/internal/agent/osthread"
	"golang.org/x/sys/unix"
)

// createNetNS creates a network namespace with its loopback interface up
// and bind-mounts it onto path, which must not exist. The namespace is
// made on a throwaway OS thread (osthread.Throwaway): unshare(CLONE_NEWNET)
// moves only that thread into the new namespace, where lo is brought up
// (what the loopback plugin would do, without running it) and whose
// /proc/self/task/<tid>/ns/net is then bind-mounted onto path; the runtime
// then ends the thread instead of reusing it in the wrong namespace.
func createNetNS(path string) error {
	f, err := os.OpenFile(path, os.O_RDONLY|os.O_CREATE|os.O_EXCL, 0o444)
	if err != nil {
		return fmt.Errorf("network: create netns file: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("network: create netns file: %w", err)
	}
	err = osthread.Throwaway(func() error {
		if err := unix.Unshare(unix.CLONE_NEWNET); err != nil {
			return fmt.Errorf("network: unshare network namespace: %w", err)
		}
		if err := loopbackUp(); err != nil {
			return err
		}
		src := fmt.Sprintf("/proc/self/task/%d/ns/net", unix.Gettid())
		if err := unix.Mount(src, path, "none", unix.MS_BIND, ""); err != nil {
			return fmt.Errorf("network: bind-mount %s onto %s: %w", src, path, err)
		}
		return nil
	})
	if err != nil {
		_ = os.Remove(path)
		return err
	}
	return nil
}

// loopbackUp brings up lo in the calling thread's network namespace; the
// kernel then gives it 127.0.0.1/8 and ::1/128.
func loopbackUp() error {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		fd, err = unix.Socket(unix.AF_INET6, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	}
	if err != nil {
		return fmt.Errorf("network: bring up lo: %w", err)
	}
	defer unix.Close(fd)
	ifr, err := unix.NewIfreq("lo")
	if err != nil {
		return fmt.Errorf("network: bring up lo: %w", err)
	}
	if err := unix.IoctlIfreq(fd, unix.SIOCGIFFLAGS, ifr); err != nil {
		return fmt.Errorf("network: bring up lo: get flags: %w", err)
	}
	ifr.SetUint16(ifr.Uint16() | unix.IFF_UP)
	if err := unix.IoctlIfreq(fd, unix.SIOCSIFFLAGS, ifr); err != nil {
		return fmt.Errorf("network: bring up lo: set flags: %w", err)
	}
	return nil
}

// removeNetNS unmounts the namespace at path and removes the file; a path
// that is not mounted or does not exist is fine.
func removeNetNS(path string) error {
	if err := unix.Unmount(path, unix.MNT_DETACH); err != nil && !errors.Is(err, unix.EINVAL) && !errors.Is(err, unix.ENOENT) {
		return fmt.Errorf("network: unmount netns %s: %w", path, err)
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("network: remove netns %s: %w", path, err)
	}
	return nil
}

// isNetNS reports whether path is a mounted network namespace (nsfs, or
// procfs on old kernels).
func isNetNS(path string) bool {
	var st unix.Statfs_t
	if err := unix.Statfs(path, &st); err != nil {
		return false
	}
	return st.Type == unix.NSFS_MAGIC || st.Type == unix.PROC_SUPER_MAGIC
}

// makeSharedMount makes dir a mount point with shared propagation, as
// `ip netns` does with /run/netns: bind-mounted onto itself if it is not a
// mount point yet. Then the netns bind mounts under it that get copied into
// mount namespaces created later are unmounted there too when they are
// unmounted here, instead of keeping the network namespaces alive.
func makeSharedMount(dir string) error {
	err := unix.Mount("", dir, "none", unix.MS_SHARED|unix.MS_REC, "")
	if err == nil {
		return nil
	}
	if !errors.Is(err, unix.EINVAL) {
		return fmt.Errorf("network: make %s a shared mount: %w", dir, err)
	}
	if err := unix.Mount(dir, dir, "none", unix.MS_BIND|unix.MS_REC, ""); err != nil {
		return fmt.Errorf("network: bind-mount %s onto itself: %w", dir, err)
	}
	if err := unix.Mount("", dir, "none", unix.MS_SHARED|unix.MS_REC, ""); err != nil {
		return fmt.Errorf("network: make %s a shared mount: %w", dir, err)
	}
	return nil
}

// probeNetNS checks that this process may create network namespaces, on a
// thread that then dies with the namespace.
func probeNetNS() error {
	if err := osthread.Throwaway(func() error { return unix.Unshare(unix.CLONE_NEWNET) }); err != nil {
		return fmt.Errorf("cannot create network namespaces (unshare: %w)", err)
	}
	return nil
}

// enableForwarding writes 1 to the forwarding sysctl of the family of the
// subnet unless it is already 1, and reports whether it changed it.
func enableForwarding(ipv6 bool) (changed bool, err error) {
	path := "/proc/sys/net/ipv4/ip_forward"
	if ipv6 {
		path = "/proc/sys/net/ipv6/conf/all/forwarding"
	}
	cur, err := os.ReadFile(path)
	if err == nil && strings.TrimSpace(string(cur)) == "1" {
		return false, nil
	}
	if err := os.WriteFile(path, []byte("1\n"), 0o644); err != nil {
		return false, fmt.Errorf("network: enable forwarding (%s): %w", path, err)
	}
	return true, nil
}

// forwardingWritable checks that enableForwarding can succeed: forwarding
// is on already or the sysctl can be opened for writing.
func forwardingWritable(ipv6 bool) error {
	path := "/proc/sys/net/ipv4/ip_forward"
	if ipv6 {
		path = "/proc/sys/net/ipv6/conf/all/forwarding"
	}
	if cur, err := os.ReadFile(path); err == nil && strings.TrimSpace(string(cur)) == "1" {
		return nil
	}
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		return fmt.Errorf("cannot enable IP forwarding (%w)", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("cannot enable IP forwarding (%w)", err)
	}
	return nil
}

// killGroupOnCancel starts cmd in a new process group and makes the
// context's cancellation kill the whole group.
func killGroupOnCancel(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error {
		if cmd.Process == nil {
			return nil
		}
		if err := syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL); err != nil {
			return cmd.Process.Kill()
		}
		return nil
	}
}

// flockFile takes an exclusive flock on path (created if missing) and
// returns its release, as host-local does around its data directory.
func flockFile(path string) (func(), error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("network: open lock %s: %w", path, err)
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX); err != nil {
		_ = f.Close()
		return nil, fmt.Errorf("network: lock %s: %w", path, err)
	}
	return func() { _ = f.Close() }, nil
}
