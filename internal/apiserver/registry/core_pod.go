package registry

import (
	"fmt"
	"reflect"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// DefaultTolerationSeconds is how long pods tolerate the not-ready and
// unreachable taints unless they say otherwise or Options change it (as
// kube-apiserver's --default-not-ready-toleration-seconds and
// --default-unreachable-toleration-seconds).
const DefaultTolerationSeconds int64 = 300

func podResource(opts Options) *Resource {
	return &Resource{
		GroupVersion: coreV1, Resource: "pods", Singular: "pod", Kind: "Pod", Namespaced: true,
		ShortNames: []string{"po"}, Categories: []string{"all"}, Subresources: []string{"status", "binding", "log", "exec"},
		New:     func() runtime.Object { return &corev1.Pod{} },
		NewList: func() runtime.Object { return &corev1.PodList{} },
		Strategy: Strategy{
			Default: func(obj runtime.Object) { defaultPod(obj.(*corev1.Pod), opts) },
			PrepareForCreate: func(obj runtime.Object) {
				pod := obj.(*corev1.Pod)
				pod.Status = corev1.PodStatus{Phase: corev1.PodPending, QOSClass: podQOS(&pod.Spec)}
			},
			PrepareForUpdate: func(obj, old runtime.Object) {
				obj.(*corev1.Pod).Status = *old.(*corev1.Pod).Status.DeepCopy()
			},
			PrepareForStatusUpdate: func(obj, old runtime.Object) {
				obj.(*corev1.Pod).Spec = *old.(*corev1.Pod).Spec.DeepCopy()
			},
			Validate: func(obj runtime.Object) field.ErrorList {
				pod := obj.(*corev1.Pod)
				errs := validateMeta(&pod.ObjectMeta, true, apivalidation.NameIsDNSSubdomain)
				return append(errs, validatePodSpec(&pod.Spec, specPath)...)
			},
			ValidateUpdate: func(obj, old runtime.Object) field.ErrorList {
				return validatePodUpdate(obj.(*corev1.Pod), old.(*corev1.Pod))
			},
			SpecEqual: func(a, b runtime.Object) bool {
				return semanticEqual(a.(*corev1.Pod).Spec, b.(*corev1.Pod).Spec)
			},
			FieldSet: podFields,
			Table:    podTable(),
		},
	}
}

// defaultPod applies the pod spec defaults, the pod-only defaults and the
// not-ready/unreachable tolerations Kubernetes adds to every pod.
func defaultPod(pod *corev1.Pod, opts Options) {
	defaultPodSpec(&pod.Spec, true)
	defaultPodOnly(&pod.Spec)
	addDefaultTolerations(&pod.Spec, opts)
}

// addDefaultTolerations adds NoExecute tolerations for the
// node.kubernetes.io/not-ready and unreachable taints unless present, for
// opts' seconds (300 s by default).
func addDefaultTolerations(spec *corev1.PodSpec, opts Options) {
	for _, d := range []struct {
		key     string
		seconds int64
	}{{corev1.TaintNodeNotReady, opts.NotReadyTolerationSeconds}, {corev1.TaintNodeUnreachable, opts.UnreachableTolerationSeconds}} {
		found := false
		for _, t := range spec.Tolerations {
			if (t.Key == d.key || t.Key == "" && t.Operator == corev1.TolerationOpExists) &&
				(t.Effect == corev1.TaintEffectNoExecute || t.Effect == "") {
				found = true
				break
			}
		}
		if !found {
			spec.Tolerations = append(spec.Tolerations, corev1.Toleration{
				Key: d.key, Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoExecute,
				TolerationSeconds: ptrTo(d.seconds),
			})
		}
	}
}

// podQOS computes the QoS class from the cpu and memory requests and limits
// (a missing request counts as equal to its limit).
func podQOS(spec *corev1.PodSpec) corev1.PodQOSClass {
	var all []corev1.ResourceRequirements
	if r := spec.Resources; r != nil && (len(r.Requests) > 0 || len(r.Limits) > 0) {
		all = []corev1.ResourceRequirements{*r}
	} else {
		for _, c := range spec.InitContainers {
			all = append(all, c.Resources)
		}
		for _, c := range spec.Containers {
			all = append(all, c.Resources)
		}
	}
	anySet, guaranteed := false, len(all) > 0
	for _, r := range all {
		for _, name := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
			req, hasReq := r.Requests[name]
			hasReq = hasReq && !req.IsZero()
			lim, hasLim := r.Limits[name]
			hasLim = hasLim && !lim.IsZero()
			if hasReq || hasLim {
				anySet = true
			}
			if !hasLim || hasReq && req.Cmp(lim) != 0 {
				guaranteed = false
			}
		}
	}
	switch {
	case !anySet:
		return corev1.PodQOSBestEffort
	case guaranteed:
		return corev1.PodQOSGuaranteed
	}
	return corev1.PodQOSBurstable
}

// podUpdateForbidden is the message for pod spec changes that are not allowed.
const podUpdateForbidden = "pod updates may not change fields other than `spec.containers[*].image`,`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` (only additions to existing tolerations),`spec.schedulingGates` (only removals)"

// validatePodUpdate validates the new pod and enforces that only images,
// activeDeadlineSeconds, added tolerations and removed scheduling gates
// change in its spec.
func validatePodUpdate(pod, old *corev1.Pod) field.ErrorList {
	errs := validateMetaUpdate(&pod.ObjectMeta, &old.ObjectMeta)
	errs = append(errs, validatePodSpec(&pod.Spec, specPath)...)
	errs = append(errs, validatePodStatus(&pod.Status)...)

	ns, os := &pod.Spec, &old.Spec
	if os.ActiveDeadlineSeconds != nil {
		p := specPath.Child("activeDeadlineSeconds")
		if ns.ActiveDeadlineSeconds == nil {
			errs = append(errs, field.Invalid(p, ns.ActiveDeadlineSeconds, "must not update from a positive integer to nil value"))
		} else if *ns.ActiveDeadlineSeconds > *os.ActiveDeadlineSeconds {
			errs = append(errs, field.Invalid(p, *ns.ActiveDeadlineSeconds, "must be less than or equal to previous value"))
		}
	}

	// Take the allowed changes into a copy of the old spec; anything else
	// that differs is forbidden.
	m := os.DeepCopy()
	for i := range m.Containers {
		if i < len(ns.Containers) {
			m.Containers[i].Image = ns.Containers[i].Image
		}
	}
	for i := range m.InitContainers {
		if i < len(ns.InitContainers) {
			m.InitContainers[i].Image = ns.InitContainers[i].Image
		}
	}
	m.ActiveDeadlineSeconds = ns.ActiveDeadlineSeconds
	if containsAll(ns.Tolerations, os.Tolerations) {
		m.Tolerations = ns.Tolerations
	}
	if containsAll(os.SchedulingGates, ns.SchedulingGates) {
		m.SchedulingGates = ns.SchedulingGates
	}
	if !semanticEqual(*m, *ns) {
		msg := podUpdateForbidden
		if changed := diffFields(reflect.ValueOf(*m), reflect.ValueOf(*ns), "spec", 3); len(changed) > 0 {
			msg += "; changed: " + strings.Join(changed, ", ")
		}
		errs = append(errs, field.Forbidden(specPath, msg))
	}
	return errs
}

// containsAll reports whether every element of sub is (semantically) in set.
func containsAll[T any](set, sub []T) bool {
	for _, s := range sub {
		found := false
		for _, x := range set {
			if semanticEqual(s, x) {
				found = true
				break
			}
		}
		if !found {
			return false
		}
	}
	return true
}

// diffFields lists the JSON paths (down to depth levels) where a and b differ.
func diffFields(a, b reflect.Value, p string, depth int) []string {
	if !a.CanInterface() || !b.CanInterface() {
		return []string{p}
	}
	if semanticEqual(a.Interface(), b.Interface()) {
		return nil
	}
	if depth == 0 {
		return []string{p}
	}
	switch a.Kind() {
	case reflect.Struct:
		var out []string
		for i := 0; i < a.NumField(); i++ {
			name := strings.Split(a.Type().Field(i).Tag.Get("json"), ",")[0]
			if name == "" || name == "-" {
				name = a.Type().Field(i).Name
			}
			out = append(out, diffFields(a.Field(i), b.Field(i), p+"."+name, depth-1)...)
		}
		return out
	case reflect.Slice:
		if a.Len() != b.Len() {
			return []string{p}
		}
		var out []string
		for i := 0; i < a.Len(); i++ {
			out = append(out, diffFields(a.Index(i), b.Index(i), fmt.Sprintf("%s[%d]", p, i), depth-1)...)
		}
		return out
	}
	return []string{p}
}

// validatePodStatus does light checks of a pod status written by a client.
func validatePodStatus(s *corev1.PodStatus) field.ErrorList {
	errs := validateEnum(statusPath.Child("phase"), s.Phase, false, corev1.PodPending, corev1.PodRunning,
		corev1.PodSucceeded, corev1.PodFailed, corev1.PodUnknown)
	if s.PodIP != "" {
		errs = append(errs, validation.IsValidIP(statusPath.Child("podIP"), s.PodIP)...)
	}
	for i, ip := range s.PodIPs {
		errs = append(errs, validation.IsValidIP(statusPath.Child("podIPs").Index(i).Child("ip"), ip.IP)...)
	}
	if s.HostIP != "" {
		errs = append(errs, validation.IsValidIP(statusPath.Child("hostIP"), s.HostIP)...)
	}
	return errs
}

// podFields returns the pod field-selector fields.
func podFields(obj runtime.Object) fields.Set {
	pod := obj.(*corev1.Pod)
	podIP := pod.Status.PodIP
	if len(pod.Status.PodIPs) > 0 {
		podIP = pod.Status.PodIPs[0].IP
	}
	return fields.Set{
		"spec.nodeName":            pod.Spec.NodeName,
		"spec.restartPolicy":       string(pod.Spec.RestartPolicy),
		"spec.schedulerName":       pod.Spec.SchedulerName,
		"spec.serviceAccountName":  pod.Spec.ServiceAccountName,
		"spec.hostNetwork":         strconv.FormatBool(pod.Spec.HostNetwork),
		"status.phase":             string(pod.Status.Phase),
		"status.podIP":             podIP,
		"status.nominatedNodeName": pod.Status.NominatedNodeName,
	}
}
