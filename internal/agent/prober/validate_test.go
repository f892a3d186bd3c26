package prober

import (
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

func TestValidate(t *testing.T) {
	ports := []corev1.ContainerPort{{Name: "http", ContainerPort: 8080}}
	httpGet := func(port intstr.IntOrString) corev1.ProbeHandler {
		return corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Port: port, Path: "/"}}
	}
	neg := int64(-1)
	tests := []struct {
		name  string
		probe *corev1.Probe
		want  []string // substrings of the error; none means valid
	}{
		{"nil probe", nil, nil},
		{"http by name", &corev1.Probe{ProbeHandler: httpGet(intstr.FromString("http"))}, nil},
		{"http by number", &corev1.Probe{ProbeHandler: httpGet(intstr.FromInt32(80))}, nil},
		{"exec", &corev1.Probe{ProbeHandler: corev1.ProbeHandler{Exec: &corev1.ExecAction{Command: []string{"true"}}}}, nil},
		{"grpc", &corev1.Probe{ProbeHandler: corev1.ProbeHandler{GRPC: &corev1.GRPCAction{Port: 9090}}}, nil},
		{"defaults as zero", &corev1.Probe{ProbeHandler: httpGet(intstr.FromInt32(80)), TimeoutSeconds: 0, PeriodSeconds: 0}, nil},
		{"bad port name", &corev1.Probe{ProbeHandler: httpGet(intstr.FromString("web"))},
			[]string{`liveness.httpGet.port: Invalid value: "web": no container port named "web"`}},
		{"port out of range", &corev1.Probe{ProbeHandler: httpGet(intstr.FromInt32(0))}, []string{"liveness.httpGet.port", "not in 1-65535"}},
		{"empty port name", &corev1.Probe{ProbeHandler: corev1.ProbeHandler{TCPSocket: &corev1.TCPSocketAction{Port: intstr.FromString("")}}},
			[]string{"liveness.tcpSocket.port: Required value"}},
		{"tcp bad name", &corev1.Probe{ProbeHandler: corev1.ProbeHandler{TCPSocket: &corev1.TCPSocketAction{Port: intstr.FromString("db")}}},
			[]string{"liveness.tcpSocket.port", `no container port named "db"`}},
		{"no handler", &corev1.Probe{}, []string{"liveness: Required value: must specify a handler type"}},
		{"two handlers", &corev1.Probe{ProbeHandler: corev1.ProbeHandler{
			Exec: &corev1.ExecAction{Command: []string{"true"}}, TCPSocket: &corev1.TCPSocketAction{Port: intstr.FromInt32(80)}}},
			[]string{"liveness: Forbidden: may not specify more than 1 handler type (found exec, tcpSocket)"}},
		{"empty command", &corev1.Probe{ProbeHandler: corev1.ProbeHandler{Exec: &corev1.ExecAction{}}}, []string{"liveness.exec.command: Required value"}},
		{"bad scheme", &corev1.Probe{ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Port: intstr.FromInt32(80), Scheme: "FTP"}}},
			[]string{"liveness.httpGet.scheme: Unsupported value"}},
		{"bad header", &corev1.Probe{ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Port: intstr.FromInt32(80),
			HTTPHeaders: []corev1.HTTPHeader{{Name: "bad header", Value: "x"}}}}}, []string{"liveness.httpGet.httpHeaders[0].name"}},
		{"grpc port", &corev1.Probe{ProbeHandler: corev1.ProbeHandler{GRPC: &corev1.GRPCAction{Port: 0}}}, []string{"liveness.grpc.port"}},
		{"negative values", &corev1.Probe{ProbeHandler: httpGet(intstr.FromInt32(80)), InitialDelaySeconds: -1, TimeoutSeconds: -1,
			PeriodSeconds: -1, SuccessThreshold: -1, FailureThreshold: -1, TerminationGracePeriodSeconds: &neg},
			[]string{"liveness.initialDelaySeconds: Invalid value: -1", "liveness.timeoutSeconds", "liveness.periodSeconds",
				"liveness.successThreshold", "liveness.failureThreshold", "liveness.terminationGracePeriodSeconds"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := Validate(tc.probe, ports, field.NewPath("liveness"))
			if len(tc.want) == 0 {
				if err != nil {
					t.Fatalf("Validate = %v, want nil", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("Validate = nil, want %q", tc.want)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("Validate = %q, want it to contain %q", err, w)
				}
			}
		})
	}
}

func TestValidateContainer(t *testing.T) {
	tcp := func(port intstr.IntOrString, success int32) *corev1.Probe {
		return &corev1.Probe{ProbeHandler: corev1.ProbeHandler{TCPSocket: &corev1.TCPSocketAction{Port: port}}, SuccessThreshold: success}
	}
	tests := []struct {
		name string
		c    corev1.Container
		want []string
	}{
		{"no probes", corev1.Container{Name: "c"}, nil},
		{"all valid", corev1.Container{Name: "c", Ports: []corev1.ContainerPort{{Name: "p", ContainerPort: 1}},
			StartupProbe: tcp(intstr.FromString("p"), 1), LivenessProbe: tcp(intstr.FromString("p"), 0), ReadinessProbe: tcp(intstr.FromInt32(2), 3)}, nil},
		{"liveness success threshold", corev1.Container{Name: "c", LivenessProbe: tcp(intstr.FromInt32(1), 2)},
			[]string{"spec.containers[0].livenessProbe.successThreshold: Invalid value: 2: must be 1"}},
		{"startup success threshold", corev1.Container{Name: "c", StartupProbe: tcp(intstr.FromInt32(1), 2)},
			[]string{"spec.containers[0].startupProbe.successThreshold"}},
		{"readiness bad port", corev1.Container{Name: "c", ReadinessProbe: tcp(intstr.FromString("x"), 1)},
			[]string{"spec.containers[0].readinessProbe.tcpSocket.port"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := ValidateContainer(&tc.c, field.NewPath("spec", "containers").Index(0))
			if len(tc.want) == 0 {
				if err != nil {
					t.Fatalf("ValidateContainer = %v, want nil", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("ValidateContainer = nil, want %q", tc.want)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("ValidateContainer = %q, want it to contain %q", err, w)
				}
			}
		})
	}
}
