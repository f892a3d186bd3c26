package registry

import (
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

func TestBerthAnnotationsAreValidated(t *testing.T) {
	tests := []struct {
		annotations map[string]string
		want        string // "" means valid
	}{
		{map[string]string{AnnotationLBPolicy: "p2c-ewma", AnnotationLBMode: "http", AnnotationProxyProtocol: "v2", AnnotationLBWeight: "3"}, ""},
		{map[string]string{"example.com/other": "anything"}, ""},
		{map[string]string{AnnotationLBPolicy: "fastest"}, `metadata.annotations[berth.io/lb-policy]: Invalid value: "fastest": unknown load-balancing policy "fastest": want one of random, round-robin, weighted, least-connections, p2c-ewma`},
		{map[string]string{AnnotationLBMode: "grpc"}, `unknown load-balancing mode "grpc": want tcp or http`},
		{map[string]string{AnnotationProxyProtocol: "v1"}, `unsupported PROXY protocol version "v1": want v2`},
		{map[string]string{AnnotationLBWeight: "0"}, `invalid load-balancing weight "0": want an integer from 1 to 1000`},
	}
	for _, tc := range tests {
		errs := validateBerthAnnotations(tc.annotations, field.NewPath("metadata", "annotations"))
		switch {
		case tc.want == "" && len(errs) > 0:
			t.Errorf("%v: unexpected %v", tc.annotations, errs)
		case tc.want != "" && (len(errs) != 1 || !strings.Contains(errs[0].Error(), tc.want)):
			t.Errorf("%v: got %v, want %q", tc.annotations, errs, tc.want)
		}
	}
	// Through the strategies: a Service, and a Deployment's pod template.
	s := byName(t, "v1", "services").Strategy
	svc := newService(func(svc *corev1.Service) { svc.Annotations = map[string]string{AnnotationLBPolicy: "fastest"} })
	s.PrepareForCreate(svc)
	s.Default(svc)
	if errs := s.Validate(svc); len(errs) != 1 || errs[0].Field != "metadata.annotations[berth.io/lb-policy]" {
		t.Errorf("service: %v", errs)
	}
	tmpl := &corev1.PodTemplateSpec{}
	tmpl.Annotations = map[string]string{AnnotationLBWeight: "-1"}
	tmpl.Labels = map[string]string{"app": "x"}
	tmpl.Spec.Containers = []corev1.Container{{Name: "c", Image: "i", ImagePullPolicy: corev1.PullAlways, TerminationMessagePolicy: corev1.TerminationMessageReadFile}}
	tmpl.Spec.RestartPolicy, tmpl.Spec.DNSPolicy = corev1.RestartPolicyAlways, corev1.DNSClusterFirst
	found := false
	for _, e := range validatePodTemplate(tmpl, field.NewPath("spec", "template")) {
		found = found || e.Field == "spec.template.metadata.annotations[berth.io/lb-weight]"
	}
	if !found {
		t.Errorf("pod template weight -1 not reported: %v", validatePodTemplate(tmpl, field.NewPath("spec", "template")))
	}
}
