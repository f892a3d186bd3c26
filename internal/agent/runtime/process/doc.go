// Package process is the runtime driver that runs containers as plain
// host processes (no images: a container must have a command; its image
// is ignored and a container without command fails with
// runtime.ErrNoCommand).
//
// # Containers
//
// Each container is one process started from Command+Args in a process
// group of its own (Setpgid), with exactly the env it was given (nothing
// is added; a command without a slash is looked up in the env's PATH, or
// in a default PATH), in its WorkingDir or, by default, in
// <StateDir>/containers/<id>/work. Stop sends SIGTERM to the process
// group, waits for the grace period, then sends SIGKILL (at once for a
// grace of zero). When the main process exits, what is left of its
// process group is killed. The exit code is 128+signal for a process
// ended by a signal; the reason is OOMKilled when the container's cgroup
// saw an OOM kill, else Completed (0) or Error. A process that cannot be
// started leaves an exited container with code 128 and the error as its
// message.
//
// # Isolation
//
// Isolation is injected. Network (a CNI-like plugin) gives each sandbox a
// network namespace and an IP; container and exec processes are started
// on an OS thread that entered the namespace with setns(2), so they
// inherit it. Without a Network, or for host network pods, pods use the
// host's network (Sandbox.HostNetwork true, IP ""). CgroupManager gives
// each container a cgroup of its own, named by its ID, with the
// container's limits. The process never runs outside it: a container
// started from the driver's own mount-namespace thread on cgroup v1 is
// started after that thread joined the cgroup (ThreadCgroupAdder), so it
// is born there; any other starts behind a gate (/bin/sh waiting on a
// pipe, then executing the command) until the driver has moved it in.
// Without one, containers run in the agent's cgroup and stats come from
// /proc. Hostname is not applied (no UTS namespace) and pods share the
// host's PID and IPC namespaces.
//
// # Mounts
//
// As root, a container with Mounts runs in a mount namespace of its own,
// made by a thread of the driver that then starts the process, or, where
// a thread cannot get a mount namespace, by Config.InitBinary (by default
// /proc/self/exe with the hidden subcommand InitCommand, which the berth
// binary dispatches to InitMain) started with CLONE_NEWNS. Either makes
// all mounts private, bind-mounts each HostPath at its ContainerPath
// (read-only if asked), changes to the working directory and executes the
// command with the container's env. The new namespace is a copy of the
// host's mounts, among them the pods' network namespace files
// (Config.NamespaceDirs), whose copies would keep deleted pods'
// namespaces alive as long as the container runs: the driver unmounts
// them there NamespacePruneDelay (10 s) after the start, off the start
// path (each unmount costs the kernel an expedited RCU grace period).
// The process is in its cgroup before it executes the command, and a
// failure to set the namespace up fails the start. There is no
// root file system of its own: a ContainerPath that does not exist is
// created on the host (an empty directory or file, the mount point) and
// stays there. Exec processes of such containers get the same mounts the
// same way.
//
// Without root, volumes are not mounted: the container's default working
// directory (<StateDir>/containers/<id>/work) gets a symlink named after
// the base name of each mount's ContainerPath, pointing at its HostPath;
// ReadOnly is not enforced.
//
// # Logs
//
// A container's stdout and stderr are files the process appends to, so it
// keeps running, and its output is kept, while no agent runs. The driver
// copies complete lines from them (every PollInterval) into
// <StateDir>/containers/<id>/container.log in the Kubernetes CRI format,
// "<RFC3339Nano> <stdout|stderr> <F|P> <line>", lines longer than 16 KiB
// being split into partial (P) records. The time is when the driver read
// the line. The log rotates beyond the container's LogMaxBytes (default
// 10 MiB), keeping one rotated file (container.log.1); Logs reads both. A
// follower that falls more than one rotation behind loses the skipped
// file. The log and the offsets file (how far the raw files were copied)
// appear with the first output: a quiet container's start creates no
// file it does not need.
//
// # Restarts
//
// Sandboxes and containers are recorded as JSON under StateDir, a
// container once its process runs (a directory without a record is what
// a driver that stopped in the middle of a start leaves; the next one
// removes it). A new driver on the same directory lists them again and adopts the running
// processes: a process is identified by its PID and its start time in
// /proc/<pid>/stat, so a reused PID is not mistaken for the container. The
// adopted processes are watched through /proc; since they are not the new
// driver's children, their exit status is lost: they are reported with
// ExitUnknown (255), or 137 when the driver killed them. Copying output
// resumes where the previous driver stopped.
//
// Close stops the driver's background goroutine and leaves the containers
// running.
package process
