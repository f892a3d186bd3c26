package registry

import (
	"fmt"
	"strconv"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	metav1validation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// Deployment defaults.
var (
	defaultMaxSurge       = intstr.FromString("25%")
	defaultMaxUnavailable = intstr.FromString("25%")
)

func deploymentResource() *Resource {
	return &Resource{
		GroupVersion: appsV1, Resource: "deployments", Singular: "deployment", Kind: "Deployment", Namespaced: true,
		ShortNames: []string{"deploy"}, Categories: []string{"all"}, Subresources: []string{"status", "scale"},
		New:             func() runtime.Object { return &appsv1.Deployment{} },
		NewList:         func() runtime.Object { return &appsv1.DeploymentList{} },
		TrackGeneration: true,
		Strategy: Strategy{
			Default:          func(obj runtime.Object) { defaultDeployment(obj.(*appsv1.Deployment)) },
			PrepareForCreate: func(obj runtime.Object) { obj.(*appsv1.Deployment).Status = appsv1.DeploymentStatus{} },
			PrepareForUpdate: func(obj, old runtime.Object) {
				obj.(*appsv1.Deployment).Status = *old.(*appsv1.Deployment).Status.DeepCopy()
			},
			PrepareForStatusUpdate: func(obj, old runtime.Object) {
				obj.(*appsv1.Deployment).Spec = *old.(*appsv1.Deployment).Spec.DeepCopy()
			},
			Validate: func(obj runtime.Object) field.ErrorList {
				d := obj.(*appsv1.Deployment)
				errs := validateMeta(&d.ObjectMeta, true, apivalidation.NameIsDNSSubdomain)
				return append(errs, validateDeploymentSpec(&d.Spec)...)
			},
			ValidateUpdate: func(obj, old runtime.Object) field.ErrorList {
				d, o := obj.(*appsv1.Deployment), old.(*appsv1.Deployment)
				errs := validateMetaUpdate(&d.ObjectMeta, &o.ObjectMeta)
				errs = append(errs, validateDeploymentSpec(&d.Spec)...)
				st := &d.Status
				errs = append(errs, validateReplicaCounts(st.Replicas, st.ReadyReplicas, st.AvailableReplicas)...)
				return append(errs, immutable(d.Spec.Selector, o.Spec.Selector, specPath.Child("selector"))...)
			},
			SpecEqual: func(a, b runtime.Object) bool {
				return semanticEqual(a.(*appsv1.Deployment).Spec, b.(*appsv1.Deployment).Spec)
			},
			Table: deploymentTable(),
		},
	}
}

// defaultDeployment sets replicas 1, a 25%/25% RollingUpdate strategy,
// revisionHistoryLimit 10, progressDeadlineSeconds 600 and the pod defaults.
func defaultDeployment(d *appsv1.Deployment) {
	s := &d.Spec
	setIfNil(&s.Replicas, 1)
	if s.Strategy.Type == "" {
		s.Strategy.Type = appsv1.RollingUpdateDeploymentStrategyType
	}
	if s.Strategy.Type == appsv1.RollingUpdateDeploymentStrategyType {
		if s.Strategy.RollingUpdate == nil {
			s.Strategy.RollingUpdate = &appsv1.RollingUpdateDeployment{}
		}
		setIfNil(&s.Strategy.RollingUpdate.MaxUnavailable, defaultMaxUnavailable)
		setIfNil(&s.Strategy.RollingUpdate.MaxSurge, defaultMaxSurge)
	}
	setIfNil(&s.RevisionHistoryLimit, 10)
	setIfNil(&s.ProgressDeadlineSeconds, 600)
	defaultPodTemplate(&s.Template, true)
}

// validateDeploymentSpec validates a deployment spec.
func validateDeploymentSpec(s *appsv1.DeploymentSpec) field.ErrorList {
	errs := validateReplicaFields(s.Replicas, s.MinReadySeconds)
	errs = append(errs, validateWorkloadSelector(s.Selector, &s.Template, "deployment")...)
	errs = append(errs, validateReplicatedTemplate(&s.Template)...)
	if v := s.RevisionHistoryLimit; v != nil {
		errs = append(errs, nonNegative(int64(*v), specPath.Child("revisionHistoryLimit"))...)
	}
	if v := s.ProgressDeadlineSeconds; v != nil {
		p := specPath.Child("progressDeadlineSeconds")
		errs = append(errs, positive(int64(*v), p)...)
		if *v > 0 && *v <= s.MinReadySeconds {
			errs = append(errs, field.Invalid(p, *v, "must be greater than minReadySeconds"))
		}
	}
	sp := specPath.Child("strategy")
	switch s.Strategy.Type {
	case appsv1.RecreateDeploymentStrategyType:
		if s.Strategy.RollingUpdate != nil {
			errs = append(errs, field.Forbidden(sp.Child("rollingUpdate"), "may not be specified when strategy `type` is 'Recreate'"))
		}
	case appsv1.RollingUpdateDeploymentStrategyType:
		if ru := s.Strategy.RollingUpdate; ru != nil {
			errs = append(errs, validateRollingUpdate(ru.MaxUnavailable, ru.MaxSurge, sp.Child("rollingUpdate"))...)
		}
	default:
		errs = append(errs, validateEnum(sp.Child("type"), s.Strategy.Type, true,
			appsv1.RecreateDeploymentStrategyType, appsv1.RollingUpdateDeploymentStrategyType)...)
	}
	return errs
}

// validateRollingUpdate checks maxUnavailable and maxSurge: non-negative
// integers or percentages, maxUnavailable at most 100%, not both 0.
func validateRollingUpdate(maxUnavailable, maxSurge *intstr.IntOrString, p *field.Path) field.ErrorList {
	up, sp := p.Child("maxUnavailable"), p.Child("maxSurge")
	errs := validateIntOrPercent(maxUnavailable, up)
	errs = append(errs, validateIntOrPercent(maxSurge, sp)...)
	if u, ok := percentValue(maxUnavailable); ok && u > 100 {
		errs = append(errs, field.Invalid(up, maxUnavailable.String(), "must not be greater than 100%"))
	}
	if isZero(maxUnavailable) && isZero(maxSurge) {
		errs = append(errs, field.Invalid(up, maxUnavailable.String(), "may not be 0 when `maxSurge` is 0"))
	}
	return errs
}

// validateIntOrPercent accepts a non-negative integer or "N%".
func validateIntOrPercent(v *intstr.IntOrString, p *field.Path) field.ErrorList {
	if v == nil {
		return nil
	}
	if v.Type == intstr.String {
		if m := validation.IsValidPercent(v.StrVal); len(m) > 0 {
			return msgs(p, v.StrVal, m)
		}
		return nil
	}
	return nonNegative(int64(v.IntVal), p)
}

// percentValue returns N for "N%".
func percentValue(v *intstr.IntOrString) (int, bool) {
	if v == nil || v.Type != intstr.String || len(validation.IsValidPercent(v.StrVal)) > 0 {
		return 0, false
	}
	n, err := strconv.Atoi(v.StrVal[:len(v.StrVal)-1])
	return n, err == nil
}

// isZero reports whether v is nil, 0 or "0%".
func isZero(v *intstr.IntOrString) bool {
	if v == nil {
		return true
	}
	if n, ok := percentValue(v); ok {
		return n == 0
	}
	return v.Type == intstr.Int && v.IntVal == 0
}

// validateReplicaFields checks spec.replicas and spec.minReadySeconds.
func validateReplicaFields(replicas *int32, minReadySeconds int32) field.ErrorList {
	var errs field.ErrorList
	if replicas != nil {
		errs = append(errs, nonNegative(int64(*replicas), specPath.Child("replicas"))...)
	}
	return append(errs, nonNegative(int64(minReadySeconds), specPath.Child("minReadySeconds"))...)
}

// validateReplicaCounts checks that status replica counts are not negative.
func validateReplicaCounts(replicas, ready, available int32) field.ErrorList {
	errs := nonNegative(int64(replicas), statusPath.Child("replicas"))
	errs = append(errs, nonNegative(int64(ready), statusPath.Child("readyReplicas"))...)
	return append(errs, nonNegative(int64(available), statusPath.Child("availableReplicas"))...)
}

// validateReplicatedTemplate validates the template of a Deployment or
// ReplicaSet: restartPolicy Always and no activeDeadlineSeconds.
func validateReplicatedTemplate(t *corev1.PodTemplateSpec) field.ErrorList {
	tp := specPath.Child("template")
	errs := validatePodTemplate(t, tp, corev1.RestartPolicyAlways)
	if t.Spec.ActiveDeadlineSeconds != nil {
		errs = append(errs, field.Forbidden(tp.Child("spec", "activeDeadlineSeconds"), "activeDeadlineSeconds in ReplicaSet is not Supported"))
	}
	return errs
}

// validateWorkloadSelector requires a valid, non-empty selector that
// matches the template labels.
func validateWorkloadSelector(sel *metav1.LabelSelector, t *corev1.PodTemplateSpec, kind string) field.ErrorList {
	sp := specPath.Child("selector")
	if sel == nil {
		return field.ErrorList{field.Required(sp, "")}
	}
	errs := metav1validation.ValidateLabelSelector(sel, metav1validation.LabelSelectorValidationOptions{}, sp)
	if len(sel.MatchLabels)+len(sel.MatchExpressions) == 0 {
		errs = append(errs, field.Invalid(sp, sel, "empty selector is invalid for "+kind))
	}
	selector, err := metav1.LabelSelectorAsSelector(sel)
	if err == nil && !selector.Empty() && !selector.Matches(labels.Set(t.Labels)) {
		errs = append(errs, field.Invalid(specPath.Child("template", "metadata", "labels"), t.Labels, "`selector` does not match template `labels`"))
	}
	return errs
}

func deploymentTable() *TableConvertor {
	cols := []metav1.TableColumnDefinition{
		nameColumn(""),
		column("Ready", "string", "Number of the pod with ready state", 0),
		column("Up-to-date", "integer", "Total number of non-terminated pods targeted by this deployment that have the desired template spec.", 0),
		column("Available", "integer", "Total number of available pods (ready for at least minReadySeconds) targeted by this deployment.", 0),
		ageColumn(),
	}
	return &TableConvertor{
		Columns: append(cols, workloadWideColumns()...),
		Row: func(obj runtime.Object) []interface{} {
			d := obj.(*appsv1.Deployment)
			row := []interface{}{
				d.Name,
				fmt.Sprintf("%d/%d", d.Status.ReadyReplicas, deref(d.Spec.Replicas)),
				int64(d.Status.UpdatedReplicas),
				int64(d.Status.AvailableReplicas),
				since(d.CreationTimestamp),
			}
			return append(row, workloadWideCells(&d.Spec.Template.Spec, d.Spec.Selector)...)
		},
	}
}

// deref returns *p, or 0 when p is nil.
func deref(p *int32) int32 {
	if p == nil {
		return 0
	}
	return *p
}

func replicaSetResource() *Resource {
	return &Resource{
		GroupVersion: appsV1, Resource: "replicasets", Singular: "replicaset", Kind: "ReplicaSet", Namespaced: true,
		ShortNames: []string{"rs"}, Categories: []string{"all"}, Subresources: []string{"status", "scale"},
		New:             func() runtime.Object { return &appsv1.ReplicaSet{} },
		NewList:         func() runtime.Object { return &appsv1.ReplicaSetList{} },
		TrackGeneration: true,
		Strategy: Strategy{
			Default: func(obj runtime.Object) {
				rs := obj.(*appsv1.ReplicaSet)
				setIfNil(&rs.Spec.Replicas, 1)
				defaultPodTemplate(&rs.Spec.Template, true)
			},
			PrepareForCreate: func(obj runtime.Object) { obj.(*appsv1.ReplicaSet).Status = appsv1.ReplicaSetStatus{} },
			PrepareForUpdate: func(obj, old runtime.Object) {
				obj.(*appsv1.ReplicaSet).Status = *old.(*appsv1.ReplicaSet).Status.DeepCopy()
			},
			PrepareForStatusUpdate: func(obj, old runtime.Object) {
				obj.(*appsv1.ReplicaSet).Spec = *old.(*appsv1.ReplicaSet).Spec.DeepCopy()
			},
			Validate: func(obj runtime.Object) field.ErrorList {
				rs := obj.(*appsv1.ReplicaSet)
				errs := validateMeta(&rs.ObjectMeta, true, apivalidation.NameIsDNSSubdomain)
				return append(errs, validateReplicaSetSpec(&rs.Spec)...)
			},
			ValidateUpdate: func(obj, old runtime.Object) field.ErrorList {
				rs, o := obj.(*appsv1.ReplicaSet), old.(*appsv1.ReplicaSet)
				errs := validateMetaUpdate(&rs.ObjectMeta, &o.ObjectMeta)
				errs = append(errs, validateReplicaSetSpec(&rs.Spec)...)
				st := &rs.Status
				errs = append(errs, validateReplicaCounts(st.Replicas, st.ReadyReplicas, st.AvailableReplicas)...)
				return append(errs, immutable(rs.Spec.Selector, o.Spec.Selector, specPath.Child("selector"))...)
			},
			SpecEqual: func(a, b runtime.Object) bool {
				return semanticEqual(a.(*appsv1.ReplicaSet).Spec, b.(*appsv1.ReplicaSet).Spec)
			},
			FieldSet: func(obj runtime.Object) fields.Set {
				return fields.Set{"status.replicas": strconv.Itoa(int(obj.(*appsv1.ReplicaSet).Status.Replicas))}
			},
			Table: replicaSetTable(),
		},
	}
}

// validateReplicaSetSpec validates a ReplicaSet spec.
func validateReplicaSetSpec(s *appsv1.ReplicaSetSpec) field.ErrorList {
	errs := validateReplicaFields(s.Replicas, s.MinReadySeconds)
	errs = append(errs, validateWorkloadSelector(s.Selector, &s.Template, "replicaset")...)
	return append(errs, validateReplicatedTemplate(&s.Template)...)
}

func replicaSetTable() *TableConvertor {
	cols := []metav1.TableColumnDefinition{
		nameColumn(""),
		column("Desired", "integer", "Replicas is the number of desired replicas.", 0),
		column("Current", "integer", "Replicas is the most recently observed number of replicas.", 0),
		column("Ready", "integer", "The number of ready replicas for this replica set.", 0),
		ageColumn(),
	}
	return &TableConvertor{
		Columns: append(cols, workloadWideColumns()...),
		Row: func(obj runtime.Object) []interface{} {
			rs := obj.(*appsv1.ReplicaSet)
			row := []interface{}{
				rs.Name, int64(deref(rs.Spec.Replicas)), int64(rs.Status.Replicas), int64(rs.Status.ReadyReplicas),
				since(rs.CreationTimestamp),
			}
			return append(row, workloadWideCells(&rs.Spec.Template.Spec, rs.Spec.Selector)...)
		},
	}
}
