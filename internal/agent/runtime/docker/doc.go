// Package docker is the runtime driver that runs pods as Docker
// containers through the Docker Engine API (github.com/moby/moby/client,
// with the API version negotiated, so Debian's Docker 20.10, API 1.41,
// works as well as current releases).
//
// # Pods
//
// A sandbox is an infra container (the "pause" container) that holds the
// pod's network and IPC namespaces; the sandbox's ID is its container ID.
// App containers join them (network mode and IPC mode
// "container:<sandbox ID>"), so the containers of a pod share one IP and
// localhost, and take the infra container's hostname (the pod's). Each app
// container has a PID namespace of its own with docker-init (tini) as its
// PID 1, which passes the stop signal to the command and reaps zombies
// (Config.DisableInit runs the command as PID 1 instead).
//
// The infra container runs a tiny static program that waits forever
// (pause(2) on amd64, ppoll(2) on arm64). Nothing can be pulled on many
// machines, so the driver writes that program itself (see pause.go for its
// bytes) and imports it with the image import API as berth/pause:<n> when
// the image is missing. On other architectures Config.PauseImage must name
// a pause image loaded on the node; RunSandbox fails clearly otherwise.
//
// # Network
//
// Pods are attached to a Docker bridge network the driver creates, named
// Config.NetworkName (berth-<node>), on the bridge Config.BridgeName, with
// the node's pod CIDR as its subnet: pod IPs come from the podCIDR, the
// bridge holds its first address, the node reaches pods directly, and
// Docker masquerades what pods send beyond the subnet. Sandbox.IP is the
// infra container's address on that network and Sandbox.NetNS its network
// namespace (the daemon's sandbox key). Host network pods get an infra
// container in the node's network (HostNetwork true, IP ""). A network of
// that name made with other settings is replaced while unused. The driver
// refuses to create the network when a local interface already has an
// address in the pod CIDR (Docker does not check), e.g. the process
// driver's bridge.
//
// # Containers
//
// The image must be on the node: CreateAndStart never pulls and fails with
// runtime.ErrImageNotPresent; the agent pulls through ImagePresent and
// PullImage (runtime.ImageManager) as the container's imagePullPolicy
// says. Command and args are combined with the image's ENTRYPOINT and CMD
// as Kubernetes does (command replaces ENTRYPOINT and drops CMD; args
// alone replace CMD); env is added to the image's; WorkingDir replaces the
// image's; mounts are bind mounts. A CPU limit is a CFS quota per 100 ms
// period (at least 1 ms), a CPU request cpu.shares (2 without one), a
// memory limit a memory limit without swap. Containers have no restart
// policy: the agent restarts them. Exit codes are Docker's (128+signal for
// a command killed by a signal); the reason is OOMKilled when Docker saw
// an OOM kill, else Completed or Error. A missing executable makes
// docker-init exit 127 with its complaint in the container's log; without
// docker-init the start fails, and the container, which Docker keeps as
// "created" with the error, is reported exited with Docker's exit code
// (127, 126 or 128) and the error as its message.
//
// Stop sends the container's stop signal (the image's STOPSIGNAL, else
// SIGTERM), waits for the grace period and then sends SIGKILL. Infra
// containers are killed (their stop signal is SIGKILL).
//
// # Labels and restarts
//
// Every container carries the spec's labels (runtime.LabelPodUID etc.)
// and the driver's: LabelManaged ("true"), LabelNode (Config.NodeName),
// LabelRole (sandbox or container), LabelKeys (the spec's label keys) and,
// on app containers, LabelSandbox and LabelName. Those are reserved (a
// spec setting one is refused) and not reported back, nor are labels the
// image adds. The driver keeps no state of its own: everything it
// reports comes from the daemon, filtered by those labels, so a new driver
// (after an agent restart) lists and re-adopts the running pods, and only
// sees its own node's containers when several agents share a dockerd.
//
// # Logs, exec, stats
//
// Containers log through Docker's json-file driver, rotated beyond their
// LogMaxBytes (10 MiB by default) with one rotated file kept; Logs reads
// them back through the logs API, stdout and stderr merged. Tail lines are
// selected before Since filters them, as the kubelet does (the process
// driver filters first); timestamps are the daemon's (RFC 3339 with nine
// fraction digits). Exec uses the exec API without a TTY; its exit code
// comes from the exec's inspection. Stats are one sample of the stats API:
// the CPU time and the memory working set (usage minus inactive file
// cache).
package docker
