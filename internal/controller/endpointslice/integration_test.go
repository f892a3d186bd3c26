package endpointslice_test

import (
	"context"
	"fmt"
	"maps"
	"reflect"
	"sync"
	"testing"

	"github.com/berth-dev/berth/internal/controller/endpointslice"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/util/retry"
)

func TestIntegration(t *testing.T) {
	e := start(t)
	t.Run("ServiceLifecycle", e.testLifecycle)
	t.Run("NamedTargetPort", e.testNamedPort)
	t.Run("Placeholder", e.testPlaceholder)
	t.Run("ManyPods", e.testManyPods)
}

// testLifecycle: three pods, one turning not ready, one deleted, one
// held terminating by a finalizer, then the service deleted.
func (e *env) testLifecycle(t *testing.T) {
	e.t = t
	ctx := context.Background()
	svc := e.service("web", intstr.FromInt32(8080))
	for i := range 3 {
		e.pod(fmt.Sprintf("web-%d", i), "web", corev1.ContainerPort{ContainerPort: 8080})
	}
	e.eventually("3 ready endpoints", func() string {
		ep := e.endpoints("web")
		if ep == nil || len(ep.Subsets) != 1 || len(ep.Subsets[0].Addresses) != 3 || len(ep.Subsets[0].NotReadyAddresses) != 0 {
			return fmt.Sprintf("endpoints %+v", ep)
		}
		if p := ep.Subsets[0].Ports; len(p) != 1 || p[0].Port != 8080 || p[0].Name != "http" || p[0].Protocol != corev1.ProtocolTCP {
			return fmt.Sprintf("ports %+v", p)
		}
		if ep.Labels["team"] != "berth" {
			return fmt.Sprintf("labels %v", ep.Labels)
		}
		sl := e.slices("web")
		if len(sl) != 1 {
			return fmt.Sprintf("%d slices", len(sl))
		}
		eps, ports := summary(sl)
		if want := map[string]string{"web-0": "110", "web-1": "110", "web-2": "110"}; !maps.Equal(eps, want) {
			return fmt.Sprintf("slice endpoints %v", eps)
		}
		if ports["web-0"] != 8080 {
			return fmt.Sprintf("slice ports %v", ports)
		}
		return ""
	})
	s := e.slices("web")[0]
	ref := metav1.GetControllerOf(&s)
	if s.Labels[discoveryv1.LabelManagedBy] != endpointslice.ManagedBy || s.Labels["team"] != "berth" || s.AddressType != discoveryv1.AddressTypeIPv4 ||
		ref == nil || ref.UID != svc.UID || ref.Kind != "Service" || ref.BlockOwnerDeletion == nil || !*ref.BlockOwnerDeletion {
		t.Fatalf("slice metadata: %+v", s.ObjectMeta)
	}
	if ep := s.Endpoints[0]; ep.NodeName == nil || ep.TargetRef.Kind != "Pod" || ep.TargetRef.UID == "" || len(ep.Addresses) != 1 {
		t.Fatalf("slice endpoint %+v", ep)
	}

	e.setReady("web-0", false)
	e.eventually("web-0 not ready", func() string {
		ep := e.endpoints("web")
		if len(ep.Subsets) != 1 || len(ep.Subsets[0].Addresses) != 2 || len(ep.Subsets[0].NotReadyAddresses) != 1 ||
			ep.Subsets[0].NotReadyAddresses[0].TargetRef.Name != "web-0" {
			return fmt.Sprintf("endpoints %+v", ep.Subsets)
		}
		if eps, _ := summary(e.slices("web")); eps["web-0"] != "000" {
			return fmt.Sprintf("slice endpoints %v", eps)
		}
		return ""
	})

	if err := e.cs.CoreV1().Pods(ns).Delete(ctx, "web-1", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	e.eventually("web-1 removed", func() string {
		ep := e.endpoints("web")
		if len(ep.Subsets) != 1 || len(ep.Subsets[0].Addresses) != 1 || ep.Subsets[0].Addresses[0].TargetRef.Name != "web-2" {
			return fmt.Sprintf("endpoints %+v", ep.Subsets)
		}
		if eps, _ := summary(e.slices("web")); !maps.Equal(eps, map[string]string{"web-0": "000", "web-2": "110"}) {
			return fmt.Sprintf("slice endpoints %v", eps)
		}
		return ""
	})

	// A finalizer holds web-3 in Terminating: it leaves Endpoints but
	// stays in the slice as serving and terminating, not ready.
	held := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "web-3", Namespace: ns, Labels: map[string]string{"app": "web"}, Finalizers: []string{"berth.io/test-hold"}},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "img:1"}}},
	}
	if _, err := e.cs.CoreV1().Pods(ns).Create(ctx, held, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	e.eventually("web-3 ready", func() string {
		if eps, _ := summary(e.slices("web")); eps["web-3"] != "110" {
			return fmt.Sprintf("slice endpoints %v", eps)
		}
		return ""
	})
	if err := e.cs.CoreV1().Pods(ns).Delete(ctx, "web-3", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	e.eventually("web-3 terminating", func() string {
		if eps, _ := summary(e.slices("web")); eps["web-3"] != "011" {
			return fmt.Sprintf("slice endpoints %v", eps)
		}
		for _, a := range e.endpoints("web").Subsets[0].Addresses {
			if a.TargetRef.Name == "web-3" {
				return "terminating web-3 still in Endpoints"
			}
		}
		return ""
	})
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		p, err := e.cs.CoreV1().Pods(ns).Get(ctx, "web-3", metav1.GetOptions{})
		if err != nil {
			return err
		}
		p.Finalizers = nil
		_, err = e.cs.CoreV1().Pods(ns).Update(ctx, p, metav1.UpdateOptions{})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	e.eventually("web-3 gone", func() string {
		if eps, _ := summary(e.slices("web")); len(eps) != 2 {
			return fmt.Sprintf("slice endpoints %v", eps)
		}
		return ""
	})

	if err := e.cs.CoreV1().Services(ns).Delete(ctx, "web", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	e.eventually("endpoints and slices deleted", func() string {
		if ep, sl := e.endpoints("web"), e.slices("web"); ep != nil || len(sl) != 0 {
			return fmt.Sprintf("endpoints %v, %d slices", ep != nil, len(sl))
		}
		return ""
	})
}

// testNamedPort: a named targetPort resolves per pod.
func (e *env) testNamedPort(t *testing.T) {
	e.t = t
	e.service("named", intstr.FromString("web"))
	e.pod("named-a", "named", corev1.ContainerPort{Name: "web", ContainerPort: 8080})
	e.pod("named-b", "named", corev1.ContainerPort{Name: "web", ContainerPort: 9090})
	e.pod("named-c", "named", corev1.ContainerPort{Name: "other", ContainerPort: 7070})
	e.eventually("per-pod ports", func() string {
		ep := e.endpoints("named")
		got := map[string]int32{}
		for _, ss := range ep.Subsets {
			for _, a := range ss.Addresses {
				got[a.TargetRef.Name] = ss.Ports[0].Port
			}
		}
		if want := map[string]int32{"named-a": 8080, "named-b": 9090}; !reflect.DeepEqual(got, want) {
			return fmt.Sprintf("endpoints ports %v", got)
		}
		eps, ports := summary(e.slices("named"))
		if want := map[string]int32{"named-a": 8080, "named-b": 9090}; !maps.Equal(ports, want) || len(eps) != 3 {
			return fmt.Sprintf("slice ports %v, endpoints %v", ports, eps)
		}
		return ""
	})
}

// testPlaceholder: a service without pods has one empty slice and an
// empty Endpoints.
func (e *env) testPlaceholder(t *testing.T) {
	e.t = t
	e.service("empty", intstr.FromInt32(8080))
	e.eventually("placeholder", func() string {
		sl := e.slices("empty")
		if len(sl) != 1 || len(sl[0].Endpoints) != 0 || e.endpoints("empty") == nil {
			return fmt.Sprintf("%d slices: %+v", len(sl), sl)
		}
		return ""
	})
}

// testManyPods: 250 pods are spread over 3 slices; deleting the service
// removes them.
func (e *env) testManyPods(t *testing.T) {
	e.t = t
	e.service("big", intstr.FromInt32(8080))
	var wg sync.WaitGroup
	for w := range 5 {
		wg.Go(func() {
			for i := w; i < 250; i += 5 {
				p := &corev1.Pod{
					ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("big-%03d", i), Namespace: ns, Labels: map[string]string{"app": "big"}},
					Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "img:1"}}},
				}
				if _, err := e.cs.CoreV1().Pods(ns).Create(context.Background(), p, metav1.CreateOptions{}); err != nil {
					t.Errorf("create pod: %v", err)
					return
				}
			}
		})
	}
	wg.Wait()
	e.eventually("3 slices with 250 ready endpoints", func() string {
		sl := e.slices("big")
		eps, _ := summary(sl)
		ready := 0
		for _, c := range eps {
			if c == "110" {
				ready++
			}
		}
		if len(sl) != 3 || ready != 250 {
			return fmt.Sprintf("%d slices, %d ready of %d", len(sl), ready, len(eps))
		}
		for _, s := range sl {
			if len(s.Endpoints) > endpointslice.MaxEndpointsPerSlice {
				return fmt.Sprintf("slice %s has %d endpoints", s.Name, len(s.Endpoints))
			}
		}
		if ep := e.endpoints("big"); ep == nil || len(ep.Subsets) != 1 || len(ep.Subsets[0].Addresses) != 250 {
			return "endpoints do not list 250 ready addresses"
		}
		return ""
	})
	if err := e.cs.CoreV1().Services(ns).Delete(context.Background(), "big", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	e.eventually("slices deleted", func() string {
		if ep, sl := e.endpoints("big"), e.slices("big"); ep != nil || len(sl) != 0 {
			return fmt.Sprintf("endpoints %v, %d slices", ep != nil, len(sl))
		}
		return ""
	})
}
