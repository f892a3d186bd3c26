package podaddr

import (
	"net/netip"
	"slices"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// Port is one service port as a given pod serves it.
type Port struct {
	// Name is the service port's name ("" for a single unnamed port).
	Name string
	// Port is the resolved target port on the pod.
	Port int32
	// Protocol is the service port's protocol (TCP when unset).
	Protocol corev1.Protocol
	// AppProtocol is the service port's application protocol, if any.
	AppProtocol *string
}

// Backend is a pod backing a service, seen at one IP family.
type Backend struct {
	// IP is the pod's address in the wanted family.
	IP string
	// NodeName is the node the pod is bound to ("" when unbound).
	NodeName string
	// Hostname is the pod's spec.hostname when its spec.subdomain names
	// the service, else "".
	Hostname string
	// TargetRef points at the pod (kind Pod, namespace, name, uid).
	TargetRef corev1.ObjectReference
	// Ready is whether the pod's Ready condition is True.
	Ready bool
	// Terminating is whether the pod has a deletionTimestamp.
	Terminating bool
	// Ports are the service ports this pod serves, in service port order;
	// a named targetPort the pod lacks is left out.
	Ports []Port
}

// Managed reports whether the controllers publish endpoints for svc: it
// has a selector and is not of type ExternalName.
func Managed(svc *corev1.Service) bool {
	return svc.Spec.Selector != nil && svc.Spec.Type != corev1.ServiceTypeExternalName
}

// Headless reports whether svc has clusterIP None.
func Headless(svc *corev1.Service) bool { return svc.Spec.ClusterIP == corev1.ClusterIPNone }

// Selects reports whether svc's selector picks pod: same namespace and
// matching labels. A service without a selector selects nothing.
func Selects(svc *corev1.Service, pod *corev1.Pod) bool {
	if svc.Spec.Selector == nil || svc.Namespace != pod.Namespace {
		return false
	}
	return labels.SelectorFromSet(svc.Spec.Selector).Matches(labels.Set(pod.Labels))
}

// IsReady reports whether pod's Ready condition is True.
func IsReady(pod *corev1.Pod) bool {
	for _, c := range pod.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// Finished reports whether pod reached a terminal phase.
func Finished(pod *corev1.Pod) bool {
	return pod.Status.Phase == corev1.PodSucceeded || pod.Status.Phase == corev1.PodFailed
}

// Families returns the IP families svc publishes endpoints for: its
// spec.ipFamilies, else the family of its clusterIP, else IPv4.
func Families(svc *corev1.Service) []corev1.IPFamily {
	if len(svc.Spec.IPFamilies) > 0 {
		return svc.Spec.IPFamilies
	}
	if ip, err := netip.ParseAddr(svc.Spec.ClusterIP); err == nil && ip.Unmap().Is6() {
		return []corev1.IPFamily{corev1.IPv6Protocol}
	}
	return []corev1.IPFamily{corev1.IPv4Protocol}
}

// FamilyOf returns the family of the address ip ("" when ip is invalid).
func FamilyOf(ip string) corev1.IPFamily {
	a, err := netip.ParseAddr(ip)
	switch {
	case err != nil:
		return ""
	case a.Unmap().Is4():
		return corev1.IPv4Protocol
	default:
		return corev1.IPv6Protocol
	}
}

// PodIP returns pod's address in family, or "" when it has none.
func PodIP(pod *corev1.Pod, family corev1.IPFamily) string {
	for _, ip := range pod.Status.PodIPs {
		if FamilyOf(ip.IP) == family {
			return ip.IP
		}
	}
	if len(pod.Status.PodIPs) == 0 && FamilyOf(pod.Status.PodIP) == family {
		return pod.Status.PodIP
	}
	return ""
}

// protocolOr returns p, or TCP when p is unset.
func protocolOr(p corev1.Protocol) corev1.Protocol {
	if p == "" {
		return corev1.ProtocolTCP
	}
	return p
}

// FindPort resolves sp's targetPort on pod: a number as is (the service
// port itself when unset), a name through the ports of the pod's
// containers and restartable init containers with the same protocol.
func FindPort(pod *corev1.Pod, sp *corev1.ServicePort) (int32, bool) {
	tp := sp.TargetPort
	if tp.Type == intstr.Int {
		if tp.IntVal == 0 {
			return sp.Port, true
		}
		return tp.IntVal, true
	}
	if tp.StrVal == "" {
		return sp.Port, true
	}
	proto := protocolOr(sp.Protocol)
	match := func(cs []corev1.Container, sidecarsOnly bool) (int32, bool) {
		for _, c := range cs {
			if sidecarsOnly && (c.RestartPolicy == nil || *c.RestartPolicy != corev1.ContainerRestartPolicyAlways) {
				continue
			}
			for _, p := range c.Ports {
				if p.Name == tp.StrVal && protocolOr(p.Protocol) == proto {
					return p.ContainerPort, true
				}
			}
		}
		return 0, false
	}
	if n, ok := match(pod.Spec.Containers, false); ok {
		return n, true
	}
	return match(pod.Spec.InitContainers, true)
}

// Ports returns the ports of svc that pod serves, in service port order.
func Ports(svc *corev1.Service, pod *corev1.Pod) []Port {
	var out []Port
	for i := range svc.Spec.Ports {
		sp := &svc.Spec.Ports[i]
		n, ok := FindPort(pod, sp)
		if !ok {
			continue
		}
		out = append(out, Port{Name: sp.Name, Port: n, Protocol: protocolOr(sp.Protocol), AppProtocol: sp.AppProtocol})
	}
	return out
}

// Hostname returns the DNS hostname pod has under headless service svc:
// spec.hostname when spec.subdomain is the service's name, else "".
func Hostname(svc *corev1.Service, pod *corev1.Pod) string {
	if pod.Spec.Hostname != "" && pod.Spec.Subdomain == svc.Name && pod.Namespace == svc.Namespace {
		return pod.Spec.Hostname
	}
	return ""
}

// Backends returns the pods among pods that back svc at family, sorted by
// IP then pod name. It includes terminating and not-ready pods (callers
// decide what to publish for them) and excludes pods that are not
// selected, have no IP in family, or finished. It returns nil for a
// service that is not Managed.
func Backends(svc *corev1.Service, pods []*corev1.Pod, family corev1.IPFamily) []Backend {
	if !Managed(svc) {
		return nil
	}
	var out []Backend
	for _, pod := range pods {
		if !Selects(svc, pod) || Finished(pod) {
			continue
		}
		ip := PodIP(pod, family)
		if ip == "" {
			continue
		}
		out = append(out, Backend{
			IP:          ip,
			NodeName:    pod.Spec.NodeName,
			Hostname:    Hostname(svc, pod),
			TargetRef:   corev1.ObjectReference{Kind: "Pod", Namespace: pod.Namespace, Name: pod.Name, UID: pod.UID},
			Ready:       IsReady(pod),
			Terminating: pod.DeletionTimestamp != nil,
			Ports:       Ports(svc, pod),
		})
	}
	slices.SortFunc(out, func(a, b Backend) int {
		if c := compareIP(a.IP, b.IP); c != 0 {
			return c
		}
		return strings.Compare(a.TargetRef.Name, b.TargetRef.Name)
	})
	return out
}

// compareIP orders addresses numerically, invalid ones last by text.
func compareIP(a, b string) int {
	x, errA := netip.ParseAddr(a)
	y, errB := netip.ParseAddr(b)
	if errA == nil && errB == nil {
		return x.Compare(y)
	}
	return strings.Compare(a, b)
}

// PortsKey renders ports as a string that is equal for equal port lists,
// for grouping backends by the ports they serve.
func PortsKey(ports []Port) string {
	var b strings.Builder
	for _, p := range ports {
		b.WriteString(p.Name)
		b.WriteByte('/')
		b.WriteString(string(p.Protocol))
		b.WriteByte('/')
		b.WriteString(strconv.Itoa(int(p.Port)))
		if p.AppProtocol != nil {
			b.WriteByte('/')
			b.WriteString(*p.AppProtocol)
		}
		b.WriteByte(';')
	}
	return b.String()
}

// HasIP reports whether pod has an address, without which it backs no
// service: events about pods without one cannot change any endpoints.
func HasIP(pod *corev1.Pod) bool { return pod.Status.PodIP != "" || len(pod.Status.PodIPs) > 0 }

// Relevant reports whether a pod update may change what the pod
// contributes to a service's endpoints, so that unrelated writes (the
// binding of a pod that has no IP yet, container restart counts) do not
// trigger reconciles.
func Relevant(old, cur *corev1.Pod) bool {
	if old.ResourceVersion == cur.ResourceVersion || (!HasIP(old) && !HasIP(cur)) {
		return false
	}
	return !labels.Equals(old.Labels, cur.Labels) ||
		(old.DeletionTimestamp == nil) != (cur.DeletionTimestamp == nil) ||
		old.Status.PodIP != cur.Status.PodIP ||
		!slices.Equal(old.Status.PodIPs, cur.Status.PodIPs) ||
		Finished(old) != Finished(cur) ||
		IsReady(old) != IsReady(cur) ||
		old.Spec.NodeName != cur.Spec.NodeName ||
		old.Spec.Hostname != cur.Spec.Hostname ||
		old.Spec.Subdomain != cur.Spec.Subdomain
}

// SelectingServices returns the "namespace/name" keys of the services
// among svcs whose selector picks any of pods (typically a pod's old and
// new versions), each key once.
func SelectingServices(svcs []*corev1.Service, pods ...*corev1.Pod) []string {
	var keys []string
	for _, svc := range svcs {
		for _, pod := range pods {
			if pod != nil && Selects(svc, pod) {
				keys = append(keys, svc.Namespace+"/"+svc.Name)
				break
			}
		}
	}
	return keys
}
