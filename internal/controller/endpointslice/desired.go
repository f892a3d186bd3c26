package endpointslice

import (
	"maps"
	"slices"

	"github.com/berth-dev/berth/internal/controller/endpoints/podaddr"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

const (
	// ManagedBy is the endpointslice.kubernetes.io/managed-by label value
	// of the slices this controller owns: Kubernetes' value, so that tools
	// filtering on it treat Berth's slices like Kubernetes' ones.
	ManagedBy = "endpointslice-controller.k8s.io"
	// MaxEndpointsPerSlice is how many endpoints one slice holds at most.
	MaxEndpointsPerSlice = 100
)

// Group is the endpoints of one address type that serve the same ports;
// they go into slices of their own.
type Group struct {
	// Key identifies the port set (podaddr.PortsKey of the ports).
	Key string
	// Ports are the slice ports, in service port order.
	Ports []discoveryv1.EndpointPort
	// Endpoints are sorted by address.
	Endpoints []discoveryv1.Endpoint
}

// AddressType returns the slice address type for an IP family.
func AddressType(f corev1.IPFamily) discoveryv1.AddressType {
	if f == corev1.IPv6Protocol {
		return discoveryv1.AddressTypeIPv6
	}
	return discoveryv1.AddressTypeIPv4
}

// DesiredGroups returns, for every address type svc publishes, the groups
// of endpoints its pods provide (an empty list when there are none), in
// port-set key order. Terminating pods are included, not ready; a
// service that is not managed yields nil.
func DesiredGroups(svc *corev1.Service, pods []*corev1.Pod) map[discoveryv1.AddressType][]Group {
	if !podaddr.Managed(svc) {
		return nil
	}
	out := map[discoveryv1.AddressType][]Group{}
	for _, family := range podaddr.Families(svc) {
		byKey := map[string]*Group{}
		for _, b := range podaddr.Backends(svc, pods, family) {
			key := podaddr.PortsKey(b.Ports)
			g := byKey[key]
			if g == nil {
				g = &Group{Key: key, Ports: slicePorts(b.Ports)}
				byKey[key] = g
			}
			g.Endpoints = append(g.Endpoints, endpoint(svc, b))
		}
		groups := []Group{}
		for _, key := range slices.Sorted(maps.Keys(byKey)) {
			groups = append(groups, *byKey[key])
		}
		out[AddressType(family)] = groups
	}
	return out
}

// endpoint turns a backend into a slice endpoint with Kubernetes'
// conditions: serving is readiness, ready is readiness of a pod that is
// not terminating (or always, when the service publishes not-ready
// addresses), terminating is the deletionTimestamp.
func endpoint(svc *corev1.Service, b podaddr.Backend) discoveryv1.Endpoint {
	serving, terminating := b.Ready, b.Terminating
	ready := svc.Spec.PublishNotReadyAddresses || (serving && !terminating)
	ref := b.TargetRef
	ep := discoveryv1.Endpoint{
		Addresses:  []string{b.IP},
		Conditions: discoveryv1.EndpointConditions{Ready: &ready, Serving: &serving, Terminating: &terminating},
		TargetRef:  &ref,
	}
	if b.NodeName != "" {
		n := b.NodeName
		ep.NodeName = &n
	}
	if b.Hostname != "" {
		h := b.Hostname
		ep.Hostname = &h
	}
	return ep
}

// slicePorts converts resolved ports to slice ports.
func slicePorts(ports []podaddr.Port) []discoveryv1.EndpointPort {
	var out []discoveryv1.EndpointPort
	for _, p := range ports {
		name, port, proto := p.Name, p.Port, p.Protocol
		out = append(out, discoveryv1.EndpointPort{Name: &name, Port: &port, Protocol: &proto, AppProtocol: p.AppProtocol})
	}
	return out
}

// PortsKey is podaddr.PortsKey of a slice's ports, with the API's
// defaults (empty name, TCP) for unset fields.
func PortsKey(ports []discoveryv1.EndpointPort) string {
	conv := make([]podaddr.Port, 0, len(ports))
	for _, p := range ports {
		var q podaddr.Port
		if p.Name != nil {
			q.Name = *p.Name
		}
		if p.Port != nil {
			q.Port = *p.Port
		}
		q.Protocol = corev1.ProtocolTCP
		if p.Protocol != nil && *p.Protocol != "" {
			q.Protocol = *p.Protocol
		}
		q.AppProtocol = p.AppProtocol
		conv = append(conv, q)
	}
	return podaddr.PortsKey(conv)
}

// DesiredLabels returns the labels of svc's slices: the service's labels
// (except the two reserved keys), service.kubernetes.io/headless for a
// headless service, kubernetes.io/service-name and the managed-by label.
func DesiredLabels(svc *corev1.Service) map[string]string {
	l := maps.Clone(svc.Labels)
	if l == nil {
		l = map[string]string{}
	}
	if podaddr.Headless(svc) {
		l[corev1.IsHeadlessService] = ""
	} else {
		delete(l, corev1.IsHeadlessService)
	}
	l[discoveryv1.LabelServiceName] = svc.Name
	l[discoveryv1.LabelManagedBy] = ManagedBy
	return l
}

// ownerRef is the controller reference slices carry to their service.
func ownerRef(svc *corev1.Service) metav1.OwnerReference {
	t := true
	return metav1.OwnerReference{APIVersion: "v1", Kind: "Service", Name: svc.Name, UID: svc.UID, Controller: &t, BlockOwnerDeletion: &t}
}

// OwnedBy reports whether s's controller reference is svc (by UID).
func OwnedBy(s *discoveryv1.EndpointSlice, svc *corev1.Service) bool {
	ref := metav1.GetControllerOfNoCopy(s)
	return ref != nil && ref.Kind == "Service" && ref.UID == svc.UID
}

// newSlice returns a slice of svc to create, named <service>-<random>.
func newSlice(svc *corev1.Service, at discoveryv1.AddressType, ports []discoveryv1.EndpointPort, eps []discoveryv1.Endpoint) *discoveryv1.EndpointSlice {
	return &discoveryv1.EndpointSlice{
		ObjectMeta: metav1.ObjectMeta{
			GenerateName:    svc.Name + "-",
			Namespace:       svc.Namespace,
			Labels:          DesiredLabels(svc),
			OwnerReferences: []metav1.OwnerReference{ownerRef(svc)},
		},
		AddressType: at,
		Ports:       ports,
		Endpoints:   eps,
	}
}
