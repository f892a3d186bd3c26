package endpoints_test

import (
	"context"
	"fmt"
	"maps"
	"testing"
	"time"

	"github.com/berth-dev/berth/internal/controller"
	"github.com/berth-dev/berth/internal/controller/endpoints"
	"github.com/berth-dev/berth/internal/testutil/fakekubelet"
	"github.com/berth-dev/berth/internal/testutil/testenv"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/util/retry"
)

const ns = "default"

func start(t *testing.T) *kubernetes.Clientset {
	t.Helper()
	return testenv.Start(t, testenv.Options{Controllers: []controller.Factory{endpoints.New},
		Kubelet: &fakekubelet.Config{Bind: true}}).Client
}

// eventually polls cond until it returns "" or 30 s pass.
func eventually(t *testing.T, what string, cond func() string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	last := ""
	for time.Now().Before(deadline) {
		if last = cond(); last == "" {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("%s: %s", what, last)
}

// state renders an Endpoints as pod name → "port r" (ready) or "port n"
// (not ready), or nil when it does not exist.
func state(t *testing.T, cs kubernetes.Interface, name string) map[string]string {
	t.Helper()
	ep, err := cs.CoreV1().Endpoints(ns).Get(context.Background(), name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		t.Fatalf("get endpoints: %v", err)
	}
	out := map[string]string{}
	for _, ss := range ep.Subsets {
		port := "-"
		if len(ss.Ports) > 0 {
			port = fmt.Sprint(ss.Ports[0].Port)
		}
		for _, a := range ss.Addresses {
			out[a.TargetRef.Name] = port + " r"
		}
		for _, a := range ss.NotReadyAddresses {
			out[a.TargetRef.Name] = port + " n"
		}
	}
	return out
}

func expect(t *testing.T, cs kubernetes.Interface, svc string, want map[string]string) {
	t.Helper()
	eventually(t, fmt.Sprintf("endpoints %s = %v", svc, want), func() string {
		got := state(t, cs, svc)
		if (got == nil) != (want == nil) || !maps.Equal(got, want) {
			return fmt.Sprintf("got %v", got)
		}
		return ""
	})
}

func TestEndpointsIntegration(t *testing.T) {
	cs := start(t)
	ctx := context.Background()
	mkService := func(name string, target intstr.IntOrString, mod func(*corev1.Service)) {
		t.Helper()
		svc := &corev1.Service{
			ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, Labels: map[string]string{"team": "berth"}},
			Spec: corev1.ServiceSpec{Selector: map[string]string{"app": name},
				Ports: []corev1.ServicePort{{Name: "http", Port: 80, TargetPort: target}}},
		}
		if mod != nil {
			mod(svc)
		}
		if _, err := cs.CoreV1().Services(ns).Create(ctx, svc, metav1.CreateOptions{}); err != nil {
			t.Fatalf("create service: %v", err)
		}
	}
	mkPod := func(name, app string, ports ...corev1.ContainerPort) {
		t.Helper()
		p := &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, Labels: map[string]string{"app": app}},
			Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "img:1", Ports: ports}}},
		}
		if _, err := cs.CoreV1().Pods(ns).Create(ctx, p, metav1.CreateOptions{}); err != nil {
			t.Fatalf("create pod: %v", err)
		}
	}
	setNotReady := func(name string) {
		t.Helper()
		err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
			p, err := cs.CoreV1().Pods(ns).Get(ctx, name, metav1.GetOptions{})
			if err != nil {
				return err
			}
			for i := range p.Status.Conditions {
				if p.Status.Conditions[i].Type == corev1.PodReady {
					p.Status.Conditions[i].Status = corev1.ConditionFalse
				}
			}
			_, err = cs.CoreV1().Pods(ns).UpdateStatus(ctx, p, metav1.UpdateOptions{})
			return err
		})
		if err != nil {
			t.Fatalf("set not ready: %v", err)
		}
	}

	// Three pods, one turning not ready, one deleted.
	mkService("web", intstr.FromInt32(8080), nil)
	for i := range 3 {
		mkPod(fmt.Sprintf("web-%d", i), "web")
	}
	expect(t, cs, "web", map[string]string{"web-0": "8080 r", "web-1": "8080 r", "web-2": "8080 r"})
	ep, err := cs.CoreV1().Endpoints(ns).Get(ctx, "web", metav1.GetOptions{})
	if err != nil || ep.Labels["team"] != "berth" || ep.Subsets[0].Ports[0].Name != "http" || ep.Subsets[0].Addresses[0].NodeName == nil {
		t.Fatalf("endpoints %+v, %v", ep, err)
	}
	setNotReady("web-0")
	expect(t, cs, "web", map[string]string{"web-0": "8080 n", "web-1": "8080 r", "web-2": "8080 r"})
	if err := cs.CoreV1().Pods(ns).Delete(ctx, "web-1", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	expect(t, cs, "web", map[string]string{"web-0": "8080 n", "web-2": "8080 r"})

	// Tampering is undone, a deleted Endpoints comes back.
	ep, err = cs.CoreV1().Endpoints(ns).Get(ctx, "web", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ep.Subsets = nil
	if _, err := cs.CoreV1().Endpoints(ns).Update(ctx, ep, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	expect(t, cs, "web", map[string]string{"web-0": "8080 n", "web-2": "8080 r"})
	if err := cs.CoreV1().Endpoints(ns).Delete(ctx, "web", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	expect(t, cs, "web", map[string]string{"web-0": "8080 n", "web-2": "8080 r"})

	// A named targetPort resolves per pod; a pod without it is left out.
	mkService("named", intstr.FromString("web"), nil)
	mkPod("named-a", "named", corev1.ContainerPort{Name: "web", ContainerPort: 8080})
	mkPod("named-b", "named", corev1.ContainerPort{Name: "web", ContainerPort: 9090})
	mkPod("named-c", "named")
	expect(t, cs, "named", map[string]string{"named-a": "8080 r", "named-b": "9090 r"})

	// Endpoints of a service without selector are the user's.
	mkService("manual", intstr.FromInt32(80), func(s *corev1.Service) { s.Spec.Selector = nil })
	manual := &corev1.Endpoints{ObjectMeta: metav1.ObjectMeta{Name: "manual", Namespace: ns},
		Subsets: []corev1.EndpointSubset{{Addresses: []corev1.EndpointAddress{{IP: "192.0.2.1", TargetRef: &corev1.ObjectReference{Name: "ext"}}},
			Ports: []corev1.EndpointPort{{Port: 80}}}}}
	if _, err := cs.CoreV1().Endpoints(ns).Create(ctx, manual, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}

	// publishNotReadyAddresses lists not-ready pods as addresses. pub-1
	// is a sentinel: once it shows, the controller has seen pub-0 turn
	// not ready (the pod watch is ordered).
	mkService("pub", intstr.FromInt32(80), func(s *corev1.Service) { s.Spec.PublishNotReadyAddresses = true })
	mkPod("pub-0", "pub")
	expect(t, cs, "pub", map[string]string{"pub-0": "80 r"})
	setNotReady("pub-0")
	mkPod("pub-1", "pub")
	expect(t, cs, "pub", map[string]string{"pub-0": "80 r", "pub-1": "80 r"})

	if got := state(t, cs, "manual"); !maps.Equal(got, map[string]string{"ext": "80 r"}) {
		t.Fatalf("user Endpoints changed: %v", got)
	}

	// Deleting a service deletes its Endpoints.
	for _, name := range []string{"web", "named"} {
		if err := cs.CoreV1().Services(ns).Delete(ctx, name, metav1.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
		expect(t, cs, name, nil)
	}
}
