package docker

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strings"

	"github.com/moby/moby/api/types/network"
	"github.com/moby/moby/client"
)

// Options of Docker's bridge driver the network is created with.
const (
	optBridgeName = "com.docker.network.bridge.name"
	optMasquerade = "com.docker.network.bridge.enable_ip_masquerade"
	optICC        = "com.docker.network.bridge.enable_icc"
)

// networkRequest is how the pods' network is created: a bridge network on
// the bridge cfg.BridgeName with pod IPs from cfg.PodCIDR (Docker's IPAM
// picks a subnet without one), masquerading what leaves it, labelled as
// the node's.
func networkRequest(cfg Config) client.NetworkCreateOptions {
	opts := client.NetworkCreateOptions{
		Driver: "bridge",
		Options: map[string]string{
			optBridgeName: cfg.BridgeName,
			optMasquerade: "true",
			optICC:        "true",
		},
		Labels: map[string]string{LabelManaged: "true", LabelNode: cfg.NodeName},
	}
	if cfg.PodCIDR.IsValid() {
		opts.IPAM = &network.IPAM{Driver: "default", Config: []network.IPAMConfig{{Subnet: cfg.PodCIDR.Masked()}}}
	}
	return opts
}

// networkMatches reports whether an existing network is the one cfg asks
// for (same driver, bridge and, with a pod CIDR, subnet).
func networkMatches(n network.Inspect, cfg Config) error {
	if n.Driver != "bridge" {
		return fmt.Errorf("driver %q, want bridge", n.Driver)
	}
	if b := n.Options[optBridgeName]; b != cfg.BridgeName {
		return fmt.Errorf("bridge %q, want %q", b, cfg.BridgeName)
	}
	if !cfg.PodCIDR.IsValid() {
		return nil
	}
	want := cfg.PodCIDR.Masked()
	if !slices.ContainsFunc(n.IPAM.Config, func(c network.IPAMConfig) bool { return c.Subnet == want }) {
		var have []netip.Prefix
		for _, c := range n.IPAM.Config {
			have = append(have, c.Subnet)
		}
		return fmt.Errorf("subnets %v, want %s", have, want)
	}
	return nil
}

// network returns the ID of the pods' network, creating it when missing.
// A network of that name made for another pod CIDR (the node's changed)
// is replaced when no container uses it, and an error otherwise.
func (d *Driver) network(ctx context.Context) (string, error) {
	d.netMu.Lock()
	defer d.netMu.Unlock()
	if d.netID != "" {
		return d.netID, nil
	}
	name := d.cfg.NetworkName
	for attempt := 0; ; attempt++ {
		res, err := d.cli.NetworkInspect(ctx, name, client.NetworkInspectOptions{})
		switch {
		case err == nil:
			n := res.Network
			bad := networkMatches(n, d.cfg)
			if bad == nil {
				d.netID = n.ID
				return n.ID, nil
			}
			if len(n.Containers) > 0 || attempt > 0 {
				return "", fmt.Errorf("docker: network %s exists with other settings (%v) and is in use: remove its containers or choose another network name", name, bad)
			}
			d.log.Info("replacing a network made with other settings", "network", name, "id", n.ID, "why", bad.Error())
			if _, err := d.cli.NetworkRemove(ctx, n.ID, client.NetworkRemoveOptions{}); err != nil {
				return "", d.apiError(err, "remove network %s", name)
			}
		case isNotFound(err):
		default:
			return "", d.apiError(err, "inspect network %s", name)
		}
		if d.cfg.PodCIDR.IsValid() && strings.HasPrefix(d.cli.DaemonHost(), "unix://") {
			if ifc := localConflict(d.cfg.PodCIDR, d.cfg.BridgeName); ifc != "" {
				return "", fmt.Errorf("docker: cannot create network %s: the pod CIDR %s is already on interface %s (another bridge of this node, e.g. the process driver's?)",
					name, d.cfg.PodCIDR, ifc)
			}
		}
		created, err := d.cli.NetworkCreate(ctx, name, networkRequest(d.cfg))
		if err != nil {
			if attempt == 0 {
				continue // made meanwhile (by another driver of this node)?
			}
			return "", d.apiError(err, "create network %s (bridge %s, subnet %v)", name, d.cfg.BridgeName, d.cfg.PodCIDR)
		}
		d.log.Info("created the pods' network", "network", name, "id", created.ID, "bridge", d.cfg.BridgeName, "subnet", d.cfg.PodCIDR)
		d.netID = created.ID
		return created.ID, nil
	}
}

// forgetNetwork makes the next network call check the network again (it
// was removed behind the driver's back).
func (d *Driver) forgetNetwork() {
	d.netMu.Lock()
	d.netID = ""
	d.netMu.Unlock()
}

// localConflict names a local interface other than bridge that has an
// address in p ("" for none): Docker does not check that a subnet it is
// given is free, and two bridges on one subnet break routing.
func localConflict(p netip.Prefix, bridge string) string {
	ifs, err := net.Interfaces()
	if err != nil {
		return ""
	}
	for _, ifc := range ifs {
		if ifc.Name == bridge {
			continue
		}
		addrs, err := ifc.Addrs()
		if err != nil {
			continue
		}
		for _, a := range addrs {
			if n, ok := a.(*net.IPNet); ok {
				if ip, ok := netip.AddrFromSlice(n.IP); ok && p.Contains(ip.Unmap()) {
					return ifc.Name
				}
			}
		}
	}
	return ""
}
