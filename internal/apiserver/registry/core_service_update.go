package registry

import (
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// prepareServiceUpdate keeps the status, keeps allocated values (cluster IP,
// node ports, health check port) that a client omitted, and drops fields the
// new type no longer uses when they were left unchanged.
func prepareServiceUpdate(svc, old *corev1.Service) {
	svc.Status = *old.Status.DeepCopy()
	n, o := &svc.Spec, &old.Spec
	ext := corev1.ServiceTypeExternalName
	if n.Type != ext && o.Type != ext && n.ClusterIP == "" && len(n.ClusterIPs) == 0 {
		n.ClusterIP = o.ClusterIP
		n.ClusterIPs = append([]string(nil), o.ClusterIPs...)
	}
	if externallyAccessible(n.Type) && externallyAccessible(o.Type) {
		for i := range n.Ports {
			if n.Ports[i].NodePort != 0 {
				continue
			}
			if op := findServicePort(o.Ports, &n.Ports[i]); op != nil {
				n.Ports[i].NodePort = op.NodePort
			}
		}
	}
	if n.Type == corev1.ServiceTypeLoadBalancer && o.Type == corev1.ServiceTypeLoadBalancer && n.HealthCheckNodePort == 0 &&
		n.ExternalTrafficPolicy == corev1.ServiceExternalTrafficPolicyLocal {
		n.HealthCheckNodePort = o.HealthCheckNodePort
	}

	if !externallyAccessible(n.Type) {
		for i := range n.Ports {
			if op := findServicePort(o.Ports, &n.Ports[i]); op != nil && op.NodePort == n.Ports[i].NodePort {
				n.Ports[i].NodePort = 0
			}
		}
		if len(n.ExternalIPs) == 0 && n.ExternalTrafficPolicy == o.ExternalTrafficPolicy {
			n.ExternalTrafficPolicy = ""
		}
	}
	if n.Type != corev1.ServiceTypeLoadBalancer {
		if n.HealthCheckNodePort == o.HealthCheckNodePort {
			n.HealthCheckNodePort = 0
		}
		if semanticEqual(n.AllocateLoadBalancerNodePorts, o.AllocateLoadBalancerNodePorts) {
			n.AllocateLoadBalancerNodePorts = nil
		}
		if semanticEqual(n.LoadBalancerClass, o.LoadBalancerClass) {
			n.LoadBalancerClass = nil
		}
	}
	if n.Type == ext && o.Type != ext {
		if n.ClusterIP == o.ClusterIP {
			n.ClusterIP = ""
		}
		if semanticEqual(n.ClusterIPs, o.ClusterIPs) {
			n.ClusterIPs = nil
		}
		if semanticEqual(n.IPFamilies, o.IPFamilies) {
			n.IPFamilies = nil
		}
		if semanticEqual(n.IPFamilyPolicy, o.IPFamilyPolicy) {
			n.IPFamilyPolicy = nil
		}
		if semanticEqual(n.InternalTrafficPolicy, o.InternalTrafficPolicy) {
			n.InternalTrafficPolicy = nil
		}
	}
}

// findServicePort finds the port in ports with the same number and protocol
// (or, failing that, the same non-empty name).
func findServicePort(ports []corev1.ServicePort, p *corev1.ServicePort) *corev1.ServicePort {
	proto := p.Protocol
	if proto == "" {
		proto = corev1.ProtocolTCP
	}
	for i := range ports {
		if ports[i].Port == p.Port && ports[i].Protocol == proto {
			return &ports[i]
		}
	}
	for i := range ports {
		if p.Name != "" && ports[i].Name == p.Name {
			return &ports[i]
		}
	}
	return nil
}

// validateServiceUpdate validates the new service; its cluster IP may not
// change once set unless the service is or was of type ExternalName.
func validateServiceUpdate(svc, old *corev1.Service) field.ErrorList {
	errs := validateMetaUpdate(&svc.ObjectMeta, &old.ObjectMeta)
	errs = append(errs, validateServiceSpec(&svc.Spec)...)
	ext := corev1.ServiceTypeExternalName
	if old.Spec.ClusterIP != "" && old.Spec.Type != ext && svc.Spec.Type != ext {
		errs = append(errs, immutable(svc.Spec.ClusterIP, old.Spec.ClusterIP, specPath.Child("clusterIP"))...)
	}
	for i, ing := range svc.Status.LoadBalancer.Ingress {
		ip := statusPath.Child("loadBalancer", "ingress").Index(i)
		if ing.IP != "" {
			errs = append(errs, validation.IsValidIP(ip.Child("ip"), ing.IP)...)
		}
		if ing.Hostname != "" {
			errs = append(errs, msgs(ip.Child("hostname"), ing.Hostname, validation.IsDNS1123Subdomain(ing.Hostname))...)
		}
	}
	return errs
}
