package registry

import (
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// validateContainers checks a list of containers (or init containers).
// names collects container names across both lists for uniqueness.
func validateContainers(containers []corev1.Container, init bool, volumes, names sets.Set[string], hostNetwork bool, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	for i := range containers {
		c := &containers[i]
		cp := p.Index(i)
		switch {
		case c.Name == "":
			errs = append(errs, field.Required(cp.Child("name"), ""))
		case names.Has(c.Name):
			errs = append(errs, field.Duplicate(cp.Child("name"), c.Name))
		default:
			errs = append(errs, msgs(cp.Child("name"), c.Name, validation.IsDNS1123Label(c.Name))...)
		}
		names.Insert(c.Name)
		errs = append(errs, validateContainer(c, init, volumes, hostNetwork, cp)...)
	}
	return errs
}

// validateContainer checks one container at p.
func validateContainer(c *corev1.Container, init bool, volumes sets.Set[string], hostNetwork bool, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	if c.Image == "" {
		errs = append(errs, field.Required(p.Child("image"), ""))
	} else if strings.TrimSpace(c.Image) != c.Image {
		errs = append(errs, field.Invalid(p.Child("image"), c.Image, "must not have leading or trailing whitespace"))
	}
	errs = append(errs, validateEnum(p.Child("imagePullPolicy"), c.ImagePullPolicy, true,
		corev1.PullAlways, corev1.PullNever, corev1.PullIfNotPresent)...)
	errs = append(errs, validateEnum(p.Child("terminationMessagePolicy"), c.TerminationMessagePolicy, true,
		corev1.TerminationMessageReadFile, corev1.TerminationMessageFallbackToLogsOnError)...)
	errs = append(errs, validateContainerPorts(c.Ports, hostNetwork, p.Child("ports"))...)
	errs = append(errs, validateEnv(c.Env, p.Child("env"))...)
	errs = append(errs, validateEnvFrom(c.EnvFrom, p.Child("envFrom"))...)
	errs = append(errs, validateResources(&c.Resources, p.Child("resources"))...)
	errs = append(errs, validateVolumeMounts(c.VolumeMounts, volumes, p.Child("volumeMounts"))...)

	sidecar := false
	if rp := c.RestartPolicy; rp != nil {
		if init {
			errs = append(errs, validateEnum(p.Child("restartPolicy"), *rp, true, corev1.ContainerRestartPolicyAlways)...)
			sidecar = *rp == corev1.ContainerRestartPolicyAlways
		} else {
			errs = append(errs, validateEnum(p.Child("restartPolicy"), *rp, true, corev1.ContainerRestartPolicyAlways,
				corev1.ContainerRestartPolicyOnFailure, corev1.ContainerRestartPolicyNever)...)
		}
	}
	probes := []struct {
		name  string
		probe *corev1.Probe
	}{{"livenessProbe", c.LivenessProbe}, {"readinessProbe", c.ReadinessProbe}, {"startupProbe", c.StartupProbe}}
	for _, pr := range probes {
		if pr.probe == nil {
			continue
		}
		pp := p.Child(pr.name)
		if init && !sidecar {
			errs = append(errs, field.Forbidden(pp, "may not be set for init containers without restartPolicy=Always"))
			continue
		}
		errs = append(errs, validateProbe(pr.probe, pr.name != "readinessProbe", pp)...)
	}
	if c.Lifecycle != nil {
		lp := p.Child("lifecycle")
		if init && !sidecar {
			errs = append(errs, field.Forbidden(lp, "may not be set for init containers without restartPolicy=Always"))
		} else {
			errs = append(errs, validateLifecycleHandler(c.Lifecycle.PostStart, lp.Child("postStart"))...)
			errs = append(errs, validateLifecycleHandler(c.Lifecycle.PreStop, lp.Child("preStop"))...)
		}
	}
	if sc := c.SecurityContext; sc != nil {
		sp := p.Child("securityContext")
		errs = append(errs, idField(sp.Child("runAsUser"), sc.RunAsUser)...)
		errs = append(errs, idField(sp.Child("runAsGroup"), sc.RunAsGroup)...)
		if sc.Privileged != nil && *sc.Privileged && sc.AllowPrivilegeEscalation != nil && !*sc.AllowPrivilegeEscalation {
			errs = append(errs, field.Invalid(sp, sc, "cannot set `allowPrivilegeEscalation` to false and `privileged` to true"))
		}
	}
	return errs
}

// validateContainerPorts checks containerPort, hostPort, protocol and names.
func validateContainerPorts(ports []corev1.ContainerPort, hostNetwork bool, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	names := sets.New[string]()
	for i, port := range ports {
		pp := p.Index(i)
		if port.Name != "" {
			errs = append(errs, msgs(pp.Child("name"), port.Name, validation.IsValidPortName(port.Name))...)
			if names.Has(port.Name) {
				errs = append(errs, field.Duplicate(pp.Child("name"), port.Name))
			}
			names.Insert(port.Name)
		}
		if port.ContainerPort == 0 {
			errs = append(errs, field.Required(pp.Child("containerPort"), ""))
		} else {
			errs = append(errs, msgs(pp.Child("containerPort"), port.ContainerPort, validation.IsValidPortNum(int(port.ContainerPort)))...)
		}
		if port.HostPort != 0 {
			errs = append(errs, msgs(pp.Child("hostPort"), port.HostPort, validation.IsValidPortNum(int(port.HostPort)))...)
			if hostNetwork && port.HostPort != port.ContainerPort {
				errs = append(errs, field.Invalid(pp.Child("hostPort"), port.HostPort, "must match `containerPort` when `hostNetwork` is true"))
			}
		}
		errs = append(errs, validateProtocol(pp.Child("protocol"), port.Protocol)...)
		if port.HostIP != "" {
			errs = append(errs, validation.IsValidIP(pp.Child("hostIP"), port.HostIP)...)
		}
	}
	return errs
}

// validateProtocol requires TCP, UDP or SCTP.
func validateProtocol(p *field.Path, proto corev1.Protocol) field.ErrorList {
	return validateEnum(p, proto, true, corev1.ProtocolTCP, corev1.ProtocolUDP, corev1.ProtocolSCTP)
}

// validateEnv checks environment variable names and sources.
func validateEnv(env []corev1.EnvVar, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	for i, e := range env {
		ep := p.Index(i)
		if e.Name == "" {
			errs = append(errs, field.Required(ep.Child("name"), ""))
		} else {
			errs = append(errs, msgs(ep.Child("name"), e.Name, validation.IsRelaxedEnvVarName(e.Name))...)
		}
		vf := e.ValueFrom
		if vf == nil {
			continue
		}
		vp := ep.Child("valueFrom")
		n := 0
		if vf.FieldRef != nil {
			n++
			if vf.FieldRef.FieldPath == "" {
				errs = append(errs, field.Required(vp.Child("fieldRef", "fieldPath"), ""))
			}
		}
		if vf.ResourceFieldRef != nil {
			n++
			if vf.ResourceFieldRef.Resource == "" {
				errs = append(errs, field.Required(vp.Child("resourceFieldRef", "resource"), ""))
			}
		}
		if r := vf.ConfigMapKeyRef; r != nil {
			n++
			errs = append(errs, validateKeyRef(vp.Child("configMapKeyRef"), r.Name, r.Key)...)
		}
		if r := vf.SecretKeyRef; r != nil {
			n++
			errs = append(errs, validateKeyRef(vp.Child("secretKeyRef"), r.Name, r.Key)...)
		}
		if vf.FileKeyRef != nil {
			n++
		}
		switch {
		case n == 0:
			errs = append(errs, field.Invalid(vp, "", "must specify one of: `fieldRef`, `resourceFieldRef`, `configMapKeyRef`, `secretKeyRef` or `fileKeyRef`"))
		case n > 1:
			errs = append(errs, field.Invalid(vp, "", "may not have more than one field specified at a time"))
		}
		if e.Value != "" {
			errs = append(errs, field.Invalid(vp, "", "may not be specified when `value` is not empty"))
		}
	}
	return errs
}

// validateKeyRef checks a configMap or secret key reference.
func validateKeyRef(p *field.Path, name, key string) field.ErrorList {
	var errs field.ErrorList
	if name == "" {
		errs = append(errs, field.Required(p.Child("name"), ""))
	}
	if key == "" {
		errs = append(errs, field.Required(p.Child("key"), ""))
	} else {
		errs = append(errs, msgs(p.Child("key"), key, validation.IsConfigMapKey(key))...)
	}
	return errs
}

// validateEnvFrom checks envFrom sources and prefixes.
func validateEnvFrom(envFrom []corev1.EnvFromSource, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	for i, e := range envFrom {
		ep := p.Index(i)
		if e.Prefix != "" {
			errs = append(errs, msgs(ep.Child("prefix"), e.Prefix, validation.IsRelaxedEnvVarName(e.Prefix))...)
		}
		n := 0
		if e.ConfigMapRef != nil {
			n++
			if e.ConfigMapRef.Name == "" {
				errs = append(errs, field.Required(ep.Child("configMapRef", "name"), ""))
			}
		}
		if e.SecretRef != nil {
			n++
			if e.SecretRef.Name == "" {
				errs = append(errs, field.Required(ep.Child("secretRef", "name"), ""))
			}
		}
		if n != 1 {
			errs = append(errs, field.Invalid(ep, "", "must specify exactly one of: `configMapRef` or `secretRef`"))
		}
	}
	return errs
}

// validateResources checks resource names, that quantities are not
// negative, and that requests do not exceed limits.
func validateResources(r *corev1.ResourceRequirements, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	for name, q := range r.Limits {
		lp := p.Child("limits").Key(string(name))
		errs = append(errs, validateResourceName(name, lp)...)
		if q.Sign() < 0 {
			errs = append(errs, field.Invalid(lp, q.String(), "must be greater than or equal to 0"))
		}
	}
	for name, q := range r.Requests {
		rp := p.Child("requests").Key(string(name))
		errs = append(errs, validateResourceName(name, rp)...)
		if q.Sign() < 0 {
			errs = append(errs, field.Invalid(rp, q.String(), "must be greater than or equal to 0"))
			continue
		}
		if l, ok := r.Limits[name]; ok && q.Cmp(l) > 0 {
			errs = append(errs, field.Invalid(rp, q.String(), fmt.Sprintf("must be less than or equal to %s limit of %s", name, l.String())))
		}
	}
	return errs
}

// validateResourceName accepts the standard container resources and
// domain-qualified extended resources.
func validateResourceName(name corev1.ResourceName, p *field.Path) field.ErrorList {
	s := string(name)
	if strings.Contains(s, "/") {
		return msgs(p, s, validation.IsQualifiedName(s))
	}
	switch {
	case name == corev1.ResourceCPU, name == corev1.ResourceMemory, name == corev1.ResourceEphemeralStorage,
		strings.HasPrefix(s, corev1.ResourceHugePagesPrefix):
		return nil
	}
	return field.ErrorList{field.Invalid(p, s, "must be a standard resource for containers")}
}

// validateVolumeMounts checks that mounts name existing volumes and have
// unique mount paths.
func validateVolumeMounts(mounts []corev1.VolumeMount, volumes sets.Set[string], p *field.Path) field.ErrorList {
	var errs field.ErrorList
	paths := sets.New[string]()
	for i, m := range mounts {
		mp := p.Index(i)
		if m.Name == "" {
			errs = append(errs, field.Required(mp.Child("name"), ""))
		} else if !volumes.Has(m.Name) {
			errs = append(errs, field.NotFound(mp.Child("name"), m.Name))
		}
		if m.MountPath == "" {
			errs = append(errs, field.Required(mp.Child("mountPath"), ""))
		} else if paths.Has(m.MountPath) {
			errs = append(errs, field.Invalid(mp.Child("mountPath"), m.MountPath, "must be unique"))
		}
		paths.Insert(m.MountPath)
		if m.SubPath != "" {
			if strings.HasPrefix(m.SubPath, "/") {
				errs = append(errs, field.Invalid(mp.Child("subPath"), m.SubPath, "must be a relative path"))
			}
			errs = append(errs, validateNoDotDot(m.SubPath, mp.Child("subPath"))...)
		}
		if m.SubPath != "" && m.SubPathExpr != "" {
			errs = append(errs, field.Invalid(mp.Child("subPathExpr"), m.SubPathExpr, "subPathExpr and subPath are mutually exclusive"))
		}
	}
	return errs
}

// validateProbe checks a probe: exactly one handler, sane timings, and a
// successThreshold of 1 for liveness and startup probes.
func validateProbe(pr *corev1.Probe, successMustBeOne bool, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	n := 0
	h := &pr.ProbeHandler
	if h.Exec != nil {
		n++
	}
	if h.HTTPGet != nil {
		n++
		errs = append(errs, validateHTTPGet(h.HTTPGet, p.Child("httpGet"))...)
	}
	if h.TCPSocket != nil {
		n++
		errs = append(errs, validateIntOrStringPort(h.TCPSocket.Port, p.Child("tcpSocket", "port"))...)
	}
	if h.GRPC != nil {
		n++
		errs = append(errs, msgs(p.Child("grpc", "port"), h.GRPC.Port, validation.IsValidPortNum(int(h.GRPC.Port)))...)
	}
	switch {
	case n == 0:
		errs = append(errs, field.Required(p, "must specify a handler type"))
	case n > 1:
		errs = append(errs, field.Forbidden(p, "may not specify more than 1 handler type"))
	}
	errs = append(errs, nonNegative(int64(pr.InitialDelaySeconds), p.Child("initialDelaySeconds"))...)
	errs = append(errs, positive(int64(pr.TimeoutSeconds), p.Child("timeoutSeconds"))...)
	errs = append(errs, positive(int64(pr.PeriodSeconds), p.Child("periodSeconds"))...)
	errs = append(errs, positive(int64(pr.SuccessThreshold), p.Child("successThreshold"))...)
	errs = append(errs, positive(int64(pr.FailureThreshold), p.Child("failureThreshold"))...)
	if successMustBeOne && pr.SuccessThreshold != 1 {
		errs = append(errs, field.Invalid(p.Child("successThreshold"), pr.SuccessThreshold, "must be 1"))
	}
	if v := pr.TerminationGracePeriodSeconds; v != nil {
		errs = append(errs, positive(*v, p.Child("terminationGracePeriodSeconds"))...)
	}
	return errs
}

// validateLifecycleHandler checks a postStart or preStop hook.
func validateLifecycleHandler(h *corev1.LifecycleHandler, p *field.Path) field.ErrorList {
	if h == nil {
		return nil
	}
	var errs field.ErrorList
	n := 0
	if h.Exec != nil {
		n++
	}
	if h.HTTPGet != nil {
		n++
		errs = append(errs, validateHTTPGet(h.HTTPGet, p.Child("httpGet"))...)
	}
	if h.TCPSocket != nil {
		n++
		errs = append(errs, validateIntOrStringPort(h.TCPSocket.Port, p.Child("tcpSocket", "port"))...)
	}
	if h.Sleep != nil {
		n++
		errs = append(errs, nonNegative(h.Sleep.Seconds, p.Child("sleep", "seconds"))...)
	}
	switch {
	case n == 0:
		errs = append(errs, field.Required(p, "must specify a handler type"))
	case n > 1:
		errs = append(errs, field.Forbidden(p, "may not specify more than 1 handler type"))
	}
	return errs
}

// validateHTTPGet checks an httpGet action's port and scheme.
func validateHTTPGet(h *corev1.HTTPGetAction, p *field.Path) field.ErrorList {
	errs := validateIntOrStringPort(h.Port, p.Child("port"))
	errs = append(errs, validateEnum(p.Child("scheme"), h.Scheme, false, corev1.URISchemeHTTP, corev1.URISchemeHTTPS)...)
	for i, hdr := range h.HTTPHeaders {
		errs = append(errs, msgs(p.Child("httpHeaders").Index(i).Child("name"), hdr.Name, validation.IsHTTPHeaderName(hdr.Name))...)
	}
	return errs
}

// validateIntOrStringPort checks a port given as number or name.
func validateIntOrStringPort(port intstr.IntOrString, p *field.Path) field.ErrorList {
	return validatePortNumOrName(p, port.IntVal, port.StrVal, port.Type == intstr.String)
}
