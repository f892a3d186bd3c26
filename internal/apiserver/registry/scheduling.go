package registry

import (
	"strings"

	corev1 "k8s.io/api/core/v1"
	schedulingv1 "k8s.io/api/scheduling/v1"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// The built-in system priority classes and the highest priority a user
// defined class may have.
const (
	systemClusterCritical            = "system-cluster-critical"
	systemClusterCriticalValue int32 = 2000001000
	systemNodeCritical               = "system-node-critical"
	systemNodeCriticalValue    int32 = 2000000000
	// HighestUserDefinablePriority is the largest value of a priority class
	// whose name does not start with "system-".
	HighestUserDefinablePriority int32 = 1000000000
)

func priorityClassResource() *Resource {
	return &Resource{
		GroupVersion: schedulingV1, Resource: "priorityclasses", Singular: "priorityclass", Kind: "PriorityClass",
		ShortNames: []string{"pc"},
		New:        func() runtime.Object { return &schedulingv1.PriorityClass{} },
		NewList:    func() runtime.Object { return &schedulingv1.PriorityClassList{} },
		Strategy: Strategy{
			Default: func(obj runtime.Object) {
				setIfNil(&obj.(*schedulingv1.PriorityClass).PreemptionPolicy, corev1.PreemptLowerPriority)
			},
			Validate: func(obj runtime.Object) field.ErrorList {
				pc := obj.(*schedulingv1.PriorityClass)
				errs := validateMeta(&pc.ObjectMeta, false, apivalidation.NameIsDNSSubdomain)
				return append(errs, validatePriorityClass(pc)...)
			},
			ValidateUpdate: func(obj, old runtime.Object) field.ErrorList {
				pc, o := obj.(*schedulingv1.PriorityClass), old.(*schedulingv1.PriorityClass)
				errs := validateMetaUpdate(&pc.ObjectMeta, &o.ObjectMeta)
				errs = append(errs, validatePriorityClass(pc)...)
				if pc.Value != o.Value {
					errs = append(errs, field.Forbidden(field.NewPath("value"), "may not be changed in an update."))
				}
				return append(errs, immutable(pc.PreemptionPolicy, o.PreemptionPolicy, field.NewPath("preemptionPolicy"))...)
			},
			Table: &TableConvertor{
				Columns: []metav1.TableColumnDefinition{
					nameColumn(""),
					column("Value", "integer", "value represents the integer value of this priority class.", 0),
					column("Global-Default", "boolean", "globalDefault specifies whether this PriorityClass should be considered as the default priority.", 0),
					ageColumn(),
					column("Preemption-Policy", "string", "preemptionPolicy is the Policy for preempting pods with lower priority.", 0),
				},
				Row: func(obj runtime.Object) []interface{} {
					pc := obj.(*schedulingv1.PriorityClass)
					policy := ""
					if pc.PreemptionPolicy != nil {
						policy = string(*pc.PreemptionPolicy)
					}
					return []interface{}{pc.Name, int64(pc.Value), pc.GlobalDefault, since(pc.CreationTimestamp), policy}
				},
			},
		},
	}
}

// validatePriorityClass reserves the "system-" prefix for the built-in
// classes and caps user-defined values.
func validatePriorityClass(pc *schedulingv1.PriorityClass) field.ErrorList {
	var errs field.ErrorList
	if strings.HasPrefix(pc.Name, "system-") {
		want, known := map[string]int32{systemClusterCritical: systemClusterCriticalValue, systemNodeCritical: systemNodeCriticalValue}[pc.Name]
		switch {
		case !known:
			errs = append(errs, field.Forbidden(metaPath.Child("name"), "priority class names with 'system-' prefix are reserved."))
		case pc.Value != want:
			errs = append(errs, field.Forbidden(field.NewPath("value"), "value of system priority class "+pc.Name+" is fixed"))
		}
	} else if pc.Value > HighestUserDefinablePriority {
		errs = append(errs, field.Forbidden(field.NewPath("value"), "maximum allowed value of a user defined priority is 1000000000"))
	}
	if p := pc.PreemptionPolicy; p != nil {
		errs = append(errs, validateEnum(field.NewPath("preemptionPolicy"), *p, true, corev1.PreemptLowerPriority, corev1.PreemptNever)...)
	}
	return errs
}
