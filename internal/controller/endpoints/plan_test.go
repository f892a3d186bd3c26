package endpoints

import (
	"fmt"
	"reflect"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
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
		Spec: corev1.ServiceSpec{Selector: map[string]string{"app": "web"}, ClusterIP: "10.96.0.10",
			Ports: []corev1.ServicePort{{Name: "http", Port: 80, Protocol: corev1.ProtocolTCP, TargetPort: intstr.FromString("http")}}},
	}
	for _, m := range mods {
		m(s)
	}
	return s
}

func notReady(p *corev1.Pod) { p.Status.Conditions[0].Status = corev1.ConditionFalse }

func terminating(p *corev1.Pod) { now := metav1.Now(); p.DeletionTimestamp = &now }

// render summarises subsets as "ports | ready addrs | not-ready addrs".
func render(subsets []corev1.EndpointSubset) []string {
	var out []string
	for _, ss := range subsets {
		var ports, ready, nr []string
		for _, p := range ss.Ports {
			ports = append(ports, fmt.Sprintf("%s:%d/%s", p.Name, p.Port, p.Protocol))
		}
		for _, a := range ss.Addresses {
			ready = append(ready, a.IP+"="+a.TargetRef.Name)
		}
		for _, a := range ss.NotReadyAddresses {
			nr = append(nr, a.IP+"="+a.TargetRef.Name)
		}
		out = append(out, strings.Join(ports, ",")+" | "+strings.Join(ready, ",")+" | "+strings.Join(nr, ","))
	}
	return out
}

func TestDesiredSubsets(t *testing.T) {
	altPort := func(p *corev1.Pod) { p.Spec.Containers[0].Ports[0].ContainerPort = 9090 }
	cases := []struct {
		name string
		svc  *corev1.Service
		pods []*corev1.Pod
		want []string
	}{
		{"three ready", testService(), []*corev1.Pod{testPod("a", "10.0.0.1"), testPod("c", "10.0.0.3"), testPod("b", "10.0.0.2")},
			[]string{"http:8080/TCP | 10.0.0.1=a,10.0.0.2=b,10.0.0.3=c | "}},
		{"not ready goes to notReadyAddresses", testService(), []*corev1.Pod{testPod("a", "10.0.0.1"), testPod("b", "10.0.0.2", notReady)},
			[]string{"http:8080/TCP | 10.0.0.1=a | 10.0.0.2=b"}},
		{"terminating excluded", testService(), []*corev1.Pod{testPod("a", "10.0.0.1"), testPod("b", "10.0.0.2", terminating)},
			[]string{"http:8080/TCP | 10.0.0.1=a | "}},
		{"publishNotReadyAddresses puts all in addresses, terminating too",
			testService(func(s *corev1.Service) { s.Spec.PublishNotReadyAddresses = true }),
			[]*corev1.Pod{testPod("a", "10.0.0.1", notReady), testPod("b", "10.0.0.2", terminating)},
			[]string{"http:8080/TCP | 10.0.0.1=a,10.0.0.2=b | "}},
		{"pods without IP or finished are skipped", testService(),
			[]*corev1.Pod{testPod("a", ""), testPod("b", "10.0.0.2", func(p *corev1.Pod) { p.Status.Phase = corev1.PodSucceeded })}, nil},
		{"named targetPort resolves per pod; subsets by port set", testService(),
			[]*corev1.Pod{testPod("a", "10.0.0.1"), testPod("b", "10.0.0.2", altPort), testPod("c", "10.0.0.3", altPort)},
			[]string{"http:8080/TCP | 10.0.0.1=a | ", "http:9090/TCP | 10.0.0.2=b,10.0.0.3=c | "}},
		{"pod lacking the named port is skipped", testService(),
			[]*corev1.Pod{testPod("a", "10.0.0.1", func(p *corev1.Pod) { p.Spec.Containers[0].Ports = nil })}, nil},
		{"multiple ports, missing one leaves a smaller port set", testService(func(s *corev1.Service) {
			s.Spec.Ports = append(s.Spec.Ports, corev1.ServicePort{Name: "metrics", Port: 9100, Protocol: corev1.ProtocolTCP, TargetPort: intstr.FromString("metrics")})
		}), []*corev1.Pod{testPod("a", "10.0.0.1"), testPod("b", "10.0.0.2", func(p *corev1.Pod) {
			p.Spec.Containers[0].Ports = append(p.Spec.Containers[0].Ports, corev1.ContainerPort{Name: "metrics", ContainerPort: 9102})
		})}, []string{"http:8080/TCP | 10.0.0.1=a | ", "http:8080/TCP,metrics:9102/TCP | 10.0.0.2=b | "}},
		{"headless without ports publishes addresses", testService(func(s *corev1.Service) { s.Spec.ClusterIP, s.Spec.Ports = "None", nil }),
			[]*corev1.Pod{testPod("a", "10.0.0.1")}, []string{" | 10.0.0.1=a | "}},
		{"non-headless without ports publishes nothing", testService(func(s *corev1.Service) { s.Spec.Ports = nil }),
			[]*corev1.Pod{testPod("a", "10.0.0.1")}, nil},
		{"no selector publishes nothing", testService(func(s *corev1.Service) { s.Spec.Selector = nil }),
			[]*corev1.Pod{testPod("a", "10.0.0.1")}, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			subsets, truncated := DesiredSubsets(tc.svc, tc.pods)
			if got := render(subsets); !reflect.DeepEqual(got, tc.want) || truncated {
				t.Fatalf("got %q (truncated %v)\nwant %q", got, truncated, tc.want)
			}
			for _, ss := range subsets {
				for _, a := range append(ss.Addresses, ss.NotReadyAddresses...) {
					if a.NodeName == nil || *a.NodeName != "n1" || a.TargetRef.Kind != "Pod" || a.TargetRef.UID != types.UID("uid-"+a.TargetRef.Name) || a.TargetRef.Namespace != "ns" {
						t.Errorf("bad address %+v", a)
					}
				}
			}
		})
	}
}

func TestDesiredSubsetsTruncates(t *testing.T) {
	var pods []*corev1.Pod
	for i := range MaxAddresses + 50 {
		var mods []func(*corev1.Pod)
		if i%2 == 1 {
			mods = append(mods, notReady)
		}
		pods = append(pods, testPod(fmt.Sprintf("p%d", i), fmt.Sprintf("10.1.%d.%d", i/256, i%256), mods...))
	}
	subsets, truncated := DesiredSubsets(testService(), pods)
	if !truncated || len(subsets) != 1 {
		t.Fatalf("truncated %v, %d subsets", truncated, len(subsets))
	}
	ready, nr := len(subsets[0].Addresses), len(subsets[0].NotReadyAddresses)
	if ready != (MaxAddresses+50)/2 || ready+nr != MaxAddresses {
		t.Fatalf("ready %d not ready %d", ready, nr)
	}
}

func TestPlanEndpoints(t *testing.T) {
	svc := testService()
	pods := []*corev1.Pod{testPod("a", "10.0.0.1"), testPod("b", "10.0.0.2")}
	created := PlanEndpoints(svc, nil, pods).Create
	if created == nil || created.Name != "web" || created.Namespace != "ns" || created.Labels["tier"] != "front" || len(created.OwnerReferences) != 0 {
		t.Fatalf("create = %+v", created)
	}
	existing := created.DeepCopy()
	existing.ResourceVersion = "7"

	if p := PlanEndpoints(svc, existing, pods); p.Create != nil || p.Update != nil {
		t.Fatalf("unchanged service and pods planned %+v", p)
	}
	// An empty service still gets its (empty) Endpoints.
	if p := PlanEndpoints(svc, nil, nil); p.Create == nil || len(p.Create.Subsets) != 0 {
		t.Fatalf("empty service plan %+v", p)
	}

	cases := []struct {
		name  string
		svc   *corev1.Service
		ep    func(*corev1.Endpoints)
		pods  []*corev1.Pod
		check func(*testing.T, *corev1.Endpoints)
	}{
		{"pod gone", svc, nil, pods[:1], func(t *testing.T, ep *corev1.Endpoints) {
			if got := render(ep.Subsets); !reflect.DeepEqual(got, []string{"http:8080/TCP | 10.0.0.1=a | "}) {
				t.Errorf("subsets %q", got)
			}
		}},
		{"pod not ready", svc, nil, []*corev1.Pod{pods[0], testPod("b", "10.0.0.2", notReady)}, func(t *testing.T, ep *corev1.Endpoints) {
			if got := render(ep.Subsets); !reflect.DeepEqual(got, []string{"http:8080/TCP | 10.0.0.1=a | 10.0.0.2=b"}) {
				t.Errorf("subsets %q", got)
			}
		}},
		{"service labels changed", testService(func(s *corev1.Service) { s.Labels = map[string]string{"tier": "back"}; s.Spec.ClusterIP = "None" }), nil, pods,
			func(t *testing.T, ep *corev1.Endpoints) {
				if want := map[string]string{"tier": "back", corev1.IsHeadlessService: ""}; !reflect.DeepEqual(ep.Labels, want) {
					t.Errorf("labels %v", ep.Labels)
				}
			}},
		{"stale over-capacity annotation removed, others kept", svc, func(ep *corev1.Endpoints) {
			ep.Annotations = map[string]string{corev1.EndpointsOverCapacity: "truncated", "keep": "me"}
		}, pods, func(t *testing.T, ep *corev1.Endpoints) {
			if want := map[string]string{"keep": "me"}; !reflect.DeepEqual(ep.Annotations, want) {
				t.Errorf("annotations %v", ep.Annotations)
			}
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ex := existing.DeepCopy()
			if tc.ep != nil {
				tc.ep(ex)
			}
			p := PlanEndpoints(tc.svc, ex, tc.pods)
			if p.Create != nil || p.Update == nil {
				t.Fatalf("want an update, got %+v", p)
			}
			if p.Update.ResourceVersion != "7" {
				t.Errorf("update lost the resourceVersion")
			}
			tc.check(t, p.Update)
		})
	}
}

func TestLeftover(t *testing.T) {
	ep := &corev1.Endpoints{ObjectMeta: metav1.ObjectMeta{Name: "x"}}
	if Leftover(ep, true) || !Leftover(ep, false) {
		t.Fatal("plain endpoints")
	}
	ep.Annotations = map[string]string{leaderAnnotation: "{}"}
	if Leftover(ep, false) {
		t.Fatal("leader lock must stay")
	}
}
