package podaddr

import (
	"reflect"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
)

func testPod(name, ip string, mods ...func(*corev1.Pod)) *corev1.Pod {
	p := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "ns", UID: types.UID("uid-" + name), Labels: map[string]string{"app": "web"}, ResourceVersion: "1"},
		Spec: corev1.PodSpec{NodeName: "n1", Containers: []corev1.Container{{Name: "c",
			Ports: []corev1.ContainerPort{{Name: "http", ContainerPort: 8080}, {Name: "dns", ContainerPort: 5353, Protocol: corev1.ProtocolUDP}}}}},
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
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "ns", UID: "svc-uid"},
		Spec: corev1.ServiceSpec{Selector: map[string]string{"app": "web"}, ClusterIP: "10.96.0.10",
			Ports: []corev1.ServicePort{{Name: "http", Port: 80, Protocol: corev1.ProtocolTCP, TargetPort: intstr.FromString("http")}}},
	}
	for _, m := range mods {
		m(s)
	}
	return s
}

func TestFindPort(t *testing.T) {
	always := corev1.ContainerRestartPolicyAlways
	sidecar := func(p *corev1.Pod) {
		p.Spec.InitContainers = []corev1.Container{{Name: "side", RestartPolicy: &always, Ports: []corev1.ContainerPort{{Name: "metrics", ContainerPort: 9100}}},
			{Name: "init", Ports: []corev1.ContainerPort{{Name: "setup", ContainerPort: 9200}}}}
	}
	cases := []struct {
		name   string
		port   corev1.ServicePort
		want   int32
		wantOK bool
	}{
		{"number", corev1.ServicePort{Port: 80, TargetPort: intstr.FromInt32(9376)}, 9376, true},
		{"unset uses port", corev1.ServicePort{Port: 80}, 80, true},
		{"named", corev1.ServicePort{Port: 80, TargetPort: intstr.FromString("http")}, 8080, true},
		{"named default protocol matches TCP", corev1.ServicePort{Port: 80, Protocol: corev1.ProtocolTCP, TargetPort: intstr.FromString("http")}, 8080, true},
		{"named UDP", corev1.ServicePort{Port: 53, Protocol: corev1.ProtocolUDP, TargetPort: intstr.FromString("dns")}, 5353, true},
		{"named wrong protocol", corev1.ServicePort{Port: 53, Protocol: corev1.ProtocolTCP, TargetPort: intstr.FromString("dns")}, 0, false},
		{"named missing", corev1.ServicePort{Port: 80, TargetPort: intstr.FromString("grpc")}, 0, false},
		{"named in sidecar", corev1.ServicePort{Port: 91, TargetPort: intstr.FromString("metrics")}, 9100, true},
		{"plain init container ignored", corev1.ServicePort{Port: 92, TargetPort: intstr.FromString("setup")}, 0, false},
	}
	pod := testPod("a", "10.0.0.1", sidecar)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := FindPort(pod, &tc.port)
			if got != tc.want || ok != tc.wantOK {
				t.Fatalf("FindPort = %d, %v; want %d, %v", got, ok, tc.want, tc.wantOK)
			}
		})
	}
}

func TestBackends(t *testing.T) {
	now := metav1.Now()
	cases := []struct {
		name string
		svc  *corev1.Service
		pods []*corev1.Pod
		want []string // "ip name ready terminating ports"
	}{
		{"selected pods sorted by IP", testService(),
			[]*corev1.Pod{testPod("b", "10.0.0.10"), testPod("a", "10.0.0.9")},
			[]string{"10.0.0.9 a true false [http/TCP/8080;]", "10.0.0.10 b true false [http/TCP/8080;]"}},
		{"not selected, other namespace, no IP, finished", testService(),
			[]*corev1.Pod{
				testPod("other", "10.0.0.1", func(p *corev1.Pod) { p.Labels = map[string]string{"app": "db"} }),
				testPod("elsewhere", "10.0.0.2", func(p *corev1.Pod) { p.Namespace = "ns2" }),
				testPod("pending", ""),
				testPod("done", "10.0.0.3", func(p *corev1.Pod) { p.Status.Phase = corev1.PodSucceeded }),
				testPod("failed", "10.0.0.4", func(p *corev1.Pod) { p.Status.Phase = corev1.PodFailed }),
				testPod("ok", "10.0.0.5"),
			},
			[]string{"10.0.0.5 ok true false [http/TCP/8080;]"}},
		{"not ready and terminating are kept", testService(),
			[]*corev1.Pod{
				testPod("nr", "10.0.0.1", func(p *corev1.Pod) { p.Status.Conditions[0].Status = corev1.ConditionFalse }),
				testPod("term", "10.0.0.2", func(p *corev1.Pod) { p.DeletionTimestamp = &now }),
			},
			[]string{"10.0.0.1 nr false false [http/TCP/8080;]", "10.0.0.2 term true true [http/TCP/8080;]"}},
		{"pod lacking named port serves nothing", testService(),
			[]*corev1.Pod{testPod("bare", "10.0.0.1", func(p *corev1.Pod) { p.Spec.Containers[0].Ports = nil })},
			[]string{"10.0.0.1 bare true false []"}},
		{"multiple ports", testService(func(s *corev1.Service) {
			s.Spec.Ports = append(s.Spec.Ports, corev1.ServicePort{Name: "dns", Port: 53, Protocol: corev1.ProtocolUDP, TargetPort: intstr.FromString("dns")},
				corev1.ServicePort{Name: "admin", Port: 81, TargetPort: intstr.FromInt32(9000)})
		}), []*corev1.Pod{testPod("a", "10.0.0.1")},
			[]string{"10.0.0.1 a true false [http/TCP/8080;dns/UDP/5353;admin/TCP/9000;]"}},
		{"IPv6 family picks the v6 address", testService(func(s *corev1.Service) { s.Spec.IPFamilies = []corev1.IPFamily{corev1.IPv6Protocol} }),
			[]*corev1.Pod{testPod("dual", "10.0.0.1", func(p *corev1.Pod) { p.Status.PodIPs = append(p.Status.PodIPs, corev1.PodIP{IP: "fd00::1"}) }),
				testPod("v4only", "10.0.0.2")},
			[]string{"fd00::1 dual true false [http/TCP/8080;]"}},
		{"no selector", testService(func(s *corev1.Service) { s.Spec.Selector = nil }), []*corev1.Pod{testPod("a", "10.0.0.1")}, nil},
		{"external name", testService(func(s *corev1.Service) { s.Spec.Type = corev1.ServiceTypeExternalName }), []*corev1.Pod{testPod("a", "10.0.0.1")}, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var got []string
			for _, b := range Backends(tc.svc, tc.pods, Families(tc.svc)[0]) {
				if b.TargetRef.Kind != "Pod" || b.TargetRef.Namespace != "ns" || b.TargetRef.UID != types.UID("uid-"+b.TargetRef.Name) || b.NodeName != "n1" {
					t.Errorf("bad backend %+v", b)
				}
				got = append(got, b.IP+" "+b.TargetRef.Name+" "+bs(b.Ready)+" "+bs(b.Terminating)+" ["+PortsKey(b.Ports)+"]")
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("got %q\nwant %q", got, tc.want)
			}
		})
	}
}

func bs(b bool) string {
	if b {
		return "true"
	}
	return "false"
}

func TestHostnameAndFamilies(t *testing.T) {
	svc := testService()
	p := testPod("a", "10.0.0.1", func(p *corev1.Pod) { p.Spec.Hostname, p.Spec.Subdomain = "a-0", "web" })
	if got := Hostname(svc, p); got != "a-0" {
		t.Errorf("Hostname = %q", got)
	}
	p.Spec.Subdomain = "other"
	if got := Hostname(svc, p); got != "" {
		t.Errorf("Hostname with other subdomain = %q", got)
	}
	for _, tc := range []struct {
		ip   string
		fams []corev1.IPFamily
		want corev1.IPFamily
	}{{"10.96.0.1", nil, corev1.IPv4Protocol}, {"fd00::10", nil, corev1.IPv6Protocol}, {"None", nil, corev1.IPv4Protocol},
		{"None", []corev1.IPFamily{corev1.IPv6Protocol}, corev1.IPv6Protocol}} {
		s := testService(func(s *corev1.Service) { s.Spec.ClusterIP, s.Spec.IPFamilies = tc.ip, tc.fams })
		if got := Families(s)[0]; got != tc.want {
			t.Errorf("Families(%s, %v) = %v, want %v", tc.ip, tc.fams, got, tc.want)
		}
	}
}

func TestRelevant(t *testing.T) {
	base := testPod("a", "10.0.0.1")
	now := metav1.Now()
	cases := []struct {
		name string
		mod  func(*corev1.Pod)
		want bool
	}{
		{"same version", func(p *corev1.Pod) {}, false},
		{"restart count only", func(p *corev1.Pod) {
			p.ResourceVersion = "2"
			p.Status.ContainerStatuses = []corev1.ContainerStatus{{RestartCount: 3}}
		}, false},
		{"labels", func(p *corev1.Pod) { p.ResourceVersion = "2"; p.Labels = map[string]string{"app": "db"} }, true},
		{"ready", func(p *corev1.Pod) { p.ResourceVersion = "2"; p.Status.Conditions[0].Status = corev1.ConditionFalse }, true},
		{"deleting", func(p *corev1.Pod) { p.ResourceVersion = "2"; p.DeletionTimestamp = &now }, true},
		{"ip", func(p *corev1.Pod) { p.ResourceVersion = "2"; p.Status.PodIPs = []corev1.PodIP{{IP: "10.0.0.2"}} }, true},
		{"phase finished", func(p *corev1.Pod) { p.ResourceVersion = "2"; p.Status.Phase = corev1.PodFailed }, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cur := base.DeepCopy()
			tc.mod(cur)
			if got := Relevant(base, cur); got != tc.want {
				t.Fatalf("Relevant = %v, want %v", got, tc.want)
			}
		})
	}
	unbound := testPod("b", "", func(p *corev1.Pod) { p.Spec.NodeName = "" })
	bound := testPod("b", "", func(p *corev1.Pod) { p.ResourceVersion = "2" })
	if Relevant(unbound, bound) || HasIP(bound) {
		t.Error("binding a pod without IP is not relevant")
	}
	if running := testPod("b", "10.0.0.9", func(p *corev1.Pod) { p.ResourceVersion = "3" }); !Relevant(bound, running) {
		t.Error("getting an IP is relevant")
	}
}

func TestSelectingServices(t *testing.T) {
	web := testService()
	db := testService(func(s *corev1.Service) { s.Name, s.Spec.Selector = "db", map[string]string{"app": "db"} })
	none := testService(func(s *corev1.Service) { s.Name, s.Spec.Selector = "manual", nil })
	old := testPod("a", "10.0.0.1")
	cur := testPod("a", "10.0.0.1", func(p *corev1.Pod) { p.Labels = map[string]string{"app": "db"} })
	got := SelectingServices([]*corev1.Service{web, db, none}, cur, old)
	if want := []string{"ns/web", "ns/db"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	if got := SelectingServices([]*corev1.Service{web, db}, cur, nil); !reflect.DeepEqual(got, []string{"ns/db"}) {
		t.Fatalf("got %v for new pod only", got)
	}
}
