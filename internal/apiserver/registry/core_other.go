package registry

import (
	"net"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// maxTableEndpoints is how many endpoints a table cell lists before
// " + N more...".
const maxTableEndpoints = 3

func endpointsResource() *Resource {
	return &Resource{
		GroupVersion: coreV1, Resource: "endpoints", Singular: "endpoints", Kind: "Endpoints", Namespaced: true,
		ShortNames: []string{"ep"},
		New:        func() runtime.Object { return &corev1.Endpoints{} },
		NewList:    func() runtime.Object { return &corev1.EndpointsList{} },
		Strategy: Strategy{
			Default: func(obj runtime.Object) {
				for i := range obj.(*corev1.Endpoints).Subsets {
					ss := &obj.(*corev1.Endpoints).Subsets[i]
					for j := range ss.Ports {
						if ss.Ports[j].Protocol == "" {
							ss.Ports[j].Protocol = corev1.ProtocolTCP
						}
					}
				}
			},
			Validate: func(obj runtime.Object) field.ErrorList {
				ep := obj.(*corev1.Endpoints)
				errs := validateMeta(&ep.ObjectMeta, true, apivalidation.NameIsDNSSubdomain)
				return append(errs, validateEndpointSubsets(ep.Subsets)...)
			},
			ValidateUpdate: func(obj, old runtime.Object) field.ErrorList {
				ep := obj.(*corev1.Endpoints)
				errs := validateMetaUpdate(&ep.ObjectMeta, &old.(*corev1.Endpoints).ObjectMeta)
				return append(errs, validateEndpointSubsets(ep.Subsets)...)
			},
			Table: &TableConvertor{
				Columns: []metav1.TableColumnDefinition{
					nameColumn(""),
					column("Endpoints", "string", "Endpoints of the service", 0),
					ageColumn(),
				},
				Row: func(obj runtime.Object) []interface{} {
					ep := obj.(*corev1.Endpoints)
					return []interface{}{ep.Name, endpointsString(ep.Subsets), since(ep.CreationTimestamp)}
				},
			},
		},
	}
}

// validateEndpointSubsets checks addresses and ports of Endpoints.
func validateEndpointSubsets(subsets []corev1.EndpointSubset) field.ErrorList {
	var errs field.ErrorList
	for i, ss := range subsets {
		sp := field.NewPath("subsets").Index(i)
		if len(ss.Addresses) == 0 && len(ss.NotReadyAddresses) == 0 {
			errs = append(errs, field.Required(sp, "must specify `addresses` or `notReadyAddresses`"))
		}
		errs = append(errs, validateEndpointAddresses(ss.Addresses, sp.Child("addresses"))...)
		errs = append(errs, validateEndpointAddresses(ss.NotReadyAddresses, sp.Child("notReadyAddresses"))...)
		names := sets.New[string]()
		for j, p := range ss.Ports {
			pp := sp.Child("ports").Index(j)
			switch {
			case p.Name == "" && len(ss.Ports) > 1:
				errs = append(errs, field.Required(pp.Child("name"), ""))
			case p.Name != "":
				errs = append(errs, msgs(pp.Child("name"), p.Name, validation.IsDNS1123Label(p.Name))...)
				if names.Has(p.Name) {
					errs = append(errs, field.Duplicate(pp.Child("name"), p.Name))
				}
				names.Insert(p.Name)
			}
			errs = append(errs, msgs(pp.Child("port"), p.Port, validation.IsValidPortNum(int(p.Port)))...)
			errs = append(errs, validateProtocol(pp.Child("protocol"), p.Protocol)...)
		}
	}
	return errs
}

// validateEndpointAddresses checks IPs, hostnames and node names.
func validateEndpointAddresses(addrs []corev1.EndpointAddress, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	for i, a := range addrs {
		ap := p.Index(i)
		if a.IP == "" {
			errs = append(errs, field.Required(ap.Child("ip"), ""))
		} else {
			errs = append(errs, validation.IsValidIP(ap.Child("ip"), a.IP)...)
		}
		if a.Hostname != "" {
			errs = append(errs, msgs(ap.Child("hostname"), a.Hostname, validation.IsDNS1123Label(a.Hostname))...)
		}
		if a.NodeName != nil {
			errs = append(errs, dnsSubdomainIfSet(ap.Child("nodeName"), *a.NodeName)...)
		}
	}
	return errs
}

// endpointsString renders "10.0.0.1:80,10.0.0.2:80 + 2 more...", or
// "<none>" when there are no subsets.
func endpointsString(subsets []corev1.EndpointSubset) string {
	if len(subsets) == 0 {
		return none
	}
	var list []string
	for _, ss := range subsets {
		if len(ss.Ports) == 0 {
			for _, a := range ss.Addresses {
				list = append(list, a.IP)
			}
			continue
		}
		for _, p := range ss.Ports {
			for _, a := range ss.Addresses {
				list = append(list, net.JoinHostPort(a.IP, strconv.Itoa(int(p.Port))))
			}
		}
	}
	if len(list) == 0 {
		return none
	}
	return joinMax(list, ",", maxTableEndpoints)
}

func eventResource() *Resource {
	return &Resource{
		GroupVersion: coreV1, Resource: "events", Singular: "event", Kind: "Event", Namespaced: true,
		ShortNames: []string{"ev"}, Expiring: true,
		New:     func() runtime.Object { return &corev1.Event{} },
		NewList: func() runtime.Object { return &corev1.EventList{} },
		Strategy: Strategy{
			Validate: func(obj runtime.Object) field.ErrorList {
				ev := obj.(*corev1.Event)
				errs := validateMeta(&ev.ObjectMeta, true, apivalidation.NameIsDNSSubdomain)
				return append(errs, validateEvent(ev)...)
			},
			ValidateUpdate: func(obj, old runtime.Object) field.ErrorList {
				ev := obj.(*corev1.Event)
				errs := validateMetaUpdate(&ev.ObjectMeta, &old.(*corev1.Event).ObjectMeta)
				return append(errs, validateEvent(ev)...)
			},
			FieldSet: eventFields,
			Table:    eventTable(),
		},
	}
}

// validateEvent checks that the involved object is in the event's namespace
// and that counts are not negative.
func validateEvent(ev *corev1.Event) field.ErrorList {
	var errs field.ErrorList
	io := ev.InvolvedObject
	if io.Namespace != "" && io.Namespace != ev.Namespace {
		errs = append(errs, field.Invalid(field.NewPath("involvedObject", "namespace"), io.Namespace, "does not match event.namespace"))
	}
	errs = append(errs, nonNegative(int64(ev.Count), field.NewPath("count"))...)
	if ev.Series != nil {
		errs = append(errs, nonNegative(int64(ev.Series.Count), field.NewPath("series", "count"))...)
	}
	return errs
}

// eventFields returns the event field-selector fields.
func eventFields(obj runtime.Object) fields.Set {
	ev := obj.(*corev1.Event)
	io := ev.InvolvedObject
	return fields.Set{
		"involvedObject.kind":            io.Kind,
		"involvedObject.namespace":       io.Namespace,
		"involvedObject.name":            io.Name,
		"involvedObject.uid":             string(io.UID),
		"involvedObject.apiVersion":      io.APIVersion,
		"involvedObject.resourceVersion": io.ResourceVersion,
		"involvedObject.fieldPath":       io.FieldPath,
		"reason":                         ev.Reason,
		"reportingComponent":             ev.ReportingController,
		"source":                         ev.Source.Component,
		"type":                           ev.Type,
	}
}

func eventTable() *TableConvertor {
	return &TableConvertor{
		Columns: []metav1.TableColumnDefinition{
			{Name: "Name", Type: "string", Format: "name", Priority: 1, Description: "Name of the event."},
			column("Last Seen", "string", "Time when last event occurrence observed.", 0),
			column("Type", "string", "Type of this event (Normal, Warning), new types could be added in the future.", 0),
			column("Reason", "string", "This should be a short, machine understandable string that gives the reason for the transition into the object's current status.", 0),
			column("Object", "string", "The object that this event is about.", 0),
			column("Subobject", "string", "The field of the object that this event is about.", 1),
			column("Source", "string", "The component reporting this event.", 1),
			column("Message", "string", "A human-readable description of the status of this operation.", 0),
			column("First Seen", "string", "The time at which the event was first recorded.", 1),
			column("Count", "integer", "The number of times this event has occurred.", 1),
		},
		Row: func(obj runtime.Object) []interface{} {
			ev := obj.(*corev1.Event)
			first := since(ev.FirstTimestamp)
			if ev.FirstTimestamp.IsZero() {
				first = sinceMicro(ev.EventTime)
			}
			last := first
			if !ev.LastTimestamp.IsZero() {
				last = since(ev.LastTimestamp)
			}
			count := ev.Count
			if ev.Series != nil {
				last = sinceMicro(ev.Series.LastObservedTime)
				count = ev.Series.Count
			} else if count == 0 {
				count = 1
			}
			object := strings.ToLower(ev.InvolvedObject.Kind)
			if ev.InvolvedObject.Name != "" {
				object += "/" + ev.InvolvedObject.Name
			}
			return []interface{}{
				ev.Name, last, ev.Type, ev.Reason, object, ev.InvolvedObject.FieldPath,
				eventSource(ev), strings.TrimSpace(ev.Message), first, int64(count),
			}
		},
	}
}

// eventSource renders "component, host" (or the reporting controller and
// instance for events from the events.k8s.io API).
func eventSource(ev *corev1.Event) string {
	component, host := ev.Source.Component, ev.Source.Host
	if component == "" {
		component, host = ev.ReportingController, ev.ReportingInstance
	}
	if host == "" {
		return component
	}
	return component + ", " + host
}
