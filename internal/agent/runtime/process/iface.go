package process

import (
	"context"

	"github.com/berth-dev/berth/internal/agent/runtime"
)

// Network gives pods their own network namespace (a CNI-like plugin).
// Implementations must be safe for concurrent use.
type Network interface {
	// Setup creates the network of the sandbox sandboxID and returns the
	// path of its network namespace (e.g. /run/netns/<name>, a file that
	// setns(2) accepts) and the pod's IP.
	Setup(ctx context.Context, sandboxID string) (netnsPath, ip string, err error)
	// Teardown releases what Setup made. It is called once per sandbox
	// when it is stopped (again after a failure) and must tolerate a
	// namespace that is already gone.
	Teardown(ctx context.Context, sandboxID, netnsPath string) error
}

// CgroupManager puts containers into control groups. The driver makes one
// cgroup per container, named by the container's ID (a single path
// component of hex digits) and limited by the container's resources; the
// pod's own limits are not applied separately (the agent sets a pod limit
// only when every container has one, so the containers' limits add up to
// it). Paths are opaque to the driver. Implementations must be safe for
// concurrent use; internal/agent/cgroups.Manager satisfies this interface.
type CgroupManager interface {
	// Create creates (or updates, after an agent restart) the cgroup name
	// with the limits (0: none) and returns its path for the other
	// methods. An empty path means "no cgroup": the driver then reads
	// stats from /proc.
	Create(name string, cpuMilliLimit, cpuMilliRequest, memoryLimitBytes int64) (path string, err error)
	// AddProcess moves the process pid into the cgroup; its later
	// children are born in it.
	AddProcess(path string, pid int) error
	// Stats reads the cgroup's cumulative CPU time and memory working set.
	Stats(path string) (runtime.Stats, error)
	// OOMKilled reports whether the kernel's OOM killer killed a process
	// of the cgroup since it was created.
	OOMKilled(path string) (bool, error)
	// Delete removes the cgroup (its processes are gone by then).
	Delete(path string) error
}

// ThreadCgroupAdder is optionally implemented by a CgroupManager that can
// move a single thread of the agent into a cgroup (cgroup v1;
// internal/agent/cgroups' v1 manager does). A container whose process is
// started from a thread that joined its cgroup is born in it, so it needs
// no start gate.
type ThreadCgroupAdder interface {
	// AddThread moves the thread tid of this process into the cgroup.
	AddThread(path string, tid int) error
}
