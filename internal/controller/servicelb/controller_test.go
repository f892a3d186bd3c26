package servicelb

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func node(name, ip string, ready, unschedulable bool) *corev1.Node {
	st := corev1.ConditionFalse
	if ready {
		st = corev1.ConditionTrue
	}
	return &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: corev1.NodeSpec{Unschedulable: unschedulable},
		Status: corev1.NodeStatus{Conditions: []corev1.NodeCondition{{Type: corev1.NodeReady, Status: st}},
			Addresses: []corev1.NodeAddress{{Type: corev1.NodeHostName, Address: name}, {Type: corev1.NodeInternalIP, Address: ip}}}}
}

func TestIngress(t *testing.T) {
	nodes := []*corev1.Node{
		node("b", "10.0.0.2", true, false),
		node("a", "10.0.0.1", true, false),
		node("down", "10.0.0.3", false, false),
		node("cordoned", "10.0.0.4", true, true),
		node("twin", "10.0.0.1", true, false),
	}
	tests := []struct {
		typ  corev1.ServiceType
		want []string
	}{
		{corev1.ServiceTypeLoadBalancer, []string{"10.0.0.1", "10.0.0.2"}},
		{corev1.ServiceTypeNodePort, nil},
		{corev1.ServiceTypeClusterIP, nil},
	}
	for _, tc := range tests {
		svc := &corev1.Service{Spec: corev1.ServiceSpec{Type: tc.typ}}
		got := Ingress(svc, nodes)
		var ips []string
		for _, g := range got {
			ips = append(ips, g.IP)
		}
		if len(ips) != len(tc.want) || (len(ips) > 0 && (ips[0] != tc.want[0] || ips[1] != tc.want[1])) {
			t.Errorf("%s: ingress %v, want %v", tc.typ, ips, tc.want)
		}
	}
}
