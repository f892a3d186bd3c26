package registry

import (
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1validation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// NodePortMin and NodePortMax bound the ports a NodePort or LoadBalancer
// service may use on every node.
const (
	NodePortMin = 30000
	NodePortMax = 32767
)

// defaultClientIPTimeoutSeconds is the ClientIP session affinity timeout (3h).
const defaultClientIPTimeoutSeconds int32 = 10800

func serviceResource() *Resource {
	return &Resource{
		GroupVersion: coreV1, Resource: "services", Singular: "service", Kind: "Service", Namespaced: true,
		ShortNames: []string{"svc"}, Categories: []string{"all"}, Subresources: []string{"status"},
		New:     func() runtime.Object { return &corev1.Service{} },
		NewList: func() runtime.Object { return &corev1.ServiceList{} },
		Strategy: Strategy{
			Default: func(obj runtime.Object) { defaultService(obj.(*corev1.Service)) },
			PrepareForCreate: func(obj runtime.Object) {
				obj.(*corev1.Service).Status = corev1.ServiceStatus{}
			},
			PrepareForUpdate: func(obj, old runtime.Object) {
				prepareServiceUpdate(obj.(*corev1.Service), old.(*corev1.Service))
			},
			PrepareForStatusUpdate: func(obj, old runtime.Object) {
				obj.(*corev1.Service).Spec = *old.(*corev1.Service).Spec.DeepCopy()
			},
			Validate: func(obj runtime.Object) field.ErrorList {
				svc := obj.(*corev1.Service)
				errs := validateMeta(&svc.ObjectMeta, true, apivalidation.NameIsDNS1035Label)
				return append(errs, validateServiceSpec(&svc.Spec)...)
			},
			ValidateUpdate: func(obj, old runtime.Object) field.ErrorList {
				return validateServiceUpdate(obj.(*corev1.Service), old.(*corev1.Service))
			},
			SpecEqual: func(a, b runtime.Object) bool {
				return semanticEqual(a.(*corev1.Service).Spec, b.(*corev1.Service).Spec)
			},
			FieldSet: func(obj runtime.Object) fields.Set {
				svc := obj.(*corev1.Service)
				return fields.Set{"spec.clusterIP": svc.Spec.ClusterIP, "spec.type": string(svc.Spec.Type)}
			},
			Table: serviceTable(),
		},
	}
}

// externallyAccessible reports whether the type opens node ports.
func externallyAccessible(t corev1.ServiceType) bool {
	return t == corev1.ServiceTypeNodePort || t == corev1.ServiceTypeLoadBalancer
}

// defaultService sets the service defaults Kubernetes users see. The
// cluster IP and node ports themselves are allocated by the handler.
func defaultService(svc *corev1.Service) {
	s := &svc.Spec
	if s.Type == "" {
		s.Type = corev1.ServiceTypeClusterIP
	}
	if s.SessionAffinity == "" {
		s.SessionAffinity = corev1.ServiceAffinityNone
	}
	if s.SessionAffinity == corev1.ServiceAffinityClientIP {
		if s.SessionAffinityConfig == nil {
			s.SessionAffinityConfig = &corev1.SessionAffinityConfig{}
		}
		if s.SessionAffinityConfig.ClientIP == nil {
			s.SessionAffinityConfig.ClientIP = &corev1.ClientIPConfig{}
		}
		setIfNil(&s.SessionAffinityConfig.ClientIP.TimeoutSeconds, defaultClientIPTimeoutSeconds)
	}
	for i := range s.Ports {
		p := &s.Ports[i]
		if p.Protocol == "" {
			p.Protocol = corev1.ProtocolTCP
		}
		if (p.TargetPort.Type == intstr.Int && p.TargetPort.IntVal == 0) ||
			(p.TargetPort.Type == intstr.String && p.TargetPort.StrVal == "") {
			p.TargetPort = intstr.FromInt32(p.Port)
		}
	}
	if externallyAccessible(s.Type) && s.ExternalTrafficPolicy == "" {
		s.ExternalTrafficPolicy = corev1.ServiceExternalTrafficPolicyCluster
	}
	if s.Type == corev1.ServiceTypeLoadBalancer {
		setIfNil(&s.AllocateLoadBalancerNodePorts, true)
	}
	if s.Type == corev1.ServiceTypeExternalName {
		return
	}
	setIfNil(&s.InternalTrafficPolicy, corev1.ServiceInternalTrafficPolicyCluster)
	if s.ClusterIP == "" && len(s.ClusterIPs) > 0 {
		s.ClusterIP = s.ClusterIPs[0]
	}
	if s.ClusterIP != "" && len(s.ClusterIPs) == 0 {
		s.ClusterIPs = []string{s.ClusterIP}
	}
	if len(s.IPFamilies) == 0 {
		s.IPFamilies = []corev1.IPFamily{corev1.IPv4Protocol}
	}
	if s.IPFamilyPolicy == nil {
		policy := corev1.IPFamilyPolicySingleStack
		if s.ClusterIP == corev1.ClusterIPNone && len(s.Selector) == 0 {
			policy = corev1.IPFamilyPolicyRequireDualStack
		}
		s.IPFamilyPolicy = &policy
	}
}

// validateServiceSpec validates a service spec.
func validateServiceSpec(s *corev1.ServiceSpec) field.ErrorList {
	sp := specPath
	errs := validateEnum(sp.Child("type"), s.Type, true, corev1.ServiceTypeClusterIP, corev1.ServiceTypeNodePort,
		corev1.ServiceTypeLoadBalancer, corev1.ServiceTypeExternalName)
	headless := s.ClusterIP == corev1.ClusterIPNone
	if s.Type == corev1.ServiceTypeExternalName {
		if s.ExternalName == "" {
			errs = append(errs, field.Required(sp.Child("externalName"), ""))
		} else {
			name := strings.TrimSuffix(s.ExternalName, ".")
			errs = append(errs, msgs(sp.Child("externalName"), s.ExternalName, validation.IsDNS1123Subdomain(name))...)
		}
		if s.ClusterIP != "" {
			errs = append(errs, field.Forbidden(sp.Child("clusterIP"), "may not be set for ExternalName services"))
		}
	} else {
		if s.ClusterIP != "" && !headless {
			errs = append(errs, validation.IsValidIP(sp.Child("clusterIP"), s.ClusterIP)...)
		}
		if len(s.Ports) == 0 && !headless {
			errs = append(errs, field.Required(sp.Child("ports"), ""))
		}
	}
	for i, ip := range s.ClusterIPs {
		if ip != corev1.ClusterIPNone {
			errs = append(errs, validation.IsValidIP(sp.Child("clusterIPs").Index(i), ip)...)
		}
	}
	if len(s.ClusterIPs) > 0 && s.ClusterIP != "" && s.ClusterIPs[0] != s.ClusterIP {
		errs = append(errs, field.Invalid(sp.Child("clusterIPs").Index(0), s.ClusterIPs[0], "must match `clusterIP` when both are specified"))
	}
	errs = append(errs, validateServicePorts(s)...)

	errs = append(errs, validateEnum(sp.Child("sessionAffinity"), s.SessionAffinity, true,
		corev1.ServiceAffinityNone, corev1.ServiceAffinityClientIP)...)
	if s.SessionAffinity == corev1.ServiceAffinityClientIP {
		if c := s.SessionAffinityConfig; c != nil && c.ClientIP != nil && c.ClientIP.TimeoutSeconds != nil {
			if t := *c.ClientIP.TimeoutSeconds; t <= 0 || t > 86400 {
				errs = append(errs, field.Invalid(sp.Child("sessionAffinityConfig", "clientIP", "timeoutSeconds"), t, "must be greater than 0 and less than or equal to 86400"))
			}
		}
	} else if s.SessionAffinityConfig != nil {
		errs = append(errs, field.Forbidden(sp.Child("sessionAffinityConfig"), fmt.Sprintf("must not be set when session affinity is %s", s.SessionAffinity)))
	}
	errs = append(errs, metav1validation.ValidateLabels(s.Selector, sp.Child("selector"))...)
	for i, ip := range s.ExternalIPs {
		errs = append(errs, validation.IsValidIP(sp.Child("externalIPs").Index(i), ip)...)
	}
	lb := s.Type == corev1.ServiceTypeLoadBalancer
	for i, cidr := range s.LoadBalancerSourceRanges {
		if !lb {
			errs = append(errs, field.Forbidden(sp.Child("loadBalancerSourceRanges"), "may only be used when `type` is 'LoadBalancer'"))
			break
		}
		errs = append(errs, validation.IsValidCIDR(sp.Child("loadBalancerSourceRanges").Index(i), strings.TrimSpace(cidr))...)
	}
	if s.LoadBalancerIP != "" && lb {
		errs = append(errs, validation.IsValidIP(sp.Child("loadBalancerIP"), s.LoadBalancerIP)...)
	}
	if s.ExternalTrafficPolicy != "" {
		errs = append(errs, validateEnum(sp.Child("externalTrafficPolicy"), s.ExternalTrafficPolicy, true,
			corev1.ServiceExternalTrafficPolicyCluster, corev1.ServiceExternalTrafficPolicyLocal)...)
		if !externallyAccessible(s.Type) && len(s.ExternalIPs) == 0 {
			errs = append(errs, field.Invalid(sp.Child("externalTrafficPolicy"), s.ExternalTrafficPolicy, "may only be set for externally-accessible services"))
		}
	}
	if s.InternalTrafficPolicy != nil {
		errs = append(errs, validateEnum(sp.Child("internalTrafficPolicy"), *s.InternalTrafficPolicy, true,
			corev1.ServiceInternalTrafficPolicyCluster, corev1.ServiceInternalTrafficPolicyLocal)...)
	}
	if s.HealthCheckNodePort != 0 {
		hp := sp.Child("healthCheckNodePort")
		if !lb || s.ExternalTrafficPolicy != corev1.ServiceExternalTrafficPolicyLocal {
			errs = append(errs, field.Invalid(hp, s.HealthCheckNodePort, "may only be set when `type` is 'LoadBalancer' and `externalTrafficPolicy` is 'Local'"))
		} else {
			errs = append(errs, msgs(hp, s.HealthCheckNodePort, validation.IsValidPortNum(int(s.HealthCheckNodePort)))...)
		}
	}
	if s.AllocateLoadBalancerNodePorts != nil && !lb {
		errs = append(errs, field.Forbidden(sp.Child("allocateLoadBalancerNodePorts"), "may only be used when `type` is 'LoadBalancer'"))
	}
	if s.LoadBalancerClass != nil {
		if !lb {
			errs = append(errs, field.Forbidden(sp.Child("loadBalancerClass"), "may only be used when `type` is 'LoadBalancer'"))
		} else {
			errs = append(errs, msgs(sp.Child("loadBalancerClass"), *s.LoadBalancerClass, validation.IsQualifiedName(*s.LoadBalancerClass))...)
		}
	}
	families := sets.New[corev1.IPFamily]()
	for i, f := range s.IPFamilies {
		fp := sp.Child("ipFamilies").Index(i)
		errs = append(errs, validateEnum(fp, f, true, corev1.IPv4Protocol, corev1.IPv6Protocol)...)
		if families.Has(f) {
			errs = append(errs, field.Duplicate(fp, f))
		}
		families.Insert(f)
	}
	if p := s.IPFamilyPolicy; p != nil {
		errs = append(errs, validateEnum(sp.Child("ipFamilyPolicy"), *p, true, corev1.IPFamilyPolicySingleStack,
			corev1.IPFamilyPolicyPreferDualStack, corev1.IPFamilyPolicyRequireDualStack)...)
		if *p == corev1.IPFamilyPolicySingleStack && len(s.IPFamilies) > 1 {
			errs = append(errs, field.Invalid(sp.Child("ipFamilies"), s.IPFamilies, "must contain at most one entry when `ipFamilyPolicy` is 'SingleStack'"))
		}
	}
	return errs
}

// validateServicePorts checks names, numbers, protocols, target ports and
// node ports.
func validateServicePorts(s *corev1.ServiceSpec) field.ErrorList {
	var errs field.ErrorList
	names := sets.New[string]()
	seen := sets.New[string]()
	nodePorts := sets.New[string]()
	for i := range s.Ports {
		port := &s.Ports[i]
		pp := specPath.Child("ports").Index(i)
		switch {
		case port.Name == "" && len(s.Ports) > 1:
			errs = append(errs, field.Required(pp.Child("name"), ""))
		case port.Name != "":
			errs = append(errs, msgs(pp.Child("name"), port.Name, validation.IsDNS1123Label(port.Name))...)
			if names.Has(port.Name) {
				errs = append(errs, field.Duplicate(pp.Child("name"), port.Name))
			}
			names.Insert(port.Name)
		}
		errs = append(errs, msgs(pp.Child("port"), port.Port, validation.IsValidPortNum(int(port.Port)))...)
		errs = append(errs, validateProtocol(pp.Child("protocol"), port.Protocol)...)
		errs = append(errs, validateIntOrStringPort(port.TargetPort, pp.Child("targetPort"))...)
		key := fmt.Sprintf("%d/%s", port.Port, port.Protocol)
		if seen.Has(key) {
			errs = append(errs, field.Duplicate(pp, key))
		}
		seen.Insert(key)
		if port.NodePort == 0 {
			continue
		}
		np := pp.Child("nodePort")
		if !externallyAccessible(s.Type) {
			errs = append(errs, field.Forbidden(np, fmt.Sprintf("may not be used when `type` is '%s'", s.Type)))
			continue
		}
		if port.NodePort < NodePortMin || port.NodePort > NodePortMax {
			errs = append(errs, field.Invalid(np, port.NodePort, fmt.Sprintf("provided port is not in the valid range. The range of valid ports is %d-%d", NodePortMin, NodePortMax)))
		}
		nkey := fmt.Sprintf("%d/%s", port.NodePort, port.Protocol)
		if nodePorts.Has(nkey) {
			errs = append(errs, field.Duplicate(np, port.NodePort))
		}
		nodePorts.Insert(nkey)
	}
	return errs
}
