package registry

import (
	"strings"

	autoscalingv1 "k8s.io/api/autoscaling/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	pathvalidation "k8s.io/apimachinery/pkg/api/validation/path"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// defaultHPACPUUtilization is the cpu target of an HPA without metrics.
const defaultHPACPUUtilization int32 = 80

func hpaV2Resource() *Resource {
	return &Resource{
		GroupVersion: autoscalingV2, Resource: "horizontalpodautoscalers", Singular: "horizontalpodautoscaler",
		Kind: "HorizontalPodAutoscaler", Namespaced: true,
		ShortNames: []string{"hpa"}, Categories: []string{"all"}, Subresources: []string{"status"},
		New:             func() runtime.Object { return &autoscalingv2.HorizontalPodAutoscaler{} },
		NewList:         func() runtime.Object { return &autoscalingv2.HorizontalPodAutoscalerList{} },
		TrackGeneration: true,
		Strategy:        hpaV2Strategy(),
	}
}

func hpaV2Strategy() Strategy {
	type hpa = autoscalingv2.HorizontalPodAutoscaler
	return Strategy{
		Default:          func(obj runtime.Object) { defaultHPA(obj.(*hpa)) },
		PrepareForCreate: func(obj runtime.Object) { obj.(*hpa).Status = autoscalingv2.HorizontalPodAutoscalerStatus{} },
		PrepareForUpdate: func(obj, old runtime.Object) { obj.(*hpa).Status = *old.(*hpa).Status.DeepCopy() },
		PrepareForStatusUpdate: func(obj, old runtime.Object) {
			obj.(*hpa).Spec = *old.(*hpa).Spec.DeepCopy()
		},
		Validate: func(obj runtime.Object) field.ErrorList {
			h := obj.(*hpa)
			errs := validateMeta(&h.ObjectMeta, true, apivalidation.NameIsDNSSubdomain)
			errs = append(errs, validateHPAAnnotations(h.Annotations)...)
			return append(errs, validateHPASpec(&h.Spec)...)
		},
		ValidateUpdate: func(obj, old runtime.Object) field.ErrorList {
			h := obj.(*hpa)
			errs := validateMetaUpdate(&h.ObjectMeta, &old.(*hpa).ObjectMeta)
			errs = append(errs, validateHPAAnnotations(h.Annotations)...)
			return append(errs, validateHPASpec(&h.Spec)...)
		},
		SpecEqual: func(a, b runtime.Object) bool { return semanticEqual(a.(*hpa).Spec, b.(*hpa).Spec) },
		Table: &TableConvertor{
			Columns: hpaColumns(),
			Row:     func(obj runtime.Object) []interface{} { return hpaRow(obj.(*hpa)) },
		},
	}
}

// hpaV1Resource serves the autoscaling/v1 view of the stored v2 objects. Its
// strategy functions accept either the v1 or the v2 type, so the handler may
// call them before or after ToStorage.
func hpaV1Resource() *Resource {
	s := hpaV2Strategy()
	return &Resource{
		GroupVersion: autoscalingV1, Resource: "horizontalpodautoscalers", Singular: "horizontalpodautoscaler",
		Kind: "HorizontalPodAutoscaler", Namespaced: true,
		ShortNames: []string{"hpa"}, Categories: []string{"all"}, Subresources: []string{"status"},
		StorageResource: "horizontalpodautoscalers",
		New:             func() runtime.Object { return &autoscalingv1.HorizontalPodAutoscaler{} },
		NewList:         func() runtime.Object { return &autoscalingv1.HorizontalPodAutoscalerList{} },
		TrackGeneration: true,
		ToStorage:       hpaToStorage,
		FromStorage:     hpaFromStorage,
		Strategy: Strategy{
			Default:                func(obj runtime.Object) { withV2(obj, s.Default) },
			PrepareForCreate:       func(obj runtime.Object) { withV2(obj, s.PrepareForCreate) },
			PrepareForUpdate:       func(obj, old runtime.Object) { withV2Pair(obj, old, s.PrepareForUpdate) },
			PrepareForStatusUpdate: func(obj, old runtime.Object) { withV2Pair(obj, old, s.PrepareForStatusUpdate) },
			Validate: func(obj runtime.Object) field.ErrorList {
				return v1ErrorPaths(s.Validate(asV2(obj)))
			},
			ValidateUpdate: func(obj, old runtime.Object) field.ErrorList {
				return v1ErrorPaths(s.ValidateUpdate(asV2(obj), asV2(old)))
			},
			SpecEqual: func(a, b runtime.Object) bool { return s.SpecEqual(asV2(a), asV2(b)) },
			Table: &TableConvertor{
				Columns: hpaColumns(),
				Row:     func(obj runtime.Object) []interface{} { return hpaRow(asV2(obj)) },
			},
		},
	}
}

// asV2 returns obj as a v2 HPA, converting a v1 one.
func asV2(obj runtime.Object) *autoscalingv2.HorizontalPodAutoscaler {
	if o, ok := obj.(*autoscalingv1.HorizontalPodAutoscaler); ok {
		return HPAFromV1(o)
	}
	return obj.(*autoscalingv2.HorizontalPodAutoscaler)
}

// withV2 runs a v2 mutation on obj, converting a v1 object there and back.
func withV2(obj runtime.Object, fn func(runtime.Object)) {
	if o, ok := obj.(*autoscalingv1.HorizontalPodAutoscaler); ok {
		h := HPAFromV1(o)
		fn(h)
		*o = *HPAToV1(h)
		return
	}
	fn(obj)
}

// withV2Pair is withV2 for functions of the new and the old object.
func withV2Pair(obj, old runtime.Object, fn func(obj, old runtime.Object)) {
	withV2(obj, func(h runtime.Object) { fn(h, asV2(old)) })
}

// v1ErrorPaths renames the v2 path of the cpu target to its v1 field.
func v1ErrorPaths(errs field.ErrorList) field.ErrorList {
	for i, e := range errs {
		if strings.HasPrefix(e.Field, "spec.metrics[0].resource.target.averageUtilization") {
			c := *e
			c.Field = "spec.targetCPUUtilizationPercentage"
			errs[i] = &c
		}
	}
	return errs
}

// defaultHPA sets minReplicas 1, a cpu 80% Utilization metric when there
// are no metrics, and the scaling-rule defaults of a given behavior.
func defaultHPA(h *autoscalingv2.HorizontalPodAutoscaler) {
	s := &h.Spec
	setIfNil(&s.MinReplicas, 1)
	if len(s.Metrics) == 0 {
		s.Metrics = []autoscalingv2.MetricSpec{cpuSpec(defaultHPACPUUtilization)}
	}
	if b := s.Behavior; b != nil {
		up := autoscalingv2.HPAScalingRules{
			StabilizationWindowSeconds: ptrTo(int32(0)),
			Policies: []autoscalingv2.HPAScalingPolicy{
				{Type: autoscalingv2.PodsScalingPolicy, Value: 4, PeriodSeconds: 15},
				{Type: autoscalingv2.PercentScalingPolicy, Value: 100, PeriodSeconds: 15},
			},
		}
		down := autoscalingv2.HPAScalingRules{
			Policies: []autoscalingv2.HPAScalingPolicy{{Type: autoscalingv2.PercentScalingPolicy, Value: 100, PeriodSeconds: 15}},
		}
		b.ScaleUp = defaultScalingRules(b.ScaleUp, up)
		b.ScaleDown = defaultScalingRules(b.ScaleDown, down)
	}
}

// defaultScalingRules fills what r leaves unset from def.
func defaultScalingRules(r *autoscalingv2.HPAScalingRules, def autoscalingv2.HPAScalingRules) *autoscalingv2.HPAScalingRules {
	if r == nil {
		r = &autoscalingv2.HPAScalingRules{}
	}
	if r.StabilizationWindowSeconds == nil && def.StabilizationWindowSeconds != nil {
		r.StabilizationWindowSeconds = ptrTo(*def.StabilizationWindowSeconds)
	}
	setIfNil(&r.SelectPolicy, autoscalingv2.MaxChangePolicySelect)
	if r.Policies == nil {
		r.Policies = def.Policies
	}
	return r
}

// validateHPASpec validates an autoscaling/v2 HPA spec.
func validateHPASpec(s *autoscalingv2.HorizontalPodAutoscalerSpec) field.ErrorList {
	rp := specPath.Child("scaleTargetRef")
	var errs field.ErrorList
	for _, f := range []struct{ name, v string }{{"kind", s.ScaleTargetRef.Kind}, {"name", s.ScaleTargetRef.Name}} {
		if f.v == "" {
			errs = append(errs, field.Required(rp.Child(f.name), ""))
		} else {
			errs = append(errs, msgs(rp.Child(f.name), f.v, pathvalidation.IsValidPathSegmentName(f.v))...)
		}
	}
	if s.MinReplicas != nil && *s.MinReplicas < 1 {
		errs = append(errs, field.Invalid(specPath.Child("minReplicas"), *s.MinReplicas, "must be greater than or equal to 1"))
	}
	if s.MaxReplicas < 1 {
		errs = append(errs, field.Invalid(specPath.Child("maxReplicas"), s.MaxReplicas, "must be greater than 0"))
	}
	if s.MinReplicas != nil && s.MaxReplicas < *s.MinReplicas {
		errs = append(errs, field.Invalid(specPath.Child("maxReplicas"), s.MaxReplicas, "must be greater than or equal to `minReplicas`"))
	}
	for i := range s.Metrics {
		errs = append(errs, validateMetricSpec(&s.Metrics[i], specPath.Child("metrics").Index(i))...)
	}
	if b := s.Behavior; b != nil {
		bp := specPath.Child("behavior")
		errs = append(errs, validateScalingRules(b.ScaleUp, bp.Child("scaleUp"))...)
		errs = append(errs, validateScalingRules(b.ScaleDown, bp.Child("scaleDown"))...)
	}
	return errs
}

// validateMetricSpec checks that exactly the source named by type is set and
// that it is complete.
func validateMetricSpec(m *autoscalingv2.MetricSpec, p *field.Path) field.ErrorList {
	set := map[autoscalingv2.MetricSourceType]bool{
		autoscalingv2.ObjectMetricSourceType:            m.Object != nil,
		autoscalingv2.PodsMetricSourceType:              m.Pods != nil,
		autoscalingv2.ResourceMetricSourceType:          m.Resource != nil,
		autoscalingv2.ContainerResourceMetricSourceType: m.ContainerResource != nil,
		autoscalingv2.ExternalMetricSourceType:          m.External != nil,
	}
	types := []autoscalingv2.MetricSourceType{autoscalingv2.ObjectMetricSourceType, autoscalingv2.PodsMetricSourceType,
		autoscalingv2.ResourceMetricSourceType, autoscalingv2.ContainerResourceMetricSourceType, autoscalingv2.ExternalMetricSourceType}
	if m.Type == "" {
		return field.ErrorList{field.Required(p.Child("type"), "must specify a metric source type")}
	}
	if errs := validateEnum(p.Child("type"), m.Type, true, types...); len(errs) > 0 {
		return errs
	}
	sub := p.Child(lowerFirst(string(m.Type)))
	if !set[m.Type] {
		return field.ErrorList{field.Required(sub, "must populate information for the given metric source")}
	}
	var errs field.ErrorList
	for t, ok := range set {
		if ok && t != m.Type {
			errs = append(errs, field.Invalid(p.Child("type"), m.Type, "must populate the given metric source only"))
			break
		}
	}
	value, avg, util := autoscalingv2.ValueMetricType, autoscalingv2.AverageValueMetricType, autoscalingv2.UtilizationMetricType
	metricName := func(name string) {
		if name == "" {
			errs = append(errs, field.Required(sub.Child("metric", "name"), "must specify a metric name"))
		}
	}
	switch m.Type {
	case autoscalingv2.ResourceMetricSourceType:
		if m.Resource.Name == "" {
			errs = append(errs, field.Required(sub.Child("name"), "must specify a resource name"))
		}
		errs = append(errs, validateMetricTarget(&m.Resource.Target, sub.Child("target"), util, avg)...)
	case autoscalingv2.ContainerResourceMetricSourceType:
		if m.ContainerResource.Name == "" {
			errs = append(errs, field.Required(sub.Child("name"), "must specify a resource name"))
		}
		if c := m.ContainerResource.Container; c == "" {
			errs = append(errs, field.Required(sub.Child("container"), "must specify a container"))
		} else {
			errs = append(errs, msgs(sub.Child("container"), c, validation.IsDNS1123Label(c))...)
		}
		errs = append(errs, validateMetricTarget(&m.ContainerResource.Target, sub.Child("target"), util, avg)...)
	case autoscalingv2.PodsMetricSourceType:
		metricName(m.Pods.Metric.Name)
		errs = append(errs, validateMetricTarget(&m.Pods.Target, sub.Child("target"), avg)...)
	case autoscalingv2.ObjectMetricSourceType:
		dp := sub.Child("describedObject")
		if m.Object.DescribedObject.Kind == "" {
			errs = append(errs, field.Required(dp.Child("kind"), ""))
		}
		if m.Object.DescribedObject.Name == "" {
			errs = append(errs, field.Required(dp.Child("name"), ""))
		}
		metricName(m.Object.Metric.Name)
		errs = append(errs, validateMetricTarget(&m.Object.Target, sub.Child("target"), value, avg)...)
	case autoscalingv2.ExternalMetricSourceType:
		metricName(m.External.Metric.Name)
		errs = append(errs, validateMetricTarget(&m.External.Target, sub.Child("target"), value, avg)...)
	}
	return errs
}

// validateMetricTarget checks a target's type (one of allowed) and that the
// matching positive value is set.
func validateMetricTarget(t *autoscalingv2.MetricTarget, p *field.Path, allowed ...autoscalingv2.MetricTargetType) field.ErrorList {
	errs := validateEnum(p.Child("type"), t.Type, true, allowed...)
	if len(errs) > 0 {
		return errs
	}
	switch t.Type {
	case autoscalingv2.UtilizationMetricType:
		if t.AverageUtilization == nil {
			return field.ErrorList{field.Required(p.Child("averageUtilization"), "must set averageUtilization when type is Utilization")}
		}
		return positive(int64(*t.AverageUtilization), p.Child("averageUtilization"))
	case autoscalingv2.AverageValueMetricType:
		if t.AverageValue == nil {
			return field.ErrorList{field.Required(p.Child("averageValue"), "must set averageValue when type is AverageValue")}
		}
		if t.AverageValue.Sign() <= 0 {
			return field.ErrorList{field.Invalid(p.Child("averageValue"), t.AverageValue.String(), "must be positive")}
		}
	case autoscalingv2.ValueMetricType:
		if t.Value == nil {
			return field.ErrorList{field.Required(p.Child("value"), "must set value when type is Value")}
		}
		if t.Value.Sign() <= 0 {
			return field.ErrorList{field.Invalid(p.Child("value"), t.Value.String(), "must be positive")}
		}
	}
	return nil
}

// validateScalingRules checks a behavior's scale-up or scale-down rules.
func validateScalingRules(r *autoscalingv2.HPAScalingRules, p *field.Path) field.ErrorList {
	if r == nil {
		return nil
	}
	var errs field.ErrorList
	if w := r.StabilizationWindowSeconds; w != nil {
		errs = append(errs, nonNegative(int64(*w), p.Child("stabilizationWindowSeconds"))...)
		if *w > 3600 {
			errs = append(errs, field.Invalid(p.Child("stabilizationWindowSeconds"), *w, "must be less than or equal to 3600"))
		}
	}
	if sp := r.SelectPolicy; sp != nil {
		errs = append(errs, validateEnum(p.Child("selectPolicy"), *sp, true, autoscalingv2.MaxChangePolicySelect,
			autoscalingv2.MinChangePolicySelect, autoscalingv2.DisabledPolicySelect)...)
	}
	if len(r.Policies) == 0 && (r.SelectPolicy == nil || *r.SelectPolicy != autoscalingv2.DisabledPolicySelect) {
		errs = append(errs, field.Required(p.Child("policies"), "must specify at least one Policy"))
	}
	for i, pol := range r.Policies {
		pp := p.Child("policies").Index(i)
		errs = append(errs, validateEnum(pp.Child("type"), pol.Type, true, autoscalingv2.PodsScalingPolicy, autoscalingv2.PercentScalingPolicy)...)
		errs = append(errs, positive(int64(pol.Value), pp.Child("value"))...)
		errs = append(errs, positive(int64(pol.PeriodSeconds), pp.Child("periodSeconds"))...)
		if pol.PeriodSeconds > 1800 {
			errs = append(errs, field.Invalid(pp.Child("periodSeconds"), pol.PeriodSeconds, "must be less than or equal to 1800"))
		}
	}
	if t := r.Tolerance; t != nil && t.Sign() < 0 {
		errs = append(errs, field.Invalid(p.Child("tolerance"), t.String(), "must be greater than or equal to 0"))
	}
	return errs
}

// lowerFirst lower-cases the first letter ("ContainerResource" →
// "containerResource").
func lowerFirst(s string) string {
	if s == "" {
		return s
	}
	return strings.ToLower(s[:1]) + s[1:]
}
