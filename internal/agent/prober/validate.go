package prober

import (
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// Validate checks probe against the ports of its container and returns
// nil or an error listing every problem with the path of the offending
// field under fldPath (for example
// `livenessProbe.httpGet.port: Invalid value: "web": no container port
// named "web"`). Zero timing values are accepted and mean the defaults; a
// nil probe is valid. fldPath nil means "probe".
func Validate(probe *corev1.Probe, ports []corev1.ContainerPort, fldPath *field.Path) error {
	if fldPath == nil {
		fldPath = field.NewPath("probe")
	}
	return validateProbe(probe, ports, fldPath).ToAggregate()
}

// ValidateContainer checks the startup, liveness and readiness probes of
// c (fields under fldPath, e.g. spec.containers[0]; nil for none),
// including that liveness and startup probes have a successThreshold of 1.
func ValidateContainer(c *corev1.Container, fldPath *field.Path) error {
	var errs field.ErrorList
	for _, t := range []ProbeType{Startup, Liveness, Readiness} {
		p := t.probeOf(c)
		if p == nil {
			continue
		}
		fp := fldPath.Child(t.FieldName())
		errs = append(errs, validateProbe(p, c.Ports, fp)...)
		if t != Readiness && p.SuccessThreshold > 1 {
			errs = append(errs, field.Invalid(fp.Child("successThreshold"), p.SuccessThreshold, "must be 1 for "+t.FieldName()))
		}
	}
	return errs.ToAggregate()
}

// validateProbe is Validate returning the list.
func validateProbe(probe *corev1.Probe, ports []corev1.ContainerPort, p *field.Path) field.ErrorList {
	if probe == nil {
		return nil
	}
	var errs field.ErrorList
	h := &probe.ProbeHandler
	var handlers []string
	if h.Exec != nil {
		handlers = append(handlers, "exec")
		if len(h.Exec.Command) == 0 {
			errs = append(errs, field.Required(p.Child("exec", "command"), "an exec probe needs a command"))
		}
	}
	if h.HTTPGet != nil {
		handlers = append(handlers, "httpGet")
		errs = append(errs, validateHTTPGet(h.HTTPGet, ports, p.Child("httpGet"))...)
	}
	if h.TCPSocket != nil {
		handlers = append(handlers, "tcpSocket")
		errs = append(errs, validatePort(h.TCPSocket.Port, ports, p.Child("tcpSocket", "port"))...)
	}
	if h.GRPC != nil {
		handlers = append(handlers, "grpc")
		if h.GRPC.Port < 1 || h.GRPC.Port > 65535 {
			errs = append(errs, field.Invalid(p.Child("grpc", "port"), h.GRPC.Port, "must be between 1 and 65535, inclusive"))
		}
	}
	switch len(handlers) {
	case 0:
		errs = append(errs, field.Required(p, "must specify a handler type (exec, httpGet, tcpSocket or grpc)"))
	case 1:
	default:
		errs = append(errs, field.Forbidden(p, fmt.Sprintf("may not specify more than 1 handler type (found %s)", strings.Join(handlers, ", "))))
	}
	for _, f := range []struct {
		name string
		v    int32
	}{
		{"initialDelaySeconds", probe.InitialDelaySeconds},
		{"timeoutSeconds", probe.TimeoutSeconds},
		{"periodSeconds", probe.PeriodSeconds},
		{"successThreshold", probe.SuccessThreshold},
		{"failureThreshold", probe.FailureThreshold},
	} {
		if f.v < 0 {
			errs = append(errs, field.Invalid(p.Child(f.name), f.v, "must be greater than or equal to 0"))
		}
	}
	if v := probe.TerminationGracePeriodSeconds; v != nil && *v <= 0 {
		errs = append(errs, field.Invalid(p.Child("terminationGracePeriodSeconds"), *v, "must be greater than 0"))
	}
	return errs
}

// validateHTTPGet checks an httpGet action's port, scheme and headers.
func validateHTTPGet(a *corev1.HTTPGetAction, ports []corev1.ContainerPort, p *field.Path) field.ErrorList {
	errs := validatePort(a.Port, ports, p.Child("port"))
	switch a.Scheme {
	case "", corev1.URISchemeHTTP, corev1.URISchemeHTTPS:
	default:
		errs = append(errs, field.NotSupported(p.Child("scheme"), a.Scheme, []corev1.URIScheme{corev1.URISchemeHTTP, corev1.URISchemeHTTPS}))
	}
	for i, h := range a.HTTPHeaders {
		for _, msg := range validation.IsHTTPHeaderName(h.Name) {
			errs = append(errs, field.Invalid(p.Child("httpHeaders").Index(i).Child("name"), h.Name, msg))
		}
	}
	return errs
}

// validatePort checks that port resolves against ports.
func validatePort(port intstr.IntOrString, ports []corev1.ContainerPort, p *field.Path) field.ErrorList {
	if _, err := ResolvePort(port, ports); err != nil {
		if port.Type == intstr.String && port.StrVal == "" {
			return field.ErrorList{field.Required(p, "must name a container port or give a port number")}
		}
		return field.ErrorList{field.Invalid(p, port.String(), err.Error())}
	}
	return nil
}
