package registry

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

func newService(mutate func(*corev1.Service)) *corev1.Service {
	svc := &corev1.Service{ObjectMeta: meta("web"), Spec: corev1.ServiceSpec{
		Selector: map[string]string{"app": "web"},
		Ports:    []corev1.ServicePort{{Port: 80}},
	}}
	if mutate != nil {
		mutate(svc)
	}
	return svc
}

func TestServiceDefaults(t *testing.T) {
	s := byName(t, "v1", "services").Strategy
	svc := newService(func(svc *corev1.Service) {
		svc.Spec.Type = corev1.ServiceTypeNodePort
		svc.Spec.SessionAffinity = corev1.ServiceAffinityClientIP
		svc.Spec.Ports = append(svc.Spec.Ports, corev1.ServicePort{Name: "https", Port: 443, TargetPort: intstr.FromString("tls")})
		svc.Spec.Ports[0].Name = "http"
	})
	s.PrepareForCreate(svc)
	s.Default(svc)
	wantNoErrs(t, s.Validate(svc))
	sp := svc.Spec
	if sp.Ports[0].Protocol != corev1.ProtocolTCP || sp.Ports[0].TargetPort != intstr.FromInt32(80) ||
		sp.Ports[1].TargetPort != intstr.FromString("tls") {
		t.Errorf("port defaults wrong: %+v", sp.Ports)
	}
	if *sp.SessionAffinityConfig.ClientIP.TimeoutSeconds != 10800 || *sp.InternalTrafficPolicy != corev1.ServiceInternalTrafficPolicyCluster ||
		sp.ExternalTrafficPolicy != corev1.ServiceExternalTrafficPolicyCluster || *sp.IPFamilyPolicy != corev1.IPFamilyPolicySingleStack ||
		len(sp.IPFamilies) != 1 || sp.IPFamilies[0] != corev1.IPv4Protocol {
		t.Errorf("spec defaults wrong: %+v", sp)
	}
	if sp.ClusterIP != "" {
		t.Errorf("clusterIP must be left to the handler, got %q", sp.ClusterIP)
	}

	plain := newService(nil)
	s.Default(plain)
	if plain.Spec.Type != corev1.ServiceTypeClusterIP || plain.Spec.SessionAffinity != corev1.ServiceAffinityNone ||
		plain.Spec.ExternalTrafficPolicy != "" || plain.Spec.SessionAffinityConfig != nil {
		t.Errorf("ClusterIP defaults wrong: %+v", plain.Spec)
	}
}

func TestServiceValidation(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(*corev1.Service)
		path   string
		typ    field.ErrorType
		detail string
	}{
		{"no ports", func(s *corev1.Service) { s.Spec.Ports = nil }, "spec.ports", field.ErrorTypeRequired, ""},
		{"bad port", func(s *corev1.Service) { s.Spec.Ports[0].Port = 0 }, "spec.ports[0].port", field.ErrorTypeInvalid, "between 1 and 65535"},
		{"name not dns-1035", func(s *corev1.Service) { s.Name = "1web" }, "metadata.name", field.ErrorTypeInvalid, "DNS-1035 label"},
		{"unnamed ports", func(s *corev1.Service) {
			s.Spec.Ports = []corev1.ServicePort{{Name: "http", Port: 80}, {Port: 443}}
		}, "spec.ports[1].name", field.ErrorTypeRequired, ""},
		{"duplicate port names", func(s *corev1.Service) {
			s.Spec.Ports = []corev1.ServicePort{{Name: "http", Port: 80}, {Name: "http", Port: 81}}
		}, "spec.ports[1].name", field.ErrorTypeDuplicate, ""},
		{"protocol", func(s *corev1.Service) { s.Spec.Ports[0].Protocol = "ICMP" }, "spec.ports[0].protocol", field.ErrorTypeNotSupported, ""},
		{"type", func(s *corev1.Service) { s.Spec.Type = "Public" }, "spec.type", field.ErrorTypeNotSupported, ""},
		{"nodePort on ClusterIP", func(s *corev1.Service) { s.Spec.Ports[0].NodePort = 30080 }, "spec.ports[0].nodePort", field.ErrorTypeForbidden, "ClusterIP"},
		{"nodePort range", func(s *corev1.Service) {
			s.Spec.Type = corev1.ServiceTypeNodePort
			s.Spec.Ports[0].NodePort = 80
		}, "spec.ports[0].nodePort", field.ErrorTypeInvalid, "30000-32767"},
		{"target port name", func(s *corev1.Service) { s.Spec.Ports[0].TargetPort = intstr.FromString("not a name") }, "spec.ports[0].targetPort", field.ErrorTypeInvalid, ""},
		{"target port number", func(s *corev1.Service) { s.Spec.Ports[0].TargetPort = intstr.FromInt32(70000) }, "spec.ports[0].targetPort", field.ErrorTypeInvalid, ""},
		{"external name", func(s *corev1.Service) { s.Spec.Type = corev1.ServiceTypeExternalName }, "spec.externalName", field.ErrorTypeRequired, ""},
		{"selector", func(s *corev1.Service) { s.Spec.Selector = map[string]string{"app": "-bad-"} }, "spec.selector", field.ErrorTypeInvalid, ""},
		{"affinity", func(s *corev1.Service) { s.Spec.SessionAffinity = "Cookie" }, "spec.sessionAffinity", field.ErrorTypeNotSupported, ""},
		{"cluster IP", func(s *corev1.Service) { s.Spec.ClusterIP = "10.0.0.300" }, "spec.clusterIP", field.ErrorTypeInvalid, ""},
	}
	s := byName(t, "v1", "services").Strategy
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			svc := newService(tc.mutate)
			s.PrepareForCreate(svc)
			s.Default(svc)
			wantErr(t, s.Validate(svc), tc.path, tc.typ, tc.detail)
		})
	}

	headless := newService(func(s *corev1.Service) { s.Spec.ClusterIP = corev1.ClusterIPNone; s.Spec.Ports = nil })
	s.Default(headless)
	wantNoErrs(t, s.Validate(headless))
	ext := newService(func(s *corev1.Service) {
		s.Spec.Type = corev1.ServiceTypeExternalName
		s.Spec.ExternalName = "db.example.com"
		s.Spec.Ports = nil
	})
	s.Default(ext)
	wantNoErrs(t, s.Validate(ext))
}

func TestServiceUpdate(t *testing.T) {
	s := byName(t, "v1", "services").Strategy
	old := newService(func(s *corev1.Service) { s.Spec.Type = corev1.ServiceTypeNodePort })
	s.Default(old)
	old.Spec.ClusterIP, old.Spec.ClusterIPs = "10.96.0.10", []string{"10.96.0.10"}
	old.Spec.Ports[0].NodePort = 30080

	// A client resending its original manifest keeps the allocated values.
	svc := newService(func(s *corev1.Service) { s.Spec.Type = corev1.ServiceTypeNodePort })
	s.PrepareForUpdate(svc, old)
	s.Default(svc)
	wantNoErrs(t, s.ValidateUpdate(svc, old))
	if svc.Spec.ClusterIP != "10.96.0.10" || svc.Spec.Ports[0].NodePort != 30080 {
		t.Errorf("allocated values lost: %+v", svc.Spec)
	}

	svc = old.DeepCopy()
	svc.Spec.ClusterIP, svc.Spec.ClusterIPs = "10.96.0.11", nil
	s.PrepareForUpdate(svc, old)
	s.Default(svc)
	errs := s.ValidateUpdate(svc, old)
	wantErr(t, errs, "spec.clusterIP", field.ErrorTypeInvalid, "field is immutable")
	if e := errs[0].Error(); e != `spec.clusterIP: Invalid value: "10.96.0.11": field is immutable` {
		t.Errorf("error = %q", e)
	}

	// Switching to ClusterIP drops the unchanged node port and traffic policy.
	svc = old.DeepCopy()
	svc.Spec.Type = corev1.ServiceTypeClusterIP
	s.PrepareForUpdate(svc, old)
	s.Default(svc)
	wantNoErrs(t, s.ValidateUpdate(svc, old))
	if svc.Spec.Ports[0].NodePort != 0 || svc.Spec.ExternalTrafficPolicy != "" {
		t.Errorf("type-dependent fields kept: %+v", svc.Spec)
	}

	// Switching to ExternalName releases the cluster IP.
	svc = old.DeepCopy()
	svc.Spec.Type, svc.Spec.ExternalName = corev1.ServiceTypeExternalName, "db.example.com"
	s.PrepareForUpdate(svc, old)
	s.Default(svc)
	wantNoErrs(t, s.ValidateUpdate(svc, old))
	if svc.Spec.ClusterIP != "" {
		t.Errorf("ExternalName kept clusterIP %q", svc.Spec.ClusterIP)
	}
}

func TestServiceTable(t *testing.T) {
	table := byName(t, "v1", "services").Strategy.Table
	tests := []struct {
		name                         string
		svc                          *corev1.Service
		typ, clusterIP, external, ps string
		selector                     string
	}{
		{"cluster ip", newService(func(s *corev1.Service) {
			s.Spec.Type, s.Spec.ClusterIP = corev1.ServiceTypeClusterIP, "10.96.0.10"
			s.Spec.Ports[0].Protocol = corev1.ProtocolTCP
		}), "ClusterIP", "10.96.0.10", "<none>", "80/TCP", "app=web"},
		{"node port", newService(func(s *corev1.Service) {
			s.Spec.Type, s.Spec.ClusterIP = corev1.ServiceTypeNodePort, "10.96.0.11"
			s.Spec.Selector = map[string]string{"tier": "fe", "app": "web"}
			s.Spec.Ports = []corev1.ServicePort{{Port: 80, NodePort: 30080, Protocol: "TCP"}, {Port: 443, Protocol: "TCP"}}
		}), "NodePort", "10.96.0.11", "<none>", "80:30080/TCP,443/TCP", "app=web,tier=fe"},
		{"pending lb", newService(func(s *corev1.Service) {
			s.Spec.Type, s.Spec.ClusterIP = corev1.ServiceTypeLoadBalancer, "10.96.0.12"
			s.Spec.Ports[0].Protocol, s.Spec.Ports[0].NodePort = "TCP", 31000
		}), "LoadBalancer", "10.96.0.12", "<pending>", "80:31000/TCP", "app=web"},
		{"lb", newService(func(s *corev1.Service) {
			s.Spec.Type, s.Spec.ClusterIP = corev1.ServiceTypeLoadBalancer, "10.96.0.12"
			s.Spec.Ports[0].Protocol = "UDP"
			s.Status.LoadBalancer.Ingress = []corev1.LoadBalancerIngress{{IP: "203.0.113.7"}, {Hostname: "lb.example.com"}}
		}), "LoadBalancer", "10.96.0.12", "203.0.113.7,lb.example.com", "80/UDP", "app=web"},
		{"external ips", newService(func(s *corev1.Service) {
			s.Spec.Type, s.Spec.ClusterIP = corev1.ServiceTypeClusterIP, "10.96.0.13"
			s.Spec.ExternalIPs = []string{"198.51.100.1"}
			s.Spec.Ports[0].Protocol = "TCP"
			s.Spec.Selector = nil
		}), "ClusterIP", "10.96.0.13", "198.51.100.1", "80/TCP", "<none>"},
		{"external name", newService(func(s *corev1.Service) {
			s.Spec.Type, s.Spec.ExternalName, s.Spec.Ports = corev1.ServiceTypeExternalName, "db.example.com", nil
		}), "ExternalName", "<none>", "db.example.com", "<none>", "app=web"},
	}
	for _, tc := range tests {
		row := table.Row(tc.svc)
		want := []interface{}{"web", tc.typ, tc.clusterIP, tc.external, tc.ps, "<unknown>", tc.selector}
		for i := range want {
			if row[i] != want[i] {
				t.Errorf("%s: cell %s = %#v, want %#v", tc.name, table.Columns[i].Name, row[i], want[i])
			}
		}
	}
}
