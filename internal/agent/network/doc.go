// Package network gives the node agent's pods their own network through
// CNI: each pod sandbox gets a network namespace, a veth pair into a Linux
// bridge on the host and an IP address from the node's podCIDR.
//
// CNI implements the Network interface that the process driver uses.
// Setup creates a named network namespace (an empty file in the netns
// directory onto which the namespace is bind-mounted, as `ip netns add`
// does) and runs the CNI plugins against it; Teardown runs them again with
// DEL, in reverse order, and removes the namespace. Cleanup removes what is
// left of sandboxes that no longer exist (after an agent restart or a host
// reboot), and Available tells whether CNI can work on this host at all,
// so that the agent can fall back to host networking and say why.
//
// # The CNI protocol
//
// The package speaks the small CNI exec protocol itself, without the
// containernetworking/cni library: a plugin is a binary found in one of
// Config.PluginDirs, run with CNI_COMMAND (ADD, DEL or VERSION),
// CNI_CONTAINERID (the sandbox ID), CNI_NETNS, CNI_IFNAME (always eth0)
// and CNI_PATH in its environment, its network configuration as JSON on
// standard input and its result (or a CNI error object) as JSON on standard
// output. The configuration list is:
//
//   - bridge, with the bridge named by Config.BridgeName (berth0 by
//     default), isGateway (the bridge holds the subnet's first address, so
//     the host reaches every pod and pods route through it), hairpinMode
//     (a pod reaches itself through a service address), Config.MTU when
//     set, and host-local IPAM over the podCIDR's subnet with a default
//     route (0.0.0.0/0, or ::/0 for an IPv6 podCIDR).
//
// It has no loopback plugin: Setup brings lo up itself when it creates the
// namespace. It has no ipMasq and no portmap either, so that a pod's ADD
// and DEL run no iptables at all (the bridge plugin's ipMasq made a nat
// chain and rules per pod, each a series of iptables runs, and removed
// them on DEL; portmap runs iptables on every DEL, and no pod passes port
// mappings yet). Instead, when iptables works, Prepare (which the process
// driver runs in the background at its start) or else the first Setup
// installs one masquerade rule for the node: a nat chain BERTH-MASQ-<bridge> that returns for the podCIDR
// and multicast and masquerades the rest, entered from POSTROUTING for
// traffic from the podCIDR, so pods' traffic leaving the podCIDR leaves
// with the node's address, as with ipMasq. It is installed with
// iptables-restore (two iptables runs, idempotent; a jump from an older
// podCIDR of the same bridge is replaced), checked again by Setup at most
// once a minute (a firewall reload may have flushed it), shared by every
// pod of the bridge and kept when the agent stops, as the pods are;
// RemoveMasquerade removes it. Sandboxes set up by an older agent keep
// the list recorded with them (loopback, bridge with ipMasq, portmap), so
// their DEL still removes their own rules.
//
// The CNI version is the newest that every plugin of the list reports
// supporting (1.0.0 with containernetworking-plugins 1.x, down to 0.3.1),
// asked with CNI_COMMAND=VERSION of bridge and host-local, once, by
// Prepare or the first Setup. The configuration list
// used for a sandbox and the result of its ADD are kept in
// <StateDir>/results/<sandboxID>.json, so that its DEL gets the same
// configuration and the ADD result as prevResult, as the specification
// asks, even when the host changed in between.
//
// # Files and host settings
//
// Under Config.StateDir: ipam/ is host-local's data directory (one file per
// reserved address, named by the address and holding the sandbox ID),
// results/ the cached results, and netns/ the namespace files unless
// Config.NetNSDir puts them elsewhere (a tmpfs such as /run/berth/netns is
// the better place: bind mounts do not survive a reboot, and neither
// should their files). The netns directory is made a shared mount point,
// as `ip netns` does with /run/netns, so that unmounting a namespace also
// unmounts its copies in mount namespaces created in the meantime.
//
// Setup enables IPv4 forwarding (writes 1 to
// /proc/sys/net/ipv4/ip_forward; for an IPv6 podCIDR it writes
// /proc/sys/net/ipv6/conf/all/forwarding) so that pods reach addresses
// beyond the node through the bridge. This is a host-wide setting that the
// package never turns back off; it is logged when it changes. (IPv6
// forwarding also makes the kernel ignore router advertisements on
// interfaces whose accept_ra is 1, so a node that takes its IPv6 default
// route from them needs accept_ra=2.)
//
// Pods on one node reach each other through the bridge, and the host
// reaches them through the bridge's gateway address. Reaching pods on other
// nodes needs routes between the nodes' podCIDRs, which this package does
// not set up.
//
// Everything here needs root (CAP_SYS_ADMIN and CAP_NET_ADMIN) and Linux.
// The containernetworking-plugins package (Debian) provides the plugins in
// /usr/lib/cni; the iptables package provides the masquerade rule.
package network
