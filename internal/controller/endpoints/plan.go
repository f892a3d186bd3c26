package endpoints

import (
	"maps"
	"slices"

	"github.com/berth-dev/berth/internal/controller/endpoints/podaddr"
	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// MaxAddresses is how many addresses (ready and not ready) one Endpoints
// object holds at most; the rest is dropped and the object is annotated
// with corev1.EndpointsOverCapacity.
const MaxAddresses = 1000

// overCapacityValue is the value of the over-capacity annotation.
const overCapacityValue = "truncated"

// DesiredSubsets returns the subsets svc should publish given pods, in a
// canonical order (subsets by port set, addresses by IP), and whether
// addresses beyond MaxAddresses were dropped. A service that is not
// managed (no selector, or ExternalName) yields nil.
func DesiredSubsets(svc *corev1.Service, pods []*corev1.Pod) ([]corev1.EndpointSubset, bool) {
	family := podaddr.Families(svc)[0]
	publishAll := svc.Spec.PublishNotReadyAddresses
	groups := map[string]*corev1.EndpointSubset{}
	for _, b := range podaddr.Backends(svc, pods, family) {
		if b.Terminating && !publishAll {
			continue
		}
		var ports []corev1.EndpointPort
		switch {
		case len(svc.Spec.Ports) == 0 && !podaddr.Headless(svc):
			continue // only headless services may publish bare addresses
		case len(svc.Spec.Ports) > 0 && len(b.Ports) == 0:
			continue // the pod serves none of the service's ports
		}
		for _, p := range b.Ports {
			ports = append(ports, corev1.EndpointPort{Name: p.Name, Port: p.Port, Protocol: p.Protocol, AppProtocol: p.AppProtocol})
		}
		key := podaddr.PortsKey(b.Ports)
		ss := groups[key]
		if ss == nil {
			ss = &corev1.EndpointSubset{Ports: ports}
			groups[key] = ss
		}
		addr := address(b)
		if publishAll || b.Ready {
			ss.Addresses = append(ss.Addresses, addr)
		} else {
			ss.NotReadyAddresses = append(ss.NotReadyAddresses, addr)
		}
	}
	var subsets []corev1.EndpointSubset
	for _, key := range slices.Sorted(maps.Keys(groups)) {
		subsets = append(subsets, *groups[key])
	}
	return truncate(subsets, MaxAddresses)
}

// address turns a backend into an Endpoints address.
func address(b podaddr.Backend) corev1.EndpointAddress {
	ref := b.TargetRef
	a := corev1.EndpointAddress{IP: b.IP, Hostname: b.Hostname, TargetRef: &ref}
	if b.NodeName != "" {
		node := b.NodeName
		a.NodeName = &node
	}
	return a
}

// truncate keeps at most max addresses, ready ones first, dropping
// subsets left empty; it reports whether anything was dropped.
func truncate(subsets []corev1.EndpointSubset, max int) ([]corev1.EndpointSubset, bool) {
	total := 0
	for _, ss := range subsets {
		total += len(ss.Addresses) + len(ss.NotReadyAddresses)
	}
	if total <= max {
		return subsets, false
	}
	budget := max
	take := func(addrs []corev1.EndpointAddress) []corev1.EndpointAddress {
		n := min(len(addrs), budget)
		budget -= n
		if n == 0 {
			return nil
		}
		return addrs[:n]
	}
	for i := range subsets {
		subsets[i].Addresses = take(subsets[i].Addresses)
	}
	for i := range subsets {
		subsets[i].NotReadyAddresses = take(subsets[i].NotReadyAddresses)
	}
	return slices.DeleteFunc(subsets, func(ss corev1.EndpointSubset) bool {
		return len(ss.Addresses) == 0 && len(ss.NotReadyAddresses) == 0
	}), true
}

// DesiredLabels returns the labels of svc's Endpoints: the service's
// labels, plus service.kubernetes.io/headless for a headless service.
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
	return l
}

// Plan is what the controller writes for one service; both fields nil
// means the Endpoints is up to date.
type Plan struct {
	// Create is a new Endpoints to create.
	Create *corev1.Endpoints
	// Update is the existing Endpoints with its new content.
	Update *corev1.Endpoints
}

// PlanEndpoints decides how the Endpoints of svc must change given the
// current one (nil when absent) and the pods in svc's namespace. svc must
// be managed (podaddr.Managed).
func PlanEndpoints(svc *corev1.Service, existing *corev1.Endpoints, pods []*corev1.Pod) Plan {
	subsets, truncated := DesiredSubsets(svc, pods)
	lbls := DesiredLabels(svc)
	if existing == nil {
		ep := &corev1.Endpoints{
			ObjectMeta: metav1.ObjectMeta{Name: svc.Name, Namespace: svc.Namespace, Labels: lbls},
			Subsets:    subsets,
		}
		if truncated {
			ep.Annotations = map[string]string{corev1.EndpointsOverCapacity: overCapacityValue}
		}
		return Plan{Create: ep}
	}
	_, marked := existing.Annotations[corev1.EndpointsOverCapacity]
	if marked == truncated && maps.Equal(existing.Labels, lbls) &&
		apiequality.Semantic.DeepEqual(existing.Subsets, subsets) {
		return Plan{}
	}
	ep := existing.DeepCopy()
	ep.Labels = lbls
	ep.Subsets = subsets
	if truncated {
		if ep.Annotations == nil {
			ep.Annotations = map[string]string{}
		}
		ep.Annotations[corev1.EndpointsOverCapacity] = overCapacityValue
	} else {
		delete(ep.Annotations, corev1.EndpointsOverCapacity)
	}
	return Plan{Update: ep}
}

// leaderAnnotation marks Endpoints used as leader-election locks by old
// components; such objects have no service and are never deleted.
const leaderAnnotation = "control-plane.alpha.kubernetes.io/leader"

// Leftover reports whether ep should be deleted because it has no
// service: not a leader-election lock and no service named like it
// (serviceExists says whether one does).
func Leftover(ep *corev1.Endpoints, serviceExists bool) bool {
	if serviceExists {
		return false
	}
	_, lock := ep.Annotations[leaderAnnotation]
	return !lock
}
