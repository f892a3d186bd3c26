//go:build linux

package process

import (
	"errors"
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// privateMounts makes every mount of the calling thread's (new) mount
// namespace private and lazily unmounts the namespace bind mounts it
// copied from the host (namespaceHolders): otherwise every container
// would keep the network namespaces of the pods that existed when it
// started alive until it ends, and every later container's namespace
// would copy more of them.
func privateMounts() error {
	if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
		return fmt.Errorf("make mounts private: %w", err)
	}
	data, err := os.ReadFile("/proc/thread-self/mountinfo")
	if err != nil {
		return fmt.Errorf("read the mount table: %w", err)
	}
	for _, p := range namespaceHolders(parseMountInfo(string(data))) {
		if err := unix.Unmount(p, unix.MNT_DETACH); err != nil && !errors.Is(err, unix.EINVAL) && !errors.Is(err, unix.ENOENT) {
			return fmt.Errorf("unmount the namespace mounts at %s: %w", p, err)
		}
	}
	return nil
}
