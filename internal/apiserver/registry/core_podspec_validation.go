package registry

import (
	"path"
	"reflect"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1validation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// validatePodTemplate validates a workload's pod template at p
// ("spec.template"): its labels and annotations and its pod spec, whose
// restartPolicy must be one of restartPolicies.
func validatePodTemplate(t *corev1.PodTemplateSpec, p *field.Path, restartPolicies ...corev1.RestartPolicy) field.ErrorList {
	mp := p.Child("metadata")
	errs := metav1validation.ValidateLabels(t.Labels, mp.Child("labels"))
	errs = append(errs, apivalidation.ValidateAnnotations(t.Annotations, mp.Child("annotations"))...)
	errs = append(errs, validateBerthAnnotations(t.Annotations, mp.Child("annotations"))...)
	errs = append(errs, validatePodSpec(&t.Spec, p.Child("spec"), restartPolicies...)...)
	return errs
}

// validatePodSpec validates a pod spec at p; restartPolicies lists the
// allowed restart policies (all three when empty).
func validatePodSpec(spec *corev1.PodSpec, p *field.Path, restartPolicies ...corev1.RestartPolicy) field.ErrorList {
	volumes, errs := validateVolumes(spec.Volumes, p.Child("volumes"))
	if len(spec.Containers) == 0 {
		errs = append(errs, field.Required(p.Child("containers"), ""))
	}
	names := sets.New[string]()
	errs = append(errs, validateContainers(spec.InitContainers, true, volumes, names, spec.HostNetwork, p.Child("initContainers"))...)
	errs = append(errs, validateContainers(spec.Containers, false, volumes, names, spec.HostNetwork, p.Child("containers"))...)

	if len(restartPolicies) == 0 {
		restartPolicies = []corev1.RestartPolicy{corev1.RestartPolicyAlways, corev1.RestartPolicyOnFailure, corev1.RestartPolicyNever}
	}
	errs = append(errs, validateEnum(p.Child("restartPolicy"), spec.RestartPolicy, true, restartPolicies...)...)
	errs = append(errs, validateEnum(p.Child("dnsPolicy"), spec.DNSPolicy, true,
		corev1.DNSClusterFirstWithHostNet, corev1.DNSClusterFirst, corev1.DNSDefault, corev1.DNSNone)...)
	if spec.DNSPolicy == corev1.DNSNone && (spec.DNSConfig == nil || len(spec.DNSConfig.Nameservers) == 0) {
		errs = append(errs, field.Required(p.Child("dnsConfig"), "must provide `dnsConfig` with at least one nameserver when `dnsPolicy` is None"))
	}
	if spec.DNSConfig != nil {
		for i, ns := range spec.DNSConfig.Nameservers {
			errs = append(errs, validation.IsValidIP(p.Child("dnsConfig", "nameservers").Index(i), ns)...)
		}
	}
	if v := spec.TerminationGracePeriodSeconds; v != nil {
		errs = append(errs, nonNegative(*v, p.Child("terminationGracePeriodSeconds"))...)
	}
	if v := spec.ActiveDeadlineSeconds; v != nil {
		errs = append(errs, positive(*v, p.Child("activeDeadlineSeconds"))...)
	}
	errs = append(errs, metav1validation.ValidateLabels(spec.NodeSelector, p.Child("nodeSelector"))...)
	errs = append(errs, dnsSubdomainIfSet(p.Child("nodeName"), spec.NodeName)...)
	errs = append(errs, dnsSubdomainIfSet(p.Child("serviceAccountName"), spec.ServiceAccountName)...)
	errs = append(errs, dnsSubdomainIfSet(p.Child("priorityClassName"), spec.PriorityClassName)...)
	if spec.Hostname != "" {
		errs = append(errs, msgs(p.Child("hostname"), spec.Hostname, validation.IsDNS1123Label(spec.Hostname))...)
	}
	if spec.Subdomain != "" {
		errs = append(errs, msgs(p.Child("subdomain"), spec.Subdomain, validation.IsDNS1123Label(spec.Subdomain))...)
	}
	errs = append(errs, validateTolerations(spec.Tolerations, p.Child("tolerations"))...)
	for i, s := range spec.ImagePullSecrets {
		if s.Name == "" {
			errs = append(errs, field.Required(p.Child("imagePullSecrets").Index(i).Child("name"), ""))
		}
	}
	if v := spec.PreemptionPolicy; v != nil {
		errs = append(errs, validateEnum(p.Child("preemptionPolicy"), *v, true, corev1.PreemptLowerPriority, corev1.PreemptNever)...)
	}
	for i, g := range spec.ReadinessGates {
		errs = append(errs, metav1validation.ValidateLabelName(string(g.ConditionType), p.Child("readinessGates").Index(i).Child("conditionType"))...)
	}
	for i, a := range spec.HostAliases {
		errs = append(errs, validation.IsValidIP(p.Child("hostAliases").Index(i).Child("ip"), a.IP)...)
	}
	if sc := spec.SecurityContext; sc != nil {
		sp := p.Child("securityContext")
		errs = append(errs, idField(sp.Child("runAsUser"), sc.RunAsUser)...)
		errs = append(errs, idField(sp.Child("runAsGroup"), sc.RunAsGroup)...)
		errs = append(errs, idField(sp.Child("fsGroup"), sc.FSGroup)...)
	}
	return errs
}

// validateEnum checks that v is one of allowed; an empty v is reported as
// Required when required is set and accepted otherwise.
func validateEnum[T ~string](p *field.Path, v T, required bool, allowed ...T) field.ErrorList {
	if v == "" {
		if !required {
			return nil
		}
		return field.ErrorList{field.Required(p, "supported values: "+quoteList(allowed))}
	}
	for _, a := range allowed {
		if v == a {
			return nil
		}
	}
	s := make([]string, len(allowed))
	for i, a := range allowed {
		s[i] = string(a)
	}
	return field.ErrorList{field.NotSupported(p, v, s)}
}

// quoteList renders values as `"a", "b"`.
func quoteList[T ~string](values []T) string {
	q := make([]string, len(values))
	for i, v := range values {
		q[i] = strconv.Quote(string(v))
	}
	return strings.Join(q, ", ")
}

// dnsSubdomainIfSet validates a non-empty reference to a named object.
func dnsSubdomainIfSet(p *field.Path, v string) field.ErrorList {
	if v == "" {
		return nil
	}
	return msgs(p, v, validation.IsDNS1123Subdomain(v))
}

// idField validates an optional user or group id.
func idField(p *field.Path, v *int64) field.ErrorList {
	if v == nil {
		return nil
	}
	return msgs(p, *v, validation.IsValidUserID(*v))
}

// validateTolerations checks operators, effects, keys and values.
func validateTolerations(tolerations []corev1.Toleration, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	for i, t := range tolerations {
		tp := p.Index(i)
		if t.Key != "" {
			errs = append(errs, metav1validation.ValidateLabelName(t.Key, tp.Child("key"))...)
		}
		switch t.Operator {
		case corev1.TolerationOpEqual, "":
			if t.Key == "" {
				errs = append(errs, field.Invalid(tp.Child("operator"), t.Operator, "operator must be Exists when `key` is empty, which means \"match all values and all keys\""))
			}
			errs = append(errs, msgs(tp.Child("value"), t.Value, validation.IsValidLabelValue(t.Value))...)
		case corev1.TolerationOpExists:
			if t.Value != "" {
				errs = append(errs, field.Invalid(tp.Child("operator"), t.Value, "value must be empty when `operator` is 'Exists'"))
			}
		case corev1.TolerationOpLt, corev1.TolerationOpGt:
			if _, err := strconv.ParseInt(t.Value, 10, 64); err != nil {
				errs = append(errs, field.Invalid(tp.Child("value"), t.Value, "must be an integer when `operator` is 'Lt' or 'Gt'"))
			}
		default:
			errs = append(errs, field.NotSupported(tp.Child("operator"), t.Operator, []string{"Equal", "Exists", "Lt", "Gt"}))
		}
		if t.TolerationSeconds != nil && t.Effect != corev1.TaintEffectNoExecute {
			errs = append(errs, field.Invalid(tp.Child("effect"), t.Effect, "effect must be 'NoExecute' when `tolerationSeconds` is set"))
		}
		errs = append(errs, validateEnum(tp.Child("effect"), t.Effect, false,
			corev1.TaintEffectNoSchedule, corev1.TaintEffectPreferNoSchedule, corev1.TaintEffectNoExecute)...)
	}
	return errs
}

// volumeSourceCount counts the volume types set in a VolumeSource.
func volumeSourceCount(vs *corev1.VolumeSource) int {
	n := 0
	v := reflect.ValueOf(vs).Elem()
	for i := 0; i < v.NumField(); i++ {
		if f := v.Field(i); f.Kind() == reflect.Pointer && !f.IsNil() {
			n++
		}
	}
	return n
}

// validateVolumes checks volume names and sources and returns the set of
// volume names.
func validateVolumes(volumes []corev1.Volume, p *field.Path) (sets.Set[string], field.ErrorList) {
	var errs field.ErrorList
	names := sets.New[string]()
	for i := range volumes {
		v := &volumes[i]
		vp := p.Index(i)
		switch {
		case v.Name == "":
			errs = append(errs, field.Required(vp.Child("name"), ""))
		case names.Has(v.Name):
			errs = append(errs, field.Duplicate(vp.Child("name"), v.Name))
		default:
			errs = append(errs, msgs(vp.Child("name"), v.Name, validation.IsDNS1123Label(v.Name))...)
		}
		names.Insert(v.Name)
		switch volumeSourceCount(&v.VolumeSource) {
		case 0:
			errs = append(errs, field.Required(vp, "must specify a volume type"))
		case 1:
		default:
			errs = append(errs, field.Forbidden(vp, "may not specify more than 1 volume type"))
		}
		errs = append(errs, validateVolumeSource(&v.VolumeSource, vp)...)
	}
	return names, errs
}

// validateVolumeSource checks the volume types Berth supports.
func validateVolumeSource(vs *corev1.VolumeSource, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	if s := vs.ConfigMap; s != nil {
		sp := p.Child("configMap")
		if s.Name == "" {
			errs = append(errs, field.Required(sp.Child("name"), ""))
		}
		errs = append(errs, validateMode(sp.Child("defaultMode"), s.DefaultMode)...)
		errs = append(errs, validateKeyToPaths(s.Items, sp.Child("items"))...)
	}
	if s := vs.Secret; s != nil {
		sp := p.Child("secret")
		if s.SecretName == "" {
			errs = append(errs, field.Required(sp.Child("secretName"), ""))
		}
		errs = append(errs, validateMode(sp.Child("defaultMode"), s.DefaultMode)...)
		errs = append(errs, validateKeyToPaths(s.Items, sp.Child("items"))...)
	}
	if s := vs.HostPath; s != nil {
		sp := p.Child("hostPath")
		if s.Path == "" {
			errs = append(errs, field.Required(sp.Child("path"), ""))
		}
		if s.Type != nil {
			errs = append(errs, validateEnum(sp.Child("type"), *s.Type, false,
				corev1.HostPathDirectoryOrCreate, corev1.HostPathDirectory, corev1.HostPathFileOrCreate,
				corev1.HostPathFile, corev1.HostPathSocket, corev1.HostPathCharDev, corev1.HostPathBlockDev)...)
		}
	}
	if s := vs.PersistentVolumeClaim; s != nil && s.ClaimName == "" {
		errs = append(errs, field.Required(p.Child("persistentVolumeClaim", "claimName"), ""))
	}
	if s := vs.EmptyDir; s != nil && s.SizeLimit != nil && s.SizeLimit.Sign() < 0 {
		errs = append(errs, field.Invalid(p.Child("emptyDir", "sizeLimit"), s.SizeLimit.String(), "must be greater than or equal to 0"))
	}
	if s := vs.DownwardAPI; s != nil {
		sp := p.Child("downwardAPI")
		errs = append(errs, validateMode(sp.Child("defaultMode"), s.DefaultMode)...)
		errs = append(errs, validateDownwardItems(s.Items, sp.Child("items"))...)
	}
	if s := vs.Projected; s != nil {
		sp := p.Child("projected")
		errs = append(errs, validateMode(sp.Child("defaultMode"), s.DefaultMode)...)
		for i, src := range s.Sources {
			ip := sp.Child("sources").Index(i)
			n := 0
			if src.ConfigMap != nil {
				n++
				errs = append(errs, validateKeyToPaths(src.ConfigMap.Items, ip.Child("configMap", "items"))...)
			}
			if src.Secret != nil {
				n++
				errs = append(errs, validateKeyToPaths(src.Secret.Items, ip.Child("secret", "items"))...)
			}
			if src.DownwardAPI != nil {
				n++
				errs = append(errs, validateDownwardItems(src.DownwardAPI.Items, ip.Child("downwardAPI", "items"))...)
			}
			if src.ServiceAccountToken != nil {
				n++
				errs = append(errs, validateRelativePath(src.ServiceAccountToken.Path, ip.Child("serviceAccountToken", "path"))...)
			}
			if src.ClusterTrustBundle != nil {
				n++
			}
			if src.PodCertificate != nil {
				n++
			}
			if n != 1 {
				errs = append(errs, field.Forbidden(ip, "may not specify more or less than 1 volume type"))
			}
		}
	}
	return errs
}

// validateMode checks a file mode (0000 to 0777).
func validateMode(p *field.Path, mode *int32) field.ErrorList {
	if mode != nil && (*mode < 0 || *mode > 0o777) {
		return field.ErrorList{field.Invalid(p, *mode, "must be a number between 0 and 0777 (octal), both inclusive")}
	}
	return nil
}

// validateKeyToPaths checks configMap and secret volume items.
func validateKeyToPaths(items []corev1.KeyToPath, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	for i, it := range items {
		ip := p.Index(i)
		if it.Key == "" {
			errs = append(errs, field.Required(ip.Child("key"), ""))
		}
		errs = append(errs, validateRelativePath(it.Path, ip.Child("path"))...)
		errs = append(errs, validateMode(ip.Child("mode"), it.Mode)...)
	}
	return errs
}

// validateDownwardItems checks downward API volume items.
func validateDownwardItems(items []corev1.DownwardAPIVolumeFile, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	for i, it := range items {
		ip := p.Index(i)
		errs = append(errs, validateRelativePath(it.Path, ip.Child("path"))...)
		errs = append(errs, validateMode(ip.Child("mode"), it.Mode)...)
		switch {
		case it.FieldRef != nil && it.ResourceFieldRef != nil:
			errs = append(errs, field.Invalid(ip, "resource", "fieldRef and resourceFieldRef can not be specified simultaneously"))
		case it.FieldRef != nil && it.FieldRef.FieldPath == "":
			errs = append(errs, field.Required(ip.Child("fieldRef", "fieldPath"), ""))
		case it.ResourceFieldRef != nil && it.ResourceFieldRef.Resource == "":
			errs = append(errs, field.Required(ip.Child("resourceFieldRef", "resource"), ""))
		}
	}
	return errs
}

// validateRelativePath requires a relative path without ".." elements.
func validateRelativePath(v string, p *field.Path) field.ErrorList {
	if v == "" {
		return field.ErrorList{field.Required(p, "")}
	}
	if path.IsAbs(v) {
		return field.ErrorList{field.Invalid(p, v, "must be a relative path")}
	}
	return validateNoDotDot(v, p)
}

// validateNoDotDot rejects paths with a ".." element.
func validateNoDotDot(v string, p *field.Path) field.ErrorList {
	for _, part := range strings.Split(v, "/") {
		if part == ".." {
			return field.ErrorList{field.Invalid(p, v, "must not contain '..'")}
		}
	}
	return nil
}

// validatePortNumOrName checks an IntOrString port (a number 1-65535 or an
// IANA_SVC_NAME).
func validatePortNumOrName(p *field.Path, port int32, name string, isName bool) field.ErrorList {
	if isName {
		return msgs(p, name, validation.IsValidPortName(name))
	}
	return msgs(p, port, validation.IsValidPortNum(int(port)))
}
