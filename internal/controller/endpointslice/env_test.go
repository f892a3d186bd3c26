package endpointslice_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/berth-dev/berth/internal/controller"
	"github.com/berth-dev/berth/internal/controller/endpoints"
	"github.com/berth-dev/berth/internal/controller/endpointslice"
	"github.com/berth-dev/berth/internal/testutil/fakekubelet"
	"github.com/berth-dev/berth/internal/testutil/testenv"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/util/retry"
)

const ns = "default"

// env is a running API server with the Endpoints and EndpointSlice
// controllers and a fake kubelet.
type env struct {
	t  *testing.T
	cs *kubernetes.Clientset
}

func start(t *testing.T) *env {
	t.Helper()
	te := testenv.Start(t, testenv.Options{Controllers: []controller.Factory{endpoints.New, endpointslice.New},
		Kubelet: &fakekubelet.Config{Bind: true}})
	return &env{t: t, cs: te.Client}
}

// service creates a ClusterIP service named name selecting app=name,
// port 80 to targetPort.
func (e *env) service(name string, targetPort intstr.IntOrString) *corev1.Service {
	e.t.Helper()
	svc := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, Labels: map[string]string{"team": "berth"}},
		Spec: corev1.ServiceSpec{Selector: map[string]string{"app": name},
			Ports: []corev1.ServicePort{{Name: "http", Port: 80, TargetPort: targetPort}}},
	}
	got, err := e.cs.CoreV1().Services(ns).Create(context.Background(), svc, metav1.CreateOptions{})
	if err != nil {
		e.t.Fatalf("create service: %v", err)
	}
	return got
}

// pod creates a pod labelled app=app whose container exposes ports.
func (e *env) pod(name, app string, ports ...corev1.ContainerPort) *corev1.Pod {
	e.t.Helper()
	p := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, Labels: map[string]string{"app": app}},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "img:1", Ports: ports}}},
	}
	got, err := e.cs.CoreV1().Pods(ns).Create(context.Background(), p, metav1.CreateOptions{})
	if err != nil {
		e.t.Fatalf("create pod %s: %v", name, err)
	}
	return got
}

// setReady sets the pod's Ready condition through the status subresource.
func (e *env) setReady(name string, ready bool) {
	e.t.Helper()
	status := corev1.ConditionFalse
	if ready {
		status = corev1.ConditionTrue
	}
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		p, err := e.cs.CoreV1().Pods(ns).Get(context.Background(), name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		for i := range p.Status.Conditions {
			if p.Status.Conditions[i].Type == corev1.PodReady {
				p.Status.Conditions[i].Status = status
			}
		}
		_, err = e.cs.CoreV1().Pods(ns).UpdateStatus(context.Background(), p, metav1.UpdateOptions{})
		return err
	})
	if err != nil {
		e.t.Fatalf("set ready %s: %v", name, err)
	}
}

// slices lists the slices labelled with the service's name.
func (e *env) slices(svc string) []discoveryv1.EndpointSlice {
	e.t.Helper()
	sel := labels.SelectorFromSet(labels.Set{discoveryv1.LabelServiceName: svc}).String()
	l, err := e.cs.DiscoveryV1().EndpointSlices(ns).List(context.Background(), metav1.ListOptions{LabelSelector: sel})
	if err != nil {
		e.t.Fatalf("list slices: %v", err)
	}
	return l.Items
}

// endpoints gets the service's Endpoints (nil when absent).
func (e *env) endpoints(svc string) *corev1.Endpoints {
	e.t.Helper()
	ep, err := e.cs.CoreV1().Endpoints(ns).Get(context.Background(), svc, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		e.t.Fatalf("get endpoints: %v", err)
	}
	return ep
}

// eventually polls cond until it returns "" or the deadline passes.
func (e *env) eventually(what string, cond func() string) {
	e.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	last := ""
	for time.Now().Before(deadline) {
		if last = cond(); last == "" {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	e.t.Fatalf("%s: %s", what, last)
}

// summary renders slice endpoints as "name:r/s/t" per pod, and the ports.
func summary(sl []discoveryv1.EndpointSlice) (eps map[string]string, ports map[string]int32) {
	b := func(p *bool) int {
		if p != nil && *p {
			return 1
		}
		return 0
	}
	eps, ports = map[string]string{}, map[string]int32{}
	for _, s := range sl {
		for _, ep := range s.Endpoints {
			c := ep.Conditions
			eps[ep.TargetRef.Name] = fmt.Sprintf("%d%d%d", b(c.Ready), b(c.Serving), b(c.Terminating))
			for _, p := range s.Ports {
				ports[ep.TargetRef.Name] = *p.Port
			}
		}
	}
	return eps, ports
}
