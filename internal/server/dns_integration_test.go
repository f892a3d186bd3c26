package server_test

import (
	"context"
	"testing"

	"github.com/berth-dev/berth/internal/controller"
	"github.com/berth-dev/berth/internal/testutil/testenv"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// TestDNSServiceIsBootstrapped: every cluster has kube-system/kube-dns on
// the service CIDR's tenth address, the nameserver pods are given.
func TestDNSServiceIsBootstrapped(t *testing.T) {
	e := testenv.Start(t, testenv.Options{Logger: testenv.Logger(), Controllers: []controller.Factory{}})
	svc, err := e.Client.CoreV1().Services("kube-system").Get(context.Background(), "kube-dns", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if svc.Spec.ClusterIP != "10.43.0.10" || len(svc.Spec.Ports) != 2 || svc.Spec.Ports[0].Port != 53 {
		t.Fatalf("kube-dns: clusterIP %s ports %+v", svc.Spec.ClusterIP, svc.Spec.Ports)
	}
}
