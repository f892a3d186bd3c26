package apiserver

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"strconv"
	"strings"

	"github.com/berth-dev/berth/internal/store"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// Reservation keys: one etcd key per allocated ClusterIP and node port,
// created and deleted in the same transaction as the Service, so two
// Services can never hold the same address or port.
const (
	ipKeyPrefix   = "ranges/serviceips/"
	portKeyPrefix = "ranges/nodeports/"
)

// allocator hands out ClusterIPs and NodePorts.
type allocator struct {
	store            *store.Store
	cidr             netip.Prefix
	portMin, portMax int
}

// allocation lists reservation keys to create and to delete with a write.
type allocation struct {
	reserve []string
	release []string
}

var servicesGK = schema.GroupKind{Kind: "Service"}

// allocate fills in svc's ClusterIP and node ports (keeping old's where the
// update leaves them empty) and returns the keys to reserve and release.
func (a *allocator) allocate(ctx context.Context, svc, old *corev1.Service) (allocation, error) {
	var oldKeys []string
	if old != nil {
		oldKeys = a.heldKeys(old)
		if svc.Spec.ClusterIP == "" && svc.Spec.Type != corev1.ServiceTypeExternalName {
			svc.Spec.ClusterIP = old.Spec.ClusterIP
		}
		oldPorts := map[string]int32{}
		for _, p := range old.Spec.Ports {
			oldPorts[portID(p)] = p.NodePort
		}
		for i := range svc.Spec.Ports {
			if p := &svc.Spec.Ports[i]; p.NodePort == 0 && usesNodePorts(svc) {
				p.NodePort = oldPorts[portID(*p)]
			}
		}
	}
	if err := a.assign(ctx, svc, oldKeys); err != nil {
		return allocation{}, err
	}
	newKeys := a.heldKeys(svc)
	return allocation{reserve: minus(newKeys, oldKeys), release: minus(oldKeys, newKeys)}, nil
}

func portID(p corev1.ServicePort) string {
	return p.Name + "/" + string(p.Protocol) + "/" + strconv.Itoa(int(p.Port))
}

func usesNodePorts(svc *corev1.Service) bool {
	return svc.Spec.Type == corev1.ServiceTypeNodePort || svc.Spec.Type == corev1.ServiceTypeLoadBalancer
}

func (a *allocator) assign(ctx context.Context, svc *corev1.Service, held []string) error {
	spec := &svc.Spec
	if spec.Type == corev1.ServiceTypeExternalName {
		spec.ClusterIP, spec.ClusterIPs = "", nil
	} else if spec.ClusterIP != corev1.ClusterIPNone {
		if spec.ClusterIP == "" {
			ip, err := a.freeIP(ctx)
			if err != nil {
				return err
			}
			spec.ClusterIP = ip
		} else if err := a.checkIP(ctx, spec.ClusterIP, held); err != nil {
			return err
		}
	}
	if spec.ClusterIP != "" {
		spec.ClusterIPs = []string{spec.ClusterIP}
	}
	if !usesNodePorts(svc) {
		for i := range spec.Ports {
			spec.Ports[i].NodePort = 0
		}
		return nil
	}
	taken, err := a.reserved(ctx, portKeyPrefix)
	if err != nil {
		return err
	}
	used := map[int32]bool{}
	for i := range spec.Ports {
		p := &spec.Ports[i]
		if p.NodePort == 0 {
			continue
		}
		path := field.NewPath("spec", "ports").Index(i).Child("nodePort")
		if int(p.NodePort) < a.portMin || int(p.NodePort) > a.portMax {
			return apierrors.NewInvalid(servicesGK, svc.Name, field.ErrorList{field.Invalid(path, p.NodePort,
				fmt.Sprintf("provided port is not in the valid range. The range of valid ports is %d-%d", a.portMin, a.portMax))})
		}
		if taken[portKey(p.NodePort)] && !contains(held, portKey(p.NodePort)) {
			return apierrors.NewInvalid(servicesGK, svc.Name, field.ErrorList{field.Invalid(path, p.NodePort, "provided port is already allocated")})
		}
		used[p.NodePort] = true
	}
	for i := range spec.Ports {
		p := &spec.Ports[i]
		if p.NodePort != 0 {
			continue
		}
		n := a.portMax - a.portMin + 1
		start := rand.IntN(n)
		for j := 0; j < n; j++ {
			cand := int32(a.portMin + (start+j)%n)
			if !taken[portKey(cand)] && !used[cand] {
				p.NodePort, used[cand] = cand, true
				break
			}
		}
		if p.NodePort == 0 {
			return apierrors.NewInternalError(fmt.Errorf("no free node ports in %d-%d", a.portMin, a.portMax))
		}
	}
	return nil
}

func (a *allocator) checkIP(ctx context.Context, ip string, held []string) error {
	path := field.NewPath("spec", "clusterIPs").Index(0)
	addr, err := netip.ParseAddr(ip)
	if err != nil || !a.cidr.Contains(addr) {
		return apierrors.NewInvalid(servicesGK, "", field.ErrorList{field.Invalid(path, ip,
			fmt.Sprintf("failed to allocate IP %s: the provided IP is not in the valid range. The range of valid IPs is %s", ip, a.cidr))})
	}
	if contains(held, ipKey(ip)) {
		return nil
	}
	if _, err := a.store.Get(ctx, ipKey(ip)); err == nil {
		return apierrors.NewInvalid(servicesGK, "", field.ErrorList{field.Invalid(path, ip, "failed to allocate IP "+ip+": provided IP is already allocated")})
	}
	return nil
}

func (a *allocator) freeIP(ctx context.Context) (string, error) {
	taken, err := a.reserved(ctx, ipKeyPrefix)
	if err != nil {
		return "", err
	}
	base := a.cidr.Masked().Addr()
	size := 1 << (base.BitLen() - a.cidr.Bits())
	if size > 1<<20 {
		size = 1 << 20
	}
	// Skip the network address and .1 (kept for the API server's own
	// Service, as in Kubernetes) and the last address.
	usable := size - 3
	if usable <= 0 {
		return "", apierrors.NewInternalError(fmt.Errorf("service CIDR %s is too small", a.cidr))
	}
	start := rand.IntN(usable)
	for j := 0; j < usable; j++ {
		ip := nth(base, 2+(start+j)%usable)
		if !taken[ipKey(ip)] {
			return ip, nil
		}
	}
	return "", apierrors.NewInternalError(fmt.Errorf("no free ClusterIPs in %s", a.cidr))
}

func nth(base netip.Addr, n int) string {
	b := base.As16()
	carry := n
	for i := 15; i >= 0 && carry > 0; i-- {
		sum := int(b[i]) + carry
		b[i] = byte(sum)
		carry = sum >> 8
	}
	addr := netip.AddrFrom16(b)
	if base.Is4() {
		addr = addr.Unmap()
	}
	return addr.String()
}

func (a *allocator) reserved(ctx context.Context, prefix string) (map[string]bool, error) {
	kvs, _, _, err := a.store.List(ctx, prefix, store.ListOptions{})
	if err != nil {
		return nil, storeError(err, schema.GroupResource{Resource: "services"}, "")
	}
	out := make(map[string]bool, len(kvs))
	for _, kv := range kvs {
		out[kv.Key] = true
		if !strings.HasPrefix(kv.Key, prefix) {
			out[prefix+kv.Key] = true
		}
	}
	return out, nil
}

func ipKey(ip string) string    { return ipKeyPrefix + ip }
func portKey(port int32) string { return portKeyPrefix + strconv.Itoa(int(port)) }

// heldKeys lists the reservation keys an object holds (none unless it is a
// Service).
func (a *allocator) heldKeys(obj runtime.Object) []string {
	svc, ok := obj.(*corev1.Service)
	if !ok {
		return nil
	}
	var keys []string
	if ip := svc.Spec.ClusterIP; ip != "" && ip != corev1.ClusterIPNone {
		keys = append(keys, ipKey(ip))
	}
	for _, p := range svc.Spec.Ports {
		if p.NodePort != 0 && !contains(keys, portKey(p.NodePort)) {
			keys = append(keys, portKey(p.NodePort))
		}
	}
	return keys
}

func minus(a, b []string) []string {
	var out []string
	for _, x := range a {
		if !contains(b, x) {
			out = append(out, x)
		}
	}
	return out
}
