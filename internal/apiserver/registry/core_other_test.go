package registry

import (
	"strings"
	"testing"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	schedulingv1 "k8s.io/api/scheduling/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

func TestNamespace(t *testing.T) {
	s := byName(t, "v1", "namespaces").Strategy
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "prod"}}
	s.PrepareForCreate(ns)
	wantNoErrs(t, s.Validate(ns))
	if ns.Status.Phase != corev1.NamespaceActive || len(ns.Spec.Finalizers) != 1 || ns.Spec.Finalizers[0] != "kubernetes" {
		t.Errorf("namespace create = %+v", ns)
	}
	bad := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "my.namespace"}}
	wantErr(t, s.Validate(bad), "metadata.name", field.ErrorTypeInvalid, "must not contain dots")
	withNS := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "a", Namespace: "b"}}
	wantErr(t, s.Validate(withNS), "metadata.namespace", field.ErrorTypeForbidden, "")
	row := s.Table.Row(ns)
	if row[0] != "prod" || row[1] != "Active" {
		t.Errorf("namespace row = %v", row)
	}
}

func TestNode(t *testing.T) {
	s := byName(t, "v1", "nodes").Strategy
	n := &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: "node-a", Labels: map[string]string{
			"node-role.kubernetes.io/control-plane": "", "node-role.kubernetes.io/worker": "",
		}},
		Spec: corev1.NodeSpec{PodCIDR: "10.244.1.0/24", Unschedulable: true},
		Status: corev1.NodeStatus{
			Conditions: []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionTrue}},
			Addresses:  []corev1.NodeAddress{{Type: corev1.NodeInternalIP, Address: "192.168.1.10"}},
			NodeInfo:   corev1.NodeSystemInfo{KubeletVersion: "v1.37.2", OSImage: "Debian", KernelVersion: "6.1", ContainerRuntimeVersion: "berth://0.1"},
		},
	}
	if s.PrepareForCreate != nil {
		s.PrepareForCreate(n)
	}
	s.Default(n)
	wantNoErrs(t, s.Validate(n))
	if len(n.Status.Conditions) != 1 || n.Spec.PodCIDRs[0] != "10.244.1.0/24" {
		t.Errorf("node create lost status or podCIDRs: %+v", n)
	}
	row := s.Table.Row(n)
	want := []interface{}{"node-a", "Ready,SchedulingDisabled", "control-plane,worker", "<unknown>", "v1.37.2",
		"192.168.1.10", "<none>", "Debian", "6.1", "berth://0.1"}
	for i := range want {
		if row[i] != want[i] {
			t.Errorf("node cell %s = %#v, want %#v", s.Table.Columns[i].Name, row[i], want[i])
		}
	}
	if got := s.Table.Row(&corev1.Node{})[1]; got != "Unknown" {
		t.Errorf("status without conditions = %v", got)
	}

	bad := n.DeepCopy()
	bad.Spec.PodCIDR, bad.Spec.PodCIDRs = "10.244.1.0/33", nil
	bad.Spec.Taints = []corev1.Taint{{Key: "gpu", Effect: "Sometimes"}}
	errs := s.Validate(bad)
	wantErr(t, errs, "spec.podCIDR", field.ErrorTypeInvalid, "")
	wantErr(t, errs, "spec.taints[0].effect", field.ErrorTypeNotSupported, "")

	upd := n.DeepCopy()
	upd.ResourceVersion = "2"
	upd.Spec.PodCIDR, upd.Spec.PodCIDRs = "10.244.2.0/24", []string{"10.244.2.0/24"}
	wantErr(t, s.ValidateUpdate(upd, n), "spec.podCIDRs", field.ErrorTypeForbidden, "")
}

func TestConfigMapAndSecret(t *testing.T) {
	cms := byName(t, "v1", "configmaps").Strategy
	cm := &corev1.ConfigMap{ObjectMeta: meta("cfg"), Data: map[string]string{"app.conf": "x", "bad key": "y"}}
	wantErr(t, cms.Validate(cm), "data[bad key]", field.ErrorTypeInvalid, "")
	big := &corev1.ConfigMap{ObjectMeta: meta("big"), Data: map[string]string{"a": strings.Repeat("x", MaxDataSize)}}
	wantErr(t, cms.Validate(big), "data", field.ErrorTypeTooLong, "")
	if row := cms.Table.Row(&corev1.ConfigMap{Data: map[string]string{"a": "", "b": ""}, BinaryData: map[string][]byte{"c": nil}}); row[1] != int64(3) {
		t.Errorf("configmap data count = %v", row[1])
	}
	frozen := &corev1.ConfigMap{ObjectMeta: meta("f"), Data: map[string]string{"a": "1"}, Immutable: ptrTo(true)}
	changed := frozen.DeepCopy()
	changed.Data["a"] = "2"
	wantErr(t, cms.ValidateUpdate(changed, frozen), "data", field.ErrorTypeForbidden, "immutable")

	ss := byName(t, "v1", "secrets").Strategy
	sec := &corev1.Secret{ObjectMeta: meta("s"), StringData: map[string]string{"password": "hunter2"}}
	ss.Default(sec)
	wantNoErrs(t, ss.Validate(sec))
	if sec.Type != corev1.SecretTypeOpaque || string(sec.Data["password"]) != "hunter2" || sec.StringData != nil {
		t.Errorf("secret defaults wrong: %+v", sec)
	}
	tls := &corev1.Secret{ObjectMeta: meta("tls"), Type: corev1.SecretTypeTLS, Data: map[string][]byte{"tls.crt": []byte("x")}}
	wantErr(t, ss.Validate(tls), "data[tls.key]", field.ErrorTypeRequired, "")
	retyped := sec.DeepCopy()
	retyped.Type = corev1.SecretTypeTLS
	wantErr(t, ss.ValidateUpdate(retyped, sec), "type", field.ErrorTypeInvalid, "field is immutable")
	row := ss.Table.Row(sec)
	if row[1] != "Opaque" || row[2] != int64(1) {
		t.Errorf("secret row = %v", row)
	}
}

func TestEndpointsAndSlices(t *testing.T) {
	es := byName(t, "v1", "endpoints").Strategy
	ep := &corev1.Endpoints{ObjectMeta: meta("web"), Subsets: []corev1.EndpointSubset{{
		Addresses: []corev1.EndpointAddress{{IP: "10.1.0.1"}, {IP: "10.1.0.2"}, {IP: "10.1.0.3"}, {IP: "10.1.0.4"}},
		Ports:     []corev1.EndpointPort{{Port: 80}},
	}}}
	es.Default(ep)
	wantNoErrs(t, es.Validate(ep))
	if got := es.Table.Row(ep)[1]; got != "10.1.0.1:80,10.1.0.2:80,10.1.0.3:80 + 1 more..." {
		t.Errorf("endpoints cell = %q", got)
	}
	if got := es.Table.Row(&corev1.Endpoints{})[1]; got != "<none>" {
		t.Errorf("empty endpoints cell = %q", got)
	}
	ep.Subsets[0].Addresses[0].IP = "not-an-ip"
	wantErr(t, es.Validate(ep), "subsets[0].addresses[0].ip", field.ErrorTypeInvalid, "")

	ss := byName(t, "discovery.k8s.io/v1", "endpointslices").Strategy
	slice := &discoveryv1.EndpointSlice{ObjectMeta: meta("web-abc"), AddressType: discoveryv1.AddressTypeIPv4,
		Endpoints: []discoveryv1.Endpoint{{Addresses: []string{"10.1.0.1"}}, {Addresses: []string{"10.1.0.2"}}},
		Ports:     []discoveryv1.EndpointPort{{Port: ptrTo(int32(80))}},
	}
	ss.Default(slice)
	wantNoErrs(t, ss.Validate(slice))
	row := ss.Table.Row(slice)
	if row[1] != "IPv4" || row[2] != "80" || row[3] != "10.1.0.1,10.1.0.2" {
		t.Errorf("endpointslice row = %v", row)
	}
	bad := slice.DeepCopy()
	bad.AddressType = "IPv5"
	bad.Endpoints[0].Addresses = nil
	bad.Endpoints[1].Addresses = []string{"fd00::1"}
	errs := ss.Validate(bad)
	wantErr(t, errs, "addressType", field.ErrorTypeNotSupported, "")
	wantErr(t, errs, "endpoints[0].addresses", field.ErrorTypeRequired, "")
	v6 := slice.DeepCopy()
	v6.Endpoints[1].Addresses = []string{"fd00::1"}
	wantErr(t, ss.Validate(v6), "endpoints[1].addresses[0]", field.ErrorTypeInvalid, "IPv4")
}

func TestEventLeasePriorityClass(t *testing.T) {
	evs := byName(t, "v1", "events").Strategy
	ev := &corev1.Event{ObjectMeta: meta("web.1"), InvolvedObject: corev1.ObjectReference{Kind: "Pod", Name: "web", Namespace: "other"},
		Reason: "Pulled", Type: "Normal", Message: "pulled image", Source: corev1.EventSource{Component: "kubelet", Host: "node-a"}}
	wantErr(t, evs.Validate(ev), "involvedObject.namespace", field.ErrorTypeInvalid, "does not match event.namespace")
	ev.InvolvedObject.Namespace = "default"
	wantNoErrs(t, evs.Validate(ev))
	row := evs.Table.Row(ev)
	if row[0] != "web.1" || row[2] != "Normal" || row[3] != "Pulled" || row[4] != "pod/web" || row[6] != "kubelet, node-a" || row[7] != "pulled image" || row[9] != int64(1) {
		t.Errorf("event row = %v", row)
	}
	if evs.Table.Columns[0].Priority != 1 || evs.Table.Columns[0].Format != "name" {
		t.Errorf("event name column = %+v", evs.Table.Columns[0])
	}

	ls := byName(t, "coordination.k8s.io/v1", "leases").Strategy
	lease := &coordinationv1.Lease{ObjectMeta: meta("node-a"), Spec: coordinationv1.LeaseSpec{HolderIdentity: ptrTo("node-a"), LeaseDurationSeconds: ptrTo(int32(0))}}
	wantErr(t, ls.Validate(lease), "spec.leaseDurationSeconds", field.ErrorTypeInvalid, "")
	if row := ls.Table.Row(lease); row[1] != "node-a" {
		t.Errorf("lease holder = %v", row[1])
	}

	ps := byName(t, "scheduling.k8s.io/v1", "priorityclasses").Strategy
	pc := &schedulingv1.PriorityClass{ObjectMeta: metav1.ObjectMeta{Name: "high"}, Value: 1000}
	ps.Default(pc)
	wantNoErrs(t, ps.Validate(pc))
	if *pc.PreemptionPolicy != corev1.PreemptLowerPriority {
		t.Errorf("preemptionPolicy not defaulted")
	}
	tooHigh := &schedulingv1.PriorityClass{ObjectMeta: metav1.ObjectMeta{Name: "urgent"}, Value: 2000000000}
	wantErr(t, ps.Validate(tooHigh), "value", field.ErrorTypeForbidden, "1000000000")
	reserved := &schedulingv1.PriorityClass{ObjectMeta: metav1.ObjectMeta{Name: "system-mine"}, Value: 1}
	wantErr(t, ps.Validate(reserved), "metadata.name", field.ErrorTypeForbidden, "reserved")
	changed := pc.DeepCopy()
	changed.Value = 2000
	wantErr(t, ps.ValidateUpdate(changed, pc), "value", field.ErrorTypeForbidden, "")
	if row := ps.Table.Row(pc); row[1] != int64(1000) || row[2] != false || row[4] != "PreemptLowerPriority" {
		t.Errorf("priorityclass row = %v", row)
	}
}
