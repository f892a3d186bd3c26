// Package cgroups puts the node agent's pods into Linux control groups: it
// creates one cgroup per pod under a parent (by default "berth"), applies
// CPU and memory limits, moves processes into it, reads usage figures,
// tells whether the kernel OOM-killed something in it and removes it.
//
// New detects the host's layout: the cgroup v2 unified hierarchy (the
// usual case today; controllers listed in cgroup.controllers and enabled
// for children through cgroup.subtree_control) or cgroup v1 with one
// hierarchy per controller (cpu, cpuacct, memory, pids; co-mounted ones
// such as "cpu,cpuacct" work too). On hybrid hosts the v1 controllers win
// and the mostly empty v2 hierarchy at <root>/unified is ignored.
//
// Limits follow the kubelet: a CPU limit becomes a CFS quota over a
// 100ms period, a CPU request becomes cpu.shares (v1) or cpu.weight
// converted from the shares (v2), a memory limit becomes
// memory.limit_in_bytes (v1) or memory.max (v2), and swap is disabled for
// the cgroup where the kernel offers the knob. The working set is memory
// usage minus inactive file cache, as cAdvisor reports it.
//
// Noop returns a Manager that does nothing, for hosts where cgroups cannot
// be used (not root, no usable hierarchy); New returns one, with the
// reason, alongside its error.
package cgroups
