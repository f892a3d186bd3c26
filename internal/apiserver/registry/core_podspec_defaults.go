package registry

import (
	"strings"

	corev1 "k8s.io/api/core/v1"
)

// defaultVolumeMode is the file mode (0644) Kubernetes gives projected files.
const defaultVolumeMode int32 = 0o644

// defaultPodTemplate applies the pod spec defaults to a workload template.
// Job templates get no restartPolicy default (it must be OnFailure or Never).
func defaultPodTemplate(t *corev1.PodTemplateSpec, defaultRestartPolicy bool) {
	defaultPodSpec(&t.Spec, defaultRestartPolicy)
}

// defaultPodSpec sets the defaults Kubernetes sets on every pod spec,
// whether in a pod or in a template.
func defaultPodSpec(spec *corev1.PodSpec, defaultRestartPolicy bool) {
	if spec.RestartPolicy == "" && defaultRestartPolicy {
		spec.RestartPolicy = corev1.RestartPolicyAlways
	}
	if spec.DNSPolicy == "" {
		spec.DNSPolicy = corev1.DNSClusterFirst
	}
	if spec.SchedulerName == "" {
		spec.SchedulerName = corev1.DefaultSchedulerName
	}
	setIfNil(&spec.TerminationGracePeriodSeconds, int64(corev1.DefaultTerminationGracePeriodSeconds))
	if spec.SecurityContext == nil {
		spec.SecurityContext = &corev1.PodSecurityContext{}
	}
	setIfNil(&spec.EnableServiceLinks, corev1.DefaultEnableServiceLinks)
	if spec.DeprecatedServiceAccount == "" && spec.ServiceAccountName != "" {
		spec.DeprecatedServiceAccount = spec.ServiceAccountName
	}
	for i := range spec.InitContainers {
		defaultContainer(&spec.InitContainers[i], spec.HostNetwork)
	}
	for i := range spec.Containers {
		defaultContainer(&spec.Containers[i], spec.HostNetwork)
	}
	for i := range spec.Volumes {
		defaultVolume(&spec.Volumes[i])
	}
}

// defaultContainer sets the per-container defaults.
func defaultContainer(c *corev1.Container, hostNetwork bool) {
	if c.ImagePullPolicy == "" {
		c.ImagePullPolicy = defaultPullPolicy(c.Image)
	}
	if c.TerminationMessagePath == "" {
		c.TerminationMessagePath = corev1.TerminationMessagePathDefault
	}
	if c.TerminationMessagePolicy == "" {
		c.TerminationMessagePolicy = corev1.TerminationMessageReadFile
	}
	for i := range c.Ports {
		p := &c.Ports[i]
		if p.Protocol == "" {
			p.Protocol = corev1.ProtocolTCP
		}
		if hostNetwork && p.HostPort == 0 {
			p.HostPort = p.ContainerPort
		}
	}
	for i := range c.Env {
		if vf := c.Env[i].ValueFrom; vf != nil && vf.FieldRef != nil && vf.FieldRef.APIVersion == "" {
			vf.FieldRef.APIVersion = "v1"
		}
	}
	defaultProbe(c.LivenessProbe)
	defaultProbe(c.ReadinessProbe)
	defaultProbe(c.StartupProbe)
	if c.Lifecycle != nil {
		defaultLifecycleHandler(c.Lifecycle.PostStart)
		defaultLifecycleHandler(c.Lifecycle.PreStop)
	}
}

// defaultPullPolicy is Always for ":latest" or untagged images without a
// digest, IfNotPresent otherwise.
func defaultPullPolicy(image string) corev1.PullPolicy {
	if image == "" {
		return corev1.PullIfNotPresent
	}
	if strings.Contains(image, "@") {
		return corev1.PullIfNotPresent
	}
	// The tag follows the last ':' after the last '/' (a ':' before the last
	// '/' belongs to a registry host:port).
	ref := image
	if i := strings.LastIndex(ref, "/"); i >= 0 {
		ref = ref[i+1:]
	}
	i := strings.LastIndex(ref, ":")
	if i < 0 || ref[i+1:] == "latest" {
		return corev1.PullAlways
	}
	return corev1.PullIfNotPresent
}

// defaultProbe sets probe timing defaults and the httpGet defaults.
func defaultProbe(p *corev1.Probe) {
	if p == nil {
		return
	}
	if p.TimeoutSeconds == 0 {
		p.TimeoutSeconds = 1
	}
	if p.PeriodSeconds == 0 {
		p.PeriodSeconds = 10
	}
	if p.SuccessThreshold == 0 {
		p.SuccessThreshold = 1
	}
	if p.FailureThreshold == 0 {
		p.FailureThreshold = 3
	}
	defaultHTTPGet(p.HTTPGet)
}

// defaultLifecycleHandler sets the httpGet defaults of a lifecycle hook.
func defaultLifecycleHandler(h *corev1.LifecycleHandler) {
	if h != nil {
		defaultHTTPGet(h.HTTPGet)
	}
}

// defaultHTTPGet sets path "/" and scheme HTTP, as Kubernetes does.
func defaultHTTPGet(h *corev1.HTTPGetAction) {
	if h == nil {
		return
	}
	if h.Path == "" {
		h.Path = "/"
	}
	if h.Scheme == "" {
		h.Scheme = corev1.URISchemeHTTP
	}
}

// defaultVolume gives a volume without a source an emptyDir, and file-mode
// defaults to configMap, secret, projected and downwardAPI volumes.
func defaultVolume(v *corev1.Volume) {
	if volumeSourceCount(&v.VolumeSource) == 0 {
		v.VolumeSource = corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}
	}
	if s := v.ConfigMap; s != nil {
		setIfNil(&s.DefaultMode, defaultVolumeMode)
	}
	if s := v.Secret; s != nil {
		setIfNil(&s.DefaultMode, defaultVolumeMode)
	}
	if s := v.Projected; s != nil {
		setIfNil(&s.DefaultMode, defaultVolumeMode)
		for i := range s.Sources {
			if d := s.Sources[i].DownwardAPI; d != nil {
				defaultDownwardItems(d.Items)
			}
		}
	}
	if s := v.DownwardAPI; s != nil {
		setIfNil(&s.DefaultMode, defaultVolumeMode)
		defaultDownwardItems(s.Items)
	}
	if s := v.HostPath; s != nil {
		setIfNil(&s.Type, corev1.HostPathUnset)
	}
}

// defaultDownwardItems sets fieldRef apiVersion "v1" on downward API items.
func defaultDownwardItems(items []corev1.DownwardAPIVolumeFile) {
	for i := range items {
		if f := items[i].FieldRef; f != nil && f.APIVersion == "" {
			f.APIVersion = "v1"
		}
	}
}

// defaultPodOnly sets the defaults Kubernetes applies to pods but not to
// templates: priority (from the built-in system classes, else 0),
// preemptionPolicy, and requests copied from limits.
func defaultPodOnly(spec *corev1.PodSpec) {
	if spec.Priority == nil {
		var prio int32
		switch spec.PriorityClassName {
		case systemClusterCritical:
			prio = systemClusterCriticalValue
		case systemNodeCritical:
			prio = systemNodeCriticalValue
		}
		spec.Priority = &prio
	}
	setIfNil(&spec.PreemptionPolicy, corev1.PreemptLowerPriority)
	for i := range spec.InitContainers {
		requestsFromLimits(&spec.InitContainers[i].Resources)
	}
	for i := range spec.Containers {
		requestsFromLimits(&spec.Containers[i].Resources)
	}
}

// requestsFromLimits copies each limit without a request into the requests.
func requestsFromLimits(r *corev1.ResourceRequirements) {
	for name, q := range r.Limits {
		if _, ok := r.Requests[name]; ok {
			continue
		}
		if r.Requests == nil {
			r.Requests = corev1.ResourceList{}
		}
		r.Requests[name] = q.DeepCopy()
	}
}
