package proxy

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes/fake"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"
)

func freePort(t *testing.T) int32 {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return int32(ln.Addr().(*net.TCPAddr).Port)
}

func slice(svc string, ready bool, addrs ...string) *discoveryv1.EndpointSlice {
	s := &discoveryv1.EndpointSlice{
		ObjectMeta:  metav1.ObjectMeta{Name: svc + "-abc", Namespace: "default", Labels: map[string]string{discoveryv1.LabelServiceName: svc}},
		AddressType: discoveryv1.AddressTypeIPv4,
	}
	for _, a := range addrs {
		host, port, _ := net.SplitHostPort(a)
		n, _ := strconv.Atoi(port)
		p32 := int32(n)
		name := "http"
		proto := corev1.ProtocolTCP
		s.Ports = []discoveryv1.EndpointPort{{Name: &name, Port: &p32, Protocol: &proto}}
		r := ready
		s.Endpoints = append(s.Endpoints, discoveryv1.Endpoint{Addresses: []string{host}, Conditions: discoveryv1.EndpointConditions{Ready: &r}})
	}
	return s
}

// eventually polls f for up to 10 s.
func eventually(t *testing.T, what string, f func() error) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		err := f()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %v", what, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func dialRead(addr string) (string, error) {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return "", err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(2 * time.Second))
	b := make([]byte, 64)
	n, _ := c.Read(b)
	return string(b[:n]), nil
}

func TestProxierFollowsServicesAndEndpoints(t *testing.T) {
	// The backends all listen on one port number of different loopback
	// addresses, as pods listen on one containerPort at different IPs.
	a := tcpBackend(t, "a", false)
	_, port, _ := net.SplitHostPort(a)
	b := listenOn(t, "127.0.0.2:"+port, "b")
	nodePort, lbPort, taken := freePort(t), freePort(t), freePort(t)
	// Something else holds `taken`.
	occupied, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", taken))
	if err != nil {
		t.Fatal(err)
	}
	defer occupied.Close()

	svc := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "default"},
		Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeLoadBalancer, ClusterIP: "10.43.0.10",
			Ports: []corev1.ServicePort{{Name: "http", Protocol: corev1.ProtocolTCP, Port: lbPort, NodePort: nodePort, TargetPort: intstr.FromInt32(3000)}}},
	}
	cs := fake.NewClientset(svc, slice("web", true, a))
	rec := record.NewFakeRecorder(10)
	p := New(Config{Informers: informers.NewSharedInformerFactory(cs, 0), NodeIPs: []string{"127.0.0.1"}, Recorder: rec})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	}()
	nodeAddr, lbAddr := fmt.Sprintf("127.0.0.1:%d", nodePort), fmt.Sprintf("127.0.0.1:%d", lbPort)
	eventually(t, "NodePort and LoadBalancer port answer", func() error {
		for _, addr := range []string{nodeAddr, lbAddr} {
			if s, err := dialRead(addr); err != nil || s != "a" {
				return fmt.Errorf("%s: %q %v", addr, s, err)
			}
		}
		return nil
	})
	if got := strings.Join(p.Listening(), ","); got != fmt.Sprintf("TCP %s,TCP %s", nodeAddr, lbAddr) && got != fmt.Sprintf("TCP %s,TCP %s", lbAddr, nodeAddr) {
		t.Errorf("listening on %s (no ClusterIPs without an assigner)", got)
	}

	// New endpoints: b only (a not ready: terminating, it drains).
	s := slice("web", true, b)
	s.Endpoints = append(s.Endpoints, discoveryv1.Endpoint{Addresses: []string{"127.0.0.1"}, Conditions: discoveryv1.EndpointConditions{Ready: new(bool)}})
	if _, err := cs.DiscoveryV1().EndpointSlices("default").Update(ctx, s, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "traffic moves to b", func() error {
		for range 4 {
			if s, err := dialRead(nodeAddr); err != nil || s != "b" {
				return fmt.Errorf("%q %v", s, err)
			}
		}
		return nil
	})

	// A port held by someone else: an event, the other ports go on.
	svc2 := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "clash", Namespace: "default"},
		Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeLoadBalancer,
			Ports: []corev1.ServicePort{{Name: "http", Protocol: corev1.ProtocolTCP, Port: taken}}},
	}
	if _, err := cs.CoreV1().Services("default").Create(ctx, svc2, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	select {
	case e := <-rec.Events:
		if !strings.Contains(e, "PortInUse") || !strings.Contains(e, strconv.Itoa(int(taken))) {
			t.Errorf("event %q", e)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no PortInUse event")
	}
	if s, err := dialRead(nodeAddr); err != nil || s != "b" {
		t.Errorf("after the clash: %q %v", s, err)
	}

	// Deleting the Service closes its listeners.
	if err := cs.CoreV1().Services("default").Delete(ctx, "web", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "listeners closed", func() error {
		if _, err := net.DialTimeout("tcp", nodeAddr, time.Second); err == nil {
			return fmt.Errorf("%s still accepts", nodeAddr)
		}
		return nil
	})
}

// listenOn runs a backend answering name on addr.
func listenOn(t *testing.T, addr, name string) string {
	t.Helper()
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			fmt.Fprint(c, name)
			c.Close()
		}
	}()
	return ln.Addr().String()
}

func TestPodChangesThatMatter(t *testing.T) {
	pod := func(weight ...string) *corev1.Pod {
		p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: "default"}}
		if len(weight) > 0 {
			p.Annotations = map[string]string{AnnotationLBWeight: weight[0]}
		}
		return p
	}
	tests := []struct {
		name     string
		old, cur any
		want     bool
	}{
		{"status change, no weight", pod(), pod(), false},
		{"status change, same weight", pod("2"), pod("2"), false},
		{"weight added", pod(), pod("2"), true},
		{"weight changed", pod("2"), pod("3"), true},
		{"weight removed", pod("2"), pod(), true},
		{"weight set to empty", pod(), pod(""), true},
	}
	for _, tc := range tests {
		if got := weightChanged(tc.old, tc.cur); got != tc.want {
			t.Errorf("%s: matters %v, want %v", tc.name, got, tc.want)
		}
	}
	for _, tc := range []struct {
		name string
		obj  any
		want bool
	}{
		{"pod without weight", pod(), false},
		{"pod with weight", pod("1"), true},
		{"tombstone with weight", cache.DeletedFinalStateUnknown{Key: "default/p", Obj: pod("1")}, true},
		{"tombstone without weight", cache.DeletedFinalStateUnknown{Key: "default/p", Obj: pod()}, false},
		{"tombstone of unknown kind", cache.DeletedFinalStateUnknown{Key: "default/p"}, true},
	} {
		if _, got := weightAnnotation(tc.obj); got != tc.want {
			t.Errorf("%s: add/delete matters %v, want %v", tc.name, got, tc.want)
		}
	}
}
