package registry

import (
	"sort"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	metav1validation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// NamespaceFinalizer is the finalizer every new namespace gets; the
// namespace controller removes it once the namespace's content is deleted.
const NamespaceFinalizer corev1.FinalizerName = corev1.FinalizerKubernetes

func namespaceResource() *Resource {
	return &Resource{
		GroupVersion: coreV1, Resource: "namespaces", Singular: "namespace", Kind: "Namespace",
		ShortNames: []string{"ns"}, Subresources: []string{"status"},
		New:     func() runtime.Object { return &corev1.Namespace{} },
		NewList: func() runtime.Object { return &corev1.NamespaceList{} },
		Strategy: Strategy{
			Default: func(obj runtime.Object) {
				// Kubernetes labels every namespace with its own name.
				ns := obj.(*corev1.Namespace)
				if ns.Name == "" {
					return
				}
				if ns.Labels == nil {
					ns.Labels = map[string]string{}
				}
				ns.Labels[corev1.LabelMetadataName] = ns.Name
			},
			PrepareForCreate: func(obj runtime.Object) {
				ns := obj.(*corev1.Namespace)
				ns.Status = corev1.NamespaceStatus{Phase: corev1.NamespaceActive}
				for _, f := range ns.Spec.Finalizers {
					if f == NamespaceFinalizer {
						return
					}
				}
				ns.Spec.Finalizers = append(ns.Spec.Finalizers, NamespaceFinalizer)
			},
			PrepareForUpdate: func(obj, old runtime.Object) {
				obj.(*corev1.Namespace).Status = *old.(*corev1.Namespace).Status.DeepCopy()
			},
			PrepareForStatusUpdate: func(obj, old runtime.Object) {
				obj.(*corev1.Namespace).Spec = *old.(*corev1.Namespace).Spec.DeepCopy()
			},
			Validate: func(obj runtime.Object) field.ErrorList {
				ns := obj.(*corev1.Namespace)
				errs := validateMeta(&ns.ObjectMeta, false, apivalidation.NameIsDNSLabel)
				return append(errs, validateNamespaceBody(ns)...)
			},
			ValidateUpdate: func(obj, old runtime.Object) field.ErrorList {
				ns := obj.(*corev1.Namespace)
				errs := validateMetaUpdate(&ns.ObjectMeta, &old.(*corev1.Namespace).ObjectMeta)
				return append(errs, validateNamespaceBody(ns)...)
			},
			FieldSet: func(obj runtime.Object) fields.Set {
				return fields.Set{"status.phase": string(obj.(*corev1.Namespace).Status.Phase)}
			},
			Table: &TableConvertor{
				Columns: []metav1.TableColumnDefinition{
					nameColumn(""),
					column("Status", "string", "The status of the namespace", 0),
					ageColumn(),
				},
				Row: func(obj runtime.Object) []interface{} {
					ns := obj.(*corev1.Namespace)
					return []interface{}{ns.Name, string(ns.Status.Phase), since(ns.CreationTimestamp)}
				},
			},
		},
	}
}

// validateNamespaceBody checks finalizer names and the phase.
func validateNamespaceBody(ns *corev1.Namespace) field.ErrorList {
	var errs field.ErrorList
	for i, f := range ns.Spec.Finalizers {
		errs = append(errs, apivalidation.ValidateFinalizerName(string(f), specPath.Child("finalizers").Index(i))...)
	}
	return append(errs, validateEnum(statusPath.Child("phase"), ns.Status.Phase, false,
		corev1.NamespaceActive, corev1.NamespaceTerminating)...)
}

func nodeResource() *Resource {
	return &Resource{
		GroupVersion: coreV1, Resource: "nodes", Singular: "node", Kind: "Node",
		ShortNames: []string{"no"}, Subresources: []string{"status", "proxy"},
		New:     func() runtime.Object { return &corev1.Node{} },
		NewList: func() runtime.Object { return &corev1.NodeList{} },
		Strategy: Strategy{
			Default: func(obj runtime.Object) {
				n := obj.(*corev1.Node)
				if n.Spec.PodCIDR != "" && len(n.Spec.PodCIDRs) == 0 {
					n.Spec.PodCIDRs = []string{n.Spec.PodCIDR}
				}
				if n.Spec.PodCIDR == "" && len(n.Spec.PodCIDRs) > 0 {
					n.Spec.PodCIDR = n.Spec.PodCIDRs[0]
				}
				if n.Status.Allocatable == nil && n.Status.Capacity != nil {
					n.Status.Allocatable = n.Status.Capacity.DeepCopy()
				}
			},
			// Nodes keep their status on create: the kubelet registers a
			// node together with its capacity, addresses and conditions.
			PrepareForUpdate: func(obj, old runtime.Object) {
				obj.(*corev1.Node).Status = *old.(*corev1.Node).Status.DeepCopy()
			},
			PrepareForStatusUpdate: func(obj, old runtime.Object) {
				obj.(*corev1.Node).Spec = *old.(*corev1.Node).Spec.DeepCopy()
			},
			Validate: func(obj runtime.Object) field.ErrorList {
				n := obj.(*corev1.Node)
				errs := validateMeta(&n.ObjectMeta, false, apivalidation.NameIsDNSSubdomain)
				return append(errs, validateNodeSpec(&n.Spec)...)
			},
			ValidateUpdate: func(obj, old runtime.Object) field.ErrorList {
				n, o := obj.(*corev1.Node), old.(*corev1.Node)
				errs := validateMetaUpdate(&n.ObjectMeta, &o.ObjectMeta)
				errs = append(errs, validateNodeSpec(&n.Spec)...)
				if (len(o.Spec.PodCIDRs) > 0 && !semanticEqual(n.Spec.PodCIDRs, o.Spec.PodCIDRs)) ||
					(o.Spec.PodCIDR != "" && n.Spec.PodCIDR != o.Spec.PodCIDR) {
					errs = append(errs, field.Forbidden(specPath.Child("podCIDRs"), `node updates may not change podCIDR except from "" to valid`))
				}
				if o.Spec.ProviderID != "" && n.Spec.ProviderID != o.Spec.ProviderID {
					errs = append(errs, field.Forbidden(specPath.Child("providerID"), `node updates may not change providerID except from "" to valid`))
				}
				return errs
			},
			FieldSet: func(obj runtime.Object) fields.Set {
				return fields.Set{"spec.unschedulable": strconv.FormatBool(obj.(*corev1.Node).Spec.Unschedulable)}
			},
			Table: nodeTable(),
		},
	}
}

// validateNodeSpec checks pod CIDRs and taints.
func validateNodeSpec(s *corev1.NodeSpec) field.ErrorList {
	var errs field.ErrorList
	if s.PodCIDR != "" {
		errs = append(errs, validation.IsValidCIDR(specPath.Child("podCIDR"), s.PodCIDR)...)
	}
	for i, c := range s.PodCIDRs {
		errs = append(errs, validation.IsValidCIDR(specPath.Child("podCIDRs").Index(i), c)...)
	}
	if len(s.PodCIDRs) > 2 {
		errs = append(errs, field.TooMany(specPath.Child("podCIDRs"), len(s.PodCIDRs), 2))
	}
	if s.PodCIDR != "" && len(s.PodCIDRs) > 0 && s.PodCIDRs[0] != s.PodCIDR {
		errs = append(errs, field.Invalid(specPath.Child("podCIDRs").Index(0), s.PodCIDRs[0], "must match `podCIDR`"))
	}
	return append(errs, validateTaints(s.Taints, specPath.Child("taints"))...)
}

// validateTaints checks taint keys, values and effects, and that no key and
// effect pair repeats.
func validateTaints(taints []corev1.Taint, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	seen := sets.New[string]()
	for i, t := range taints {
		tp := p.Index(i)
		if t.Key == "" {
			errs = append(errs, field.Required(tp.Child("key"), ""))
		} else {
			errs = append(errs, metav1validation.ValidateLabelName(t.Key, tp.Child("key"))...)
		}
		errs = append(errs, msgs(tp.Child("value"), t.Value, validation.IsValidLabelValue(t.Value))...)
		errs = append(errs, validateEnum(tp.Child("effect"), t.Effect, true,
			corev1.TaintEffectNoSchedule, corev1.TaintEffectPreferNoSchedule, corev1.TaintEffectNoExecute)...)
		key := t.Key + ":" + string(t.Effect)
		if seen.Has(key) {
			errs = append(errs, field.Duplicate(tp, key))
		}
		seen.Insert(key)
	}
	return errs
}

func nodeTable() *TableConvertor {
	return &TableConvertor{
		Columns: []metav1.TableColumnDefinition{
			nameColumn(""),
			column("Status", "string", "The status of the node", 0),
			column("Roles", "string", "The roles of the node", 0),
			ageColumn(),
			column("Version", "string", "Kubelet Version reported by the node.", 0),
			column("Internal-IP", "string", "List of addresses reachable to the node. Queried from cloud provider, if available.", 1),
			column("External-IP", "string", "List of addresses reachable to the node. Queried from cloud provider, if available.", 1),
			column("OS-Image", "string", "OS Image reported by the node from /etc/os-release (e.g. Debian GNU/Linux 7 (wheezy)).", 1),
			column("Kernel-Version", "string", "Kernel Version reported by the node from 'uname -r' (e.g. 3.16.0-0.bpo.4-amd64).", 1),
			column("Container-Runtime", "string", "ContainerRuntime Version reported by the node through runtime remote API (e.g. containerd://1.4.2).", 1),
		},
		Row: func(obj runtime.Object) []interface{} {
			n := obj.(*corev1.Node)
			info := n.Status.NodeInfo
			return []interface{}{
				n.Name, nodeStatus(n), nodeRoles(n), since(n.CreationTimestamp), info.KubeletVersion,
				nodeAddress(n, corev1.NodeInternalIP), nodeAddress(n, corev1.NodeExternalIP),
				orUnknown(info.OSImage), orUnknown(info.KernelVersion), orUnknown(info.ContainerRuntimeVersion),
			}
		},
	}
}

// nodeStatus renders Ready/NotReady/Unknown plus ",SchedulingDisabled".
func nodeStatus(n *corev1.Node) string {
	status := "Unknown"
	for _, c := range n.Status.Conditions {
		if c.Type == corev1.NodeReady {
			if c.Status == corev1.ConditionTrue {
				status = "Ready"
			} else {
				status = "NotReady"
			}
			break
		}
	}
	if n.Spec.Unschedulable {
		status += ",SchedulingDisabled"
	}
	return status
}

// Node role labels: node-role.kubernetes.io/<role> and kubernetes.io/role.
const (
	nodeRolePrefix = "node-role.kubernetes.io/"
	nodeRoleLabel  = "kubernetes.io/role"
)

// nodeRoles renders the node's roles from its labels, or "<none>".
func nodeRoles(n *corev1.Node) string {
	roles := sets.New[string]()
	for k, v := range n.Labels {
		switch {
		case strings.HasPrefix(k, nodeRolePrefix):
			if role := strings.TrimPrefix(k, nodeRolePrefix); role != "" {
				roles.Insert(role)
			}
		case k == nodeRoleLabel && v != "":
			roles.Insert(v)
		}
	}
	if roles.Len() == 0 {
		return none
	}
	list := roles.UnsortedList()
	sort.Strings(list)
	return strings.Join(list, ",")
}

// nodeAddress returns the node's first address of type t, or "<none>".
func nodeAddress(n *corev1.Node, t corev1.NodeAddressType) string {
	for _, a := range n.Status.Addresses {
		if a.Type == t {
			return a.Address
		}
	}
	return none
}

// orUnknown returns s, or "<unknown>" when s is empty.
func orUnknown(s string) string {
	if s == "" {
		return unknown
	}
	return s
}
