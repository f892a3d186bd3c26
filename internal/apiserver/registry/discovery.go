package registry

import (
	"net/netip"
	"strconv"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// EndpointSlice limits.
const (
	maxEndpointsPerSlice = 1000
	maxPortsPerSlice     = 100
	maxAddresses         = 100
)

func endpointSliceResource() *Resource {
	return &Resource{
		GroupVersion: discoveryV1, Resource: "endpointslices", Singular: "endpointslice", Kind: "EndpointSlice", Namespaced: true,
		New:     func() runtime.Object { return &discoveryv1.EndpointSlice{} },
		NewList: func() runtime.Object { return &discoveryv1.EndpointSliceList{} },
		Strategy: Strategy{
			Default: func(obj runtime.Object) {
				s := obj.(*discoveryv1.EndpointSlice)
				for i := range s.Ports {
					setIfNil(&s.Ports[i].Name, "")
					setIfNil(&s.Ports[i].Protocol, corev1.ProtocolTCP)
				}
			},
			Validate: func(obj runtime.Object) field.ErrorList {
				s := obj.(*discoveryv1.EndpointSlice)
				errs := validateMeta(&s.ObjectMeta, true, apivalidation.NameIsDNSSubdomain)
				return append(errs, validateEndpointSlice(s)...)
			},
			ValidateUpdate: func(obj, old runtime.Object) field.ErrorList {
				s, o := obj.(*discoveryv1.EndpointSlice), old.(*discoveryv1.EndpointSlice)
				errs := validateMetaUpdate(&s.ObjectMeta, &o.ObjectMeta)
				errs = append(errs, validateEndpointSlice(s)...)
				return append(errs, immutable(s.AddressType, o.AddressType, field.NewPath("addressType"))...)
			},
			Table: &TableConvertor{
				Columns: []metav1.TableColumnDefinition{
					nameColumn(""),
					column("AddressType", "string", "The IP protocol for this slice", 0),
					column("Ports", "string", "The ports for this slice", 0),
					column("Endpoints", "string", "The endpoints for this slice", 0),
					ageColumn(),
				},
				Row: func(obj runtime.Object) []interface{} {
					s := obj.(*discoveryv1.EndpointSlice)
					return []interface{}{s.Name, string(s.AddressType), slicePorts(s.Ports), sliceEndpoints(s.Endpoints), since(s.CreationTimestamp)}
				},
			},
		},
	}
}

// validateEndpointSlice checks the address type, endpoints and ports.
func validateEndpointSlice(s *discoveryv1.EndpointSlice) field.ErrorList {
	errs := validateEnum(field.NewPath("addressType"), s.AddressType, true,
		discoveryv1.AddressTypeIPv4, discoveryv1.AddressTypeIPv6, discoveryv1.AddressTypeFQDN)
	ep := field.NewPath("endpoints")
	if len(s.Endpoints) > maxEndpointsPerSlice {
		errs = append(errs, field.TooMany(ep, len(s.Endpoints), maxEndpointsPerSlice))
	}
	for i, e := range s.Endpoints {
		p := ep.Index(i)
		ap := p.Child("addresses")
		switch {
		case len(e.Addresses) == 0:
			errs = append(errs, field.Required(ap, "must contain at least 1 address"))
		case len(e.Addresses) > maxAddresses:
			errs = append(errs, field.TooMany(ap, len(e.Addresses), maxAddresses))
		}
		for j, a := range e.Addresses {
			errs = append(errs, validateSliceAddress(s.AddressType, a, ap.Index(j))...)
		}
		if e.Hostname != nil {
			errs = append(errs, msgs(p.Child("hostname"), *e.Hostname, validation.IsDNS1123Label(*e.Hostname))...)
		}
		if e.NodeName != nil {
			errs = append(errs, dnsSubdomainIfSet(p.Child("nodeName"), *e.NodeName)...)
		}
	}
	pp := field.NewPath("ports")
	if len(s.Ports) > maxPortsPerSlice {
		errs = append(errs, field.TooMany(pp, len(s.Ports), maxPortsPerSlice))
	}
	names := sets.New[string]()
	for i, port := range s.Ports {
		p := pp.Index(i)
		if port.Name != nil && *port.Name != "" {
			errs = append(errs, msgs(p.Child("name"), *port.Name, validation.IsDNS1123Label(*port.Name))...)
		}
		name := ""
		if port.Name != nil {
			name = *port.Name
		}
		if names.Has(name) {
			errs = append(errs, field.Duplicate(p.Child("name"), name))
		}
		names.Insert(name)
		if port.Port != nil {
			errs = append(errs, msgs(p.Child("port"), *port.Port, validation.IsValidPortNum(int(*port.Port)))...)
		}
		if port.Protocol != nil {
			errs = append(errs, validateProtocol(p.Child("protocol"), *port.Protocol)...)
		}
	}
	return errs
}

// validateSliceAddress checks an address against the slice's address type.
func validateSliceAddress(t discoveryv1.AddressType, a string, p *field.Path) field.ErrorList {
	switch t {
	case discoveryv1.AddressTypeIPv4, discoveryv1.AddressTypeIPv6:
		if errs := validation.IsValidIP(p, a); len(errs) > 0 {
			return errs
		}
		ip, err := netip.ParseAddr(a)
		if err != nil {
			return nil
		}
		if t == discoveryv1.AddressTypeIPv4 && !ip.Is4() {
			return field.ErrorList{field.Invalid(p, a, "must be an IPv4 address")}
		}
		if t == discoveryv1.AddressTypeIPv6 && !ip.Is6() {
			return field.ErrorList{field.Invalid(p, a, "must be an IPv6 address")}
		}
	case discoveryv1.AddressTypeFQDN:
		return msgs(p, a, validation.IsDNS1123Subdomain(a))
	}
	return nil
}

// slicePorts renders "80,443" (or "<unset>").
func slicePorts(ports []discoveryv1.EndpointPort) string {
	if len(ports) == 0 {
		return unset
	}
	list := make([]string, 0, len(ports))
	for _, p := range ports {
		if p.Port == nil {
			list = append(list, unset)
		} else {
			list = append(list, strconv.Itoa(int(*p.Port)))
		}
	}
	return joinMax(list, ",", maxTableEndpoints)
}

// sliceEndpoints renders the first addresses (or "<unset>").
func sliceEndpoints(endpoints []discoveryv1.Endpoint) string {
	var list []string
	for _, e := range endpoints {
		list = append(list, e.Addresses...)
	}
	if len(list) == 0 {
		return unset
	}
	return joinMax(list, ",", maxTableEndpoints)
}
