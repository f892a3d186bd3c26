package registry

import (
	"errors"
	"fmt"

	"github.com/berth-dev/berth/internal/autoscale"
	"github.com/berth-dev/berth/internal/autoscale/predict"
	"github.com/berth-dev/berth/internal/proxy/lb"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// Berth's annotations that the API validates (docs/annotations.md), so
// that a typo is refused rather than silently ignored by the proxy.
const (
	// AnnotationLBPolicy on a Service selects its load-balancing policy.
	AnnotationLBPolicy = "berth.io/lb-policy"
	// AnnotationLBMode on a Service is "tcp" (per connection, default) or
	// "http" (per request).
	AnnotationLBMode = "berth.io/lb-mode"
	// AnnotationProxyProtocol on a Service makes the L4 proxy send the
	// PROXY protocol header of that version ("v2").
	AnnotationProxyProtocol = "berth.io/proxy-protocol"
	// AnnotationLBWeight on a pod is its weight under the weighted policy.
	AnnotationLBWeight = "berth.io/lb-weight"
)

// validateBerthAnnotations checks the values of Berth's annotations.
func validateBerthAnnotations(annotations map[string]string, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	for k, v := range annotations {
		var err error
		switch k {
		case AnnotationLBPolicy:
			_, err = lb.ParsePolicy(v)
		case AnnotationLBWeight:
			_, err = lb.ParseWeight(v)
		case AnnotationLBMode:
			if v != "tcp" && v != "http" {
				err = fmt.Errorf("unknown load-balancing mode %q: want tcp or http", v)
			}
		case AnnotationProxyProtocol:
			if v != "v2" {
				err = fmt.Errorf("unsupported PROXY protocol version %q: want v2", v)
			}
		default:
			continue
		}
		if err != nil {
			errs = append(errs, field.Invalid(p.Key(k), v, err.Error()))
		}
	}
	return errs
}

// validateHPAAnnotations checks Berth's HPA annotations (sync period,
// metric resolution, predictive mode) together, since some depend on
// others (a season is a multiple of the step).
func validateHPAAnnotations(annotations map[string]string) field.ErrorList {
	_, err := autoscale.ParseSettings(annotations)
	if err == nil {
		return nil
	}
	p := field.NewPath("metadata", "annotations")
	var ae *predict.AnnotationError
	if errors.As(err, &ae) {
		return field.ErrorList{field.Invalid(p.Key(ae.Key), ae.Value, ae.Reason)}
	}
	return field.ErrorList{field.Invalid(p, annotations, err.Error())}
}
