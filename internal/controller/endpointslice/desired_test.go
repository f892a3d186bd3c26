package endpointslice

import (
	"fmt"
	"reflect"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
)

func testPod(name, ip string, mods ...func(*corev1.Pod)) *corev1.Pod {
	p := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "ns", UID: types.UID("uid-" + name), Labels: map[string]string{"app": "web"}},
		Spec: corev1.PodSpec{NodeName: "n1", Containers: []corev1.Container{{Name: "c",
			Ports: []corev1.ContainerPort{{Name: "http", ContainerPort: 8080}}}}},
		Status: corev1.PodStatus{Phase: corev1.PodRunning, PodIP: ip, Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue}}},
	}
	if ip != "" {
		p.Status.PodIPs = []corev1.PodIP{{IP: ip}}
	}
	for _, m := range mods {
		m(p)
	}
	return p
}

func testService(mods ...func(*corev1.Service)) *corev1.Service {
	s := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "ns", UID: "svc-uid", Labels: map[string]string{"tier": "front"}},
		Spec: corev1.ServiceSpec{Selector: map[string]string{"app": "web"}, ClusterIP: "10.96.0.10", IPFamilies: []corev1.IPFamily{corev1.IPv4Protocol},
			Ports: []corev1.ServicePort{{Name: "http", Port: 80, Protocol: corev1.ProtocolTCP, TargetPort: intstr.FromString("http")}}},
	}
	for _, m := range mods {
		m(s)
	}
	return s
}

func notReady(p *corev1.Pod) { p.Status.Conditions[0].Status = corev1.ConditionFalse }

func terminating(p *corev1.Pod) { now := metav1.Now(); p.DeletionTimestamp = &now }

func altPort(p *corev1.Pod) { p.Spec.Containers[0].Ports[0].ContainerPort = 9090 }

// renderEndpoint is "ip name r/s/t" with the three conditions as 0/1.
func renderEndpoint(ep discoveryv1.Endpoint) string {
	b := func(p *bool) string {
		if p != nil && *p {
			return "1"
		}
		return "0"
	}
	c := ep.Conditions
	return fmt.Sprintf("%s %s %s%s%s", strings.Join(ep.Addresses, ","), ep.TargetRef.Name, b(c.Ready), b(c.Serving), b(c.Terminating))
}

func renderGroups(groups map[discoveryv1.AddressType][]Group) []string {
	var out []string
	for _, at := range []discoveryv1.AddressType{discoveryv1.AddressTypeIPv4, discoveryv1.AddressTypeIPv6} {
		gs, ok := groups[at]
		if !ok {
			continue
		}
		if len(gs) == 0 {
			out = append(out, string(at)+" -")
		}
		for _, g := range gs {
			var eps []string
			for _, ep := range g.Endpoints {
				eps = append(eps, renderEndpoint(ep))
			}
			out = append(out, string(at)+" "+PortsKey(g.Ports)+" "+strings.Join(eps, "; "))
		}
	}
	return out
}

func TestDesiredGroups(t *testing.T) {
	cases := []struct {
		name string
		svc  *corev1.Service
		pods []*corev1.Pod
		want []string
	}{
		{"ready, not ready, terminating", testService(), []*corev1.Pod{
			testPod("a", "10.0.0.1"), testPod("b", "10.0.0.2", notReady), testPod("c", "10.0.0.3", terminating), testPod("d", "10.0.0.4", terminating, notReady)},
			[]string{"IPv4 http/TCP/8080; 10.0.0.1 a 110; 10.0.0.2 b 000; 10.0.0.3 c 011; 10.0.0.4 d 001"}},
		{"publishNotReadyAddresses makes all ready", testService(func(s *corev1.Service) { s.Spec.PublishNotReadyAddresses = true }),
			[]*corev1.Pod{testPod("b", "10.0.0.2", notReady), testPod("c", "10.0.0.3", terminating)},
			[]string{"IPv4 http/TCP/8080; 10.0.0.2 b 100; 10.0.0.3 c 111"}},
		{"no pods gives an empty list", testService(), nil, []string{"IPv4 -"}},
		{"pods without IP and finished pods skipped", testService(), []*corev1.Pod{
			testPod("a", ""), testPod("b", "10.0.0.2", func(p *corev1.Pod) { p.Status.Phase = corev1.PodFailed })}, []string{"IPv4 -"}},
		{"named targetPort per pod, groups by port set", testService(), []*corev1.Pod{
			testPod("a", "10.0.0.1"), testPod("b", "10.0.0.2", altPort), testPod("c", "10.0.0.3", func(p *corev1.Pod) { p.Spec.Containers[0].Ports = nil })},
			[]string{"IPv4  10.0.0.3 c 110", "IPv4 http/TCP/8080; 10.0.0.1 a 110", "IPv4 http/TCP/9090; 10.0.0.2 b 110"}},
		{"multiple ports", testService(func(s *corev1.Service) {
			s.Spec.Ports = append(s.Spec.Ports, corev1.ServicePort{Name: "dns", Port: 53, Protocol: corev1.ProtocolUDP, TargetPort: intstr.FromInt32(5353)})
		}), []*corev1.Pod{testPod("a", "10.0.0.1")}, []string{"IPv4 http/TCP/8080;dns/UDP/5353; 10.0.0.1 a 110"}},
		{"dual stack", testService(func(s *corev1.Service) {
			s.Spec.IPFamilies = []corev1.IPFamily{corev1.IPv4Protocol, corev1.IPv6Protocol}
		}),
			[]*corev1.Pod{testPod("a", "10.0.0.1", func(p *corev1.Pod) { p.Status.PodIPs = append(p.Status.PodIPs, corev1.PodIP{IP: "fd00::1"}) })},
			[]string{"IPv4 http/TCP/8080; 10.0.0.1 a 110", "IPv6 http/TCP/8080; fd00::1 a 110"}},
		{"ExternalName publishes nothing", testService(func(s *corev1.Service) { s.Spec.Type = corev1.ServiceTypeExternalName }),
			[]*corev1.Pod{testPod("a", "10.0.0.1")}, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			groups := DesiredGroups(tc.svc, tc.pods)
			if got := renderGroups(groups); !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("got  %q\nwant %q", got, tc.want)
			}
			for _, gs := range groups {
				for _, g := range gs {
					for _, ep := range g.Endpoints {
						if ep.NodeName == nil || *ep.NodeName != "n1" || ep.TargetRef.Kind != "Pod" || ep.TargetRef.Namespace != "ns" || ep.Zone != nil {
							t.Errorf("bad endpoint %+v", ep)
						}
					}
				}
			}
		})
	}
}

func TestDesiredLabelsAndOwner(t *testing.T) {
	svc := testService(func(s *corev1.Service) {
		s.Spec.ClusterIP = "None"
		s.Labels[discoveryv1.LabelManagedBy] = "someone-else"
	})
	want := map[string]string{"tier": "front", corev1.IsHeadlessService: "", discoveryv1.LabelServiceName: "web", discoveryv1.LabelManagedBy: ManagedBy}
	if got := DesiredLabels(svc); !reflect.DeepEqual(got, want) {
		t.Fatalf("labels %v", got)
	}
	s := newSlice(svc, discoveryv1.AddressTypeIPv4, nil, nil)
	ref := s.OwnerReferences[0]
	if s.GenerateName != "web-" || ref.Kind != "Service" || ref.APIVersion != "v1" || ref.UID != "svc-uid" || !*ref.Controller || !*ref.BlockOwnerDeletion {
		t.Fatalf("slice meta %+v", s.ObjectMeta)
	}
	if !OwnedBy(s, svc) || OwnedBy(s, testService(func(s *corev1.Service) { s.UID = "other" })) {
		t.Fatal("OwnedBy")
	}
}
