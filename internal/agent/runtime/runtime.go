package runtime

import (
	"context"
	"errors"
	"io"
	"time"
)

// Errors drivers return (wrapped) so the agent can tell cases apart.
var (
	// ErrNotFound: no sandbox or container with that ID.
	ErrNotFound = errors.New("runtime: not found")
	// ErrNoCommand: the container has no command and the driver cannot
	// take one from an image (the process driver).
	ErrNoCommand = errors.New("runtime: container has no command")
	// ErrNotSupported: the driver lacks the capability.
	ErrNotSupported = errors.New("runtime: not supported by this driver")
	// ErrImageNotPresent: the container's image is not on the node.
	// CreateAndStart never pulls; the agent pulls through ImageManager
	// first, as the pod's imagePullPolicy says.
	ErrImageNotPresent = errors.New("runtime: image not present on the node")
)

// Labels the agent puts on sandboxes and containers, so that a restarted
// agent can re-adopt them.
const (
	LabelPodUID       = "berth.io/pod-uid"
	LabelPodName      = "berth.io/pod-name"
	LabelPodNamespace = "berth.io/pod-namespace"
	LabelContainer    = "berth.io/container"
	LabelAttempt      = "berth.io/attempt"
)

// SandboxSpec describes a pod's sandbox.
type SandboxSpec struct {
	// PodUID, Namespace and Name identify the pod.
	PodUID, Namespace, Name string
	// Hostname is the pod's hostname.
	Hostname string
	// HostNetwork runs the pod in the node's network namespace.
	HostNetwork bool
	// CPUMilliLimit and MemoryLimitBytes bound the whole pod (0: none);
	// CPUMilliRequest weights it against other pods.
	CPUMilliLimit, CPUMilliRequest, MemoryLimitBytes int64
	// Labels are kept with the sandbox (LabelPodUID etc.).
	Labels map[string]string
}

// Sandbox is a running pod sandbox.
type Sandbox struct {
	// ID identifies the sandbox to its driver.
	ID string
	// IP is the pod's IP ("" with host networking: the node's address).
	IP string
	// NetNS is the path of the pod's network namespace ("" for the host's).
	NetNS string
	// HostNetwork reports that the pod shares the node's network (asked
	// for, or the driver could not isolate it).
	HostNetwork bool
	// Labels are the spec's labels.
	Labels map[string]string
	// CreatedAt is when the sandbox was created.
	CreatedAt time.Time
}

// Mount is a host path made visible to a container.
type Mount struct {
	HostPath, ContainerPath string
	ReadOnly                bool
}

// ContainerSpec describes one container to start in a sandbox.
type ContainerSpec struct {
	// SandboxID is the sandbox the container runs in.
	SandboxID string
	// Name is the container's name in the pod.
	Name string
	// Image is the container image (the process driver ignores it).
	Image string
	// Command and Args are the pod spec's command and args; the driver
	// combines them with the image's entrypoint where it has one.
	Command, Args []string
	// Env are resolved KEY=VALUE pairs.
	Env []string
	// WorkingDir is the working directory ("" for the driver's default).
	WorkingDir string
	// Mounts are the volumes to expose.
	Mounts []Mount
	// CPUMilliLimit, CPUMilliRequest and MemoryLimitBytes are the
	// container's resources (0: none).
	CPUMilliLimit, CPUMilliRequest, MemoryLimitBytes int64
	// LogMaxBytes rotates the container's log file beyond this size (0:
	// the driver's default, 10 MiB); one rotated file is kept.
	LogMaxBytes int64
	// Labels are kept with the container (LabelPodUID, LabelContainer, ...).
	Labels map[string]string
}

// State is a container's state.
type State string

// Container states.
const (
	StateCreated State = "created"
	StateRunning State = "running"
	StateExited  State = "exited"
	StateUnknown State = "unknown"
)

// ContainerStatus is what a driver knows about a container.
type ContainerStatus struct {
	ID        string
	SandboxID string
	Name      string
	State     State
	// PID is the main process (0 when not running).
	PID int
	// CreatedAt, StartedAt and FinishedAt are zero when not reached.
	CreatedAt, StartedAt, FinishedAt time.Time
	// ExitCode is valid when State is StateExited (128+signal when killed
	// by a signal).
	ExitCode int
	// Reason is "Completed", "Error" or "OOMKilled" for exited containers.
	Reason string
	// Message gives details (e.g. the signal).
	Message string
	Labels  map[string]string
}

// Stats are resource usage figures of a container or sandbox.
type Stats struct {
	// Timestamp is when the figures were read.
	Timestamp time.Time
	// CPUUsageNanos is the cumulative CPU time used.
	CPUUsageNanos uint64
	// MemoryWorkingSetBytes is memory usage minus inactive file cache.
	MemoryWorkingSetBytes uint64
}

// LogOptions select what Logs writes.
type LogOptions struct {
	// Follow keeps streaming until ctx is done or the container exits.
	Follow bool
	// TailLines limits the output to the last n lines (<0: all).
	TailLines int64
	// Since skips lines written before this time (zero: all).
	Since time.Time
	// Timestamps prefixes each line with its RFC 3339 time.
	Timestamps bool
	// LimitBytes stops after this many bytes (0: no limit).
	LimitBytes int64
}

// Driver runs pod sandboxes and their containers. Every method honours ctx
// and is safe for concurrent use.
type Driver interface {
	// Name is the driver's name ("process", "mock", "docker").
	Name() string
	// RunSandbox creates a pod sandbox.
	RunSandbox(ctx context.Context, spec SandboxSpec) (Sandbox, error)
	// StopSandbox stops every container of the sandbox (killing them) and
	// releases its network; the sandbox stays listed until removed.
	StopSandbox(ctx context.Context, id string) error
	// RemoveSandbox removes a stopped sandbox and its containers.
	RemoveSandbox(ctx context.Context, id string) error
	// ListSandboxes lists every sandbox the driver manages (also ones made
	// before an agent restart).
	ListSandboxes(ctx context.Context) ([]Sandbox, error)

	// CreateAndStart starts a container in a sandbox and returns its ID.
	// A start that fails after the container exists returns its ID too.
	CreateAndStart(ctx context.Context, spec ContainerSpec) (string, error)
	// Stop sends SIGTERM (or the driver's equivalent) to the container,
	// waits up to grace, then kills it. Stopping an exited container is a
	// no-op.
	Stop(ctx context.Context, id string, grace time.Duration) error
	// Inspect returns a container's status.
	Inspect(ctx context.Context, id string) (ContainerStatus, error)
	// Wait blocks until the container has exited (or ctx is done) and
	// returns its final status.
	Wait(ctx context.Context, id string) (ContainerStatus, error)
	// Remove deletes an exited container and its logs.
	Remove(ctx context.Context, id string) error
	// ListContainers lists every container the driver manages.
	ListContainers(ctx context.Context) ([]ContainerStatus, error)
	// Logs writes the container's output to w (also after it exited,
	// until it is removed).
	Logs(ctx context.Context, id string, opts LogOptions, w io.Writer) error
}

// Execer is implemented by drivers that can run a command in a container.
type Execer interface {
	// Exec runs cmd in the container's environment and returns its exit code.
	Exec(ctx context.Context, id string, cmd []string, stdin io.Reader, stdout, stderr io.Writer) (int, error)
}

// StatsReader is implemented by drivers that report resource usage.
type StatsReader interface {
	// ContainerStats reads a container's usage.
	ContainerStats(ctx context.Context, id string) (Stats, error)
	// SandboxStats reads a whole pod's usage.
	SandboxStats(ctx context.Context, id string) (Stats, error)
}

// RegistryAuth are the credentials for one registry (from an image pull
// secret); the zero value pulls anonymously.
type RegistryAuth struct {
	// Username and Password authenticate with basic authentication.
	Username, Password string
	// ServerAddress is the registry the credentials are for (e.g.
	// "registry.example.com:5000"; "" for the image's own registry).
	ServerAddress string
	// IdentityToken, when set, is used instead of the password (an OAuth
	// refresh token from an earlier login).
	IdentityToken string
}

// ImageManager is implemented by drivers that run container images (not
// the process driver). The agent uses it to apply a container's
// imagePullPolicy before CreateAndStart, which never pulls.
type ImageManager interface {
	// ImagePresent reports whether the image ref (as written in the pod,
	// e.g. "nginx", "nginx:1.27", "registry:5000/app@sha256:...") is on
	// the node.
	ImagePresent(ctx context.Context, ref string) (bool, error)
	// PullImage pulls ref with auth (nil: anonymously) and returns once
	// the image is on the node or the pull failed (an error reported in
	// the middle of the pull is returned too). progress, when not nil,
	// receives human-readable status lines (layer download ticks are
	// left out).
	PullImage(ctx context.Context, ref string, auth *RegistryAuth, progress func(string)) error
}
