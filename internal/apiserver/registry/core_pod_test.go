package registry

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// createPod runs the create path (PrepareForCreate, Default, Validate).
func createPod(t *testing.T, pod *corev1.Pod) field.ErrorList {
	t.Helper()
	s := byName(t, "v1", "pods").Strategy
	s.PrepareForCreate(pod)
	s.Default(pod)
	return s.Validate(pod)
}

func TestPodDefaults(t *testing.T) {
	pod := &corev1.Pod{ObjectMeta: meta("web"), Spec: corev1.PodSpec{
		InitContainers: []corev1.Container{{Name: "init", Image: "busybox"}},
		Containers: []corev1.Container{{
			Name: "app", Image: "registry:5000/web:1.0",
			Ports:         []corev1.ContainerPort{{ContainerPort: 80}},
			Env:           []corev1.EnvVar{{Name: "NODE", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "spec.nodeName"}}}},
			LivenessProbe: &corev1.Probe{ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Port: intstr.FromInt32(80)}}},
			Resources: corev1.ResourceRequirements{Limits: corev1.ResourceList{
				corev1.ResourceCPU: resource.MustParse("500m"), corev1.ResourceMemory: resource.MustParse("128Mi"),
			}},
		}},
		Volumes: []corev1.Volume{
			{Name: "cfg", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{LocalObjectReference: corev1.LocalObjectReference{Name: "cfg"}}}},
			{Name: "scratch"},
		},
	}}
	wantNoErrs(t, createPod(t, pod))
	s := pod.Spec
	if s.RestartPolicy != corev1.RestartPolicyAlways || s.DNSPolicy != corev1.DNSClusterFirst ||
		s.SchedulerName != "default-scheduler" || *s.TerminationGracePeriodSeconds != 30 ||
		s.SecurityContext == nil || !*s.EnableServiceLinks || *s.Priority != 0 ||
		*s.PreemptionPolicy != corev1.PreemptLowerPriority {
		t.Errorf("pod spec defaults wrong: %+v", s)
	}
	c := s.Containers[0]
	if c.ImagePullPolicy != corev1.PullIfNotPresent || c.TerminationMessagePath != "/dev/termination-log" ||
		c.TerminationMessagePolicy != corev1.TerminationMessageReadFile || c.Ports[0].Protocol != corev1.ProtocolTCP {
		t.Errorf("container defaults wrong: %+v", c)
	}
	if s.InitContainers[0].ImagePullPolicy != corev1.PullAlways {
		t.Errorf("untagged init image pull policy = %s", s.InitContainers[0].ImagePullPolicy)
	}
	if p := c.LivenessProbe; p.TimeoutSeconds != 1 || p.PeriodSeconds != 10 || p.SuccessThreshold != 1 ||
		p.FailureThreshold != 3 || p.HTTPGet.Scheme != corev1.URISchemeHTTP || p.HTTPGet.Path != "/" {
		t.Errorf("probe defaults wrong: %+v", p)
	}
	if c.Env[0].ValueFrom.FieldRef.APIVersion != "v1" {
		t.Errorf("fieldRef apiVersion not defaulted")
	}
	if q := c.Resources.Requests[corev1.ResourceCPU]; q.String() != "500m" {
		t.Errorf("requests not copied from limits: %v", c.Resources.Requests)
	}
	if *s.Volumes[0].ConfigMap.DefaultMode != 420 || s.Volumes[1].EmptyDir == nil {
		t.Errorf("volume defaults wrong: %+v", s.Volumes)
	}
	if pod.Status.Phase != corev1.PodPending || pod.Status.QOSClass != corev1.PodQOSBurstable {
		t.Errorf("status = %+v, want Pending/Burstable", pod.Status)
	}
	tolerated := 0
	for _, tol := range s.Tolerations {
		if tol.Effect == corev1.TaintEffectNoExecute && *tol.TolerationSeconds == 300 {
			tolerated++
		}
	}
	if tolerated != 2 {
		t.Errorf("default not-ready/unreachable tolerations missing: %+v", s.Tolerations)
	}
}

func TestPullPolicy(t *testing.T) {
	for image, want := range map[string]corev1.PullPolicy{
		"nginx": corev1.PullAlways, "nginx:latest": corev1.PullAlways, "nginx:1.27": corev1.PullIfNotPresent,
		"localhost:5000/nginx": corev1.PullAlways, "localhost:5000/nginx:v1": corev1.PullIfNotPresent,
		"nginx@sha256:abcd": corev1.PullIfNotPresent,
	} {
		if got := defaultPullPolicy(image); got != want {
			t.Errorf("defaultPullPolicy(%q) = %s, want %s", image, got, want)
		}
	}
}

func TestPodQOS(t *testing.T) {
	rl := func(cpu, mem string) corev1.ResourceList {
		l := corev1.ResourceList{}
		if cpu != "" {
			l[corev1.ResourceCPU] = resource.MustParse(cpu)
		}
		if mem != "" {
			l[corev1.ResourceMemory] = resource.MustParse(mem)
		}
		return l
	}
	tests := []struct {
		name     string
		req, lim corev1.ResourceList
		want     corev1.PodQOSClass
	}{
		{"none", nil, nil, corev1.PodQOSBestEffort},
		{"limits only", nil, rl("1", "1Gi"), corev1.PodQOSGuaranteed},
		{"equal", rl("1", "1Gi"), rl("1", "1Gi"), corev1.PodQOSGuaranteed},
		{"requests below limits", rl("500m", "1Gi"), rl("1", "1Gi"), corev1.PodQOSBurstable},
		{"cpu limit only", nil, rl("1", ""), corev1.PodQOSBurstable},
	}
	for _, tc := range tests {
		spec := simplePodSpec()
		spec.Containers[0].Resources = corev1.ResourceRequirements{Requests: tc.req, Limits: tc.lim}
		if got := podQOS(&spec); got != tc.want {
			t.Errorf("%s: podQOS = %s, want %s", tc.name, got, tc.want)
		}
	}
}

func TestPodValidation(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(*corev1.Pod)
		path   string
		typ    field.ErrorType
		detail string
	}{
		{"no containers", func(p *corev1.Pod) { p.Spec.Containers = nil }, "spec.containers", field.ErrorTypeRequired, ""},
		{"missing image", func(p *corev1.Pod) { p.Spec.Containers[0].Image = "" }, "spec.containers[0].image", field.ErrorTypeRequired, ""},
		{"bad name", func(p *corev1.Pod) { p.Name = "Web_1" }, "metadata.name", field.ErrorTypeInvalid, "RFC 1123"},
		{"bad label", func(p *corev1.Pod) { p.Labels = map[string]string{"app": "a b"} }, "metadata.labels", field.ErrorTypeInvalid, ""},
		{"bad container name", func(p *corev1.Pod) { p.Spec.Containers[0].Name = "App" }, "spec.containers[0].name", field.ErrorTypeInvalid, ""},
		{"duplicate container", func(p *corev1.Pod) {
			p.Spec.InitContainers = []corev1.Container{{Name: "app", Image: "x"}}
		}, "spec.containers[0].name", field.ErrorTypeDuplicate, ""},
		{"port too big", func(p *corev1.Pod) {
			p.Spec.Containers[0].Ports = []corev1.ContainerPort{{ContainerPort: 70000}}
		}, "spec.containers[0].ports[0].containerPort", field.ErrorTypeInvalid, "between 1 and 65535"},
		{"port missing", func(p *corev1.Pod) {
			p.Spec.Containers[0].Ports = []corev1.ContainerPort{{Name: "http"}}
		}, "spec.containers[0].ports[0].containerPort", field.ErrorTypeRequired, ""},
		{"bad protocol", func(p *corev1.Pod) {
			p.Spec.Containers[0].Ports = []corev1.ContainerPort{{ContainerPort: 80, Protocol: "HTTP"}}
		}, "spec.containers[0].ports[0].protocol", field.ErrorTypeNotSupported, `"SCTP"`},
		{"duplicate port name", func(p *corev1.Pod) {
			p.Spec.Containers[0].Ports = []corev1.ContainerPort{{Name: "http", ContainerPort: 80}, {Name: "http", ContainerPort: 81}}
		}, "spec.containers[0].ports[1].name", field.ErrorTypeDuplicate, ""},
		{"restart policy", func(p *corev1.Pod) { p.Spec.RestartPolicy = "Sometimes" }, "spec.restartPolicy", field.ErrorTypeNotSupported, ""},
		{"requests above limits", func(p *corev1.Pod) {
			p.Spec.Containers[0].Resources = corev1.ResourceRequirements{
				Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("2")},
				Limits:   corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("1")},
			}
		}, "spec.containers[0].resources.requests[cpu]", field.ErrorTypeInvalid, "less than or equal to cpu limit"},
		{"negative quantity", func(p *corev1.Pod) {
			p.Spec.Containers[0].Resources.Limits = corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("-1")}
		}, "spec.containers[0].resources.limits[memory]", field.ErrorTypeInvalid, "greater than or equal to 0"},
		{"env name", func(p *corev1.Pod) {
			p.Spec.Containers[0].Env = []corev1.EnvVar{{Name: "A=B"}}
		}, "spec.containers[0].env[0].name", field.ErrorTypeInvalid, ""},
		{"unknown volume mount", func(p *corev1.Pod) {
			p.Spec.Containers[0].VolumeMounts = []corev1.VolumeMount{{Name: "data", MountPath: "/data"}}
		}, "spec.containers[0].volumeMounts[0].name", field.ErrorTypeNotFound, ""},
		{"mount path", func(p *corev1.Pod) {
			p.Spec.Volumes = []corev1.Volume{{Name: "data"}}
			p.Spec.Containers[0].VolumeMounts = []corev1.VolumeMount{{Name: "data"}}
		}, "spec.containers[0].volumeMounts[0].mountPath", field.ErrorTypeRequired, ""},
		{"two volume sources", func(p *corev1.Pod) {
			p.Spec.Volumes = []corev1.Volume{{Name: "data", VolumeSource: corev1.VolumeSource{
				EmptyDir: &corev1.EmptyDirVolumeSource{}, HostPath: &corev1.HostPathVolumeSource{Path: "/x"}}}}
		}, "spec.volumes[0]", field.ErrorTypeForbidden, "more than 1 volume type"},
		{"duplicate volume", func(p *corev1.Pod) {
			p.Spec.Volumes = []corev1.Volume{{Name: "data"}, {Name: "data"}}
		}, "spec.volumes[1].name", field.ErrorTypeDuplicate, ""},
		{"probe without handler", func(p *corev1.Pod) {
			p.Spec.Containers[0].ReadinessProbe = &corev1.Probe{}
		}, "spec.containers[0].readinessProbe", field.ErrorTypeRequired, "handler"},
		{"grace period", func(p *corev1.Pod) {
			p.Spec.TerminationGracePeriodSeconds = ptrTo(int64(-5))
		}, "spec.terminationGracePeriodSeconds", field.ErrorTypeInvalid, ""},
		{"node selector", func(p *corev1.Pod) {
			p.Spec.NodeSelector = map[string]string{"bad key!": "x"}
		}, "spec.nodeSelector", field.ErrorTypeInvalid, ""},
		{"toleration operator", func(p *corev1.Pod) {
			p.Spec.Tolerations = []corev1.Toleration{{Key: "k", Operator: "Maybe"}}
		}, "spec.tolerations[0].operator", field.ErrorTypeNotSupported, ""},
		{"toleration effect", func(p *corev1.Pod) {
			p.Spec.Tolerations = []corev1.Toleration{{Key: "k", Operator: "Exists", Effect: "Sometimes"}}
		}, "spec.tolerations[0].effect", field.ErrorTypeNotSupported, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			pod := &corev1.Pod{ObjectMeta: meta("web"), Spec: simplePodSpec()}
			tc.mutate(pod)
			wantErr(t, createPod(t, pod), tc.path, tc.typ, tc.detail)
		})
	}
}

func TestPodUpdate(t *testing.T) {
	s := byName(t, "v1", "pods").Strategy
	newPod := func() *corev1.Pod {
		pod := &corev1.Pod{ObjectMeta: meta("web"), Spec: simplePodSpec()}
		s.PrepareForCreate(pod)
		s.Default(pod)
		return pod
	}
	update := func(mutate func(*corev1.Pod)) field.ErrorList {
		old := newPod()
		pod := old.DeepCopy()
		mutate(pod)
		s.PrepareForUpdate(pod, old)
		s.Default(pod)
		return s.ValidateUpdate(pod, old)
	}
	wantNoErrs(t, update(func(p *corev1.Pod) { p.Spec.Containers[0].Image = "nginx:1.28" }))
	wantNoErrs(t, update(func(p *corev1.Pod) { p.Spec.ActiveDeadlineSeconds = ptrTo(int64(60)) }))
	wantNoErrs(t, update(func(p *corev1.Pod) {
		p.Spec.Tolerations = append(p.Spec.Tolerations, corev1.Toleration{Key: "gpu", Operator: "Exists"})
	}))
	wantNoErrs(t, update(func(p *corev1.Pod) { p.Labels = map[string]string{"tier": "web"} }))

	errs := update(func(p *corev1.Pod) {
		p.Spec.Containers[0].Ports = []corev1.ContainerPort{{ContainerPort: 80}}
	})
	wantErr(t, errs, "spec", field.ErrorTypeForbidden, "pod updates may not change fields other than")
	wantErr(t, errs, "spec", field.ErrorTypeForbidden, "spec.containers[0].ports")
	wantErr(t, update(func(p *corev1.Pod) {
		p.Spec.Tolerations[0].TolerationSeconds = ptrTo(int64(10))
	}), "spec", field.ErrorTypeForbidden, "only additions")
	wantErr(t, update(func(p *corev1.Pod) { p.Spec.Containers[0].Image = "" }), "spec.containers[0].image", field.ErrorTypeRequired, "")
	// spec.nodeName is set through the binding subresource only.
	wantErr(t, update(func(p *corev1.Pod) { p.Spec.NodeName = "node-a" }), "spec", field.ErrorTypeForbidden, "spec.nodeName")

	// Status cannot change through the main resource; spec cannot change
	// through the status subresource.
	old := newPod()
	pod := old.DeepCopy()
	pod.Status.Phase = corev1.PodRunning
	s.PrepareForUpdate(pod, old)
	if pod.Status.Phase != corev1.PodPending {
		t.Errorf("PrepareForUpdate kept the new status")
	}
	pod = old.DeepCopy()
	pod.Status.Phase = corev1.PodRunning
	pod.Spec.Containers[0].Image = "other"
	s.PrepareForStatusUpdate(pod, old)
	if pod.Status.Phase != corev1.PodRunning || pod.Spec.Containers[0].Image != "nginx:1.27" {
		t.Errorf("PrepareForStatusUpdate: %+v", pod)
	}
}
