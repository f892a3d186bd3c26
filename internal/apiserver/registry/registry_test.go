package registry

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

func TestAllResources(t *testing.T) {
	want := []struct {
		gv, resource, kind string
		namespaced         bool
		trackGeneration    bool
	}{
		{"v1", "namespaces", "Namespace", false, false},
		{"v1", "nodes", "Node", false, false},
		{"v1", "pods", "Pod", true, false},
		{"v1", "services", "Service", true, false},
		{"v1", "endpoints", "Endpoints", true, false},
		{"v1", "events", "Event", true, false},
		{"v1", "configmaps", "ConfigMap", true, false},
		{"v1", "secrets", "Secret", true, false},
		{"apps/v1", "deployments", "Deployment", true, true},
		{"apps/v1", "replicasets", "ReplicaSet", true, true},
		{"batch/v1", "jobs", "Job", true, true},
		{"autoscaling/v2", "horizontalpodautoscalers", "HorizontalPodAutoscaler", true, true},
		{"autoscaling/v1", "horizontalpodautoscalers", "HorizontalPodAutoscaler", true, true},
		{"coordination.k8s.io/v1", "leases", "Lease", true, false},
		{"discovery.k8s.io/v1", "endpointslices", "EndpointSlice", true, false},
		{"scheduling.k8s.io/v1", "priorityclasses", "PriorityClass", false, false},
	}
	all := All()
	if len(all) != len(want) {
		t.Fatalf("All() has %d resources, want %d", len(all), len(want))
	}
	for i, w := range want {
		r := all[i]
		if r.GroupVersion.String() != w.gv || r.Resource != w.resource || r.Kind != w.kind ||
			r.Namespaced != w.namespaced || r.TrackGeneration != w.trackGeneration {
			t.Errorf("All()[%d] = %s %s %s ns=%v gen=%v, want %+v", i, r.GroupVersion, r.Resource, r.Kind, r.Namespaced, r.TrackGeneration, w)
		}
		if r.Singular == "" || r.New == nil || r.NewList == nil || r.Strategy.Table == nil {
			t.Errorf("%s: missing Singular, New, NewList or Table", r.Resource)
		}
		cols := r.Strategy.Table.Columns
		if cols[0].Name != "Name" || cols[0].Format != "name" {
			t.Errorf("%s: first column %+v is not the name column", r.Resource, cols[0])
		}
	}
	v1 := byName(t, "autoscaling/v1", "horizontalpodautoscalers")
	if v1.StorageResource != "horizontalpodautoscalers" || v1.ToStorage == nil || v1.FromStorage == nil {
		t.Errorf("autoscaling/v1 HPA lacks its storage conversion: %+v", v1)
	}
}

// TestZeroObjects runs every strategy function on empty objects: nothing
// may panic, and every table row has one cell per column.
func TestZeroObjects(t *testing.T) {
	for _, r := range All() {
		t.Run(r.GroupVersion.String()+"/"+r.Resource, func(t *testing.T) {
			s := r.Strategy
			obj, old := r.New(), r.New()
			for _, f := range []func(runtime.Object){s.PrepareForCreate, s.Default} {
				if f != nil {
					f(obj)
				}
			}
			if s.Validate != nil {
				_ = s.Validate(obj)
			}
			for _, f := range []func(runtime.Object, runtime.Object){s.PrepareForUpdate, s.PrepareForStatusUpdate} {
				if f != nil {
					f(obj, old)
				}
			}
			if s.ValidateUpdate != nil {
				_ = s.ValidateUpdate(obj, old)
			}
			if s.SpecEqual != nil && !s.SpecEqual(r.New(), r.New()) {
				t.Errorf("SpecEqual of two empty objects is false")
			}
			if row := s.Table.Row(obj); len(row) != len(s.Table.Columns) {
				t.Errorf("row has %d cells, want %d", len(row), len(s.Table.Columns))
			}
			_ = r.Fields(obj)
			if r.ToStorage != nil {
				if back := r.FromStorage(r.ToStorage(obj)); back == nil {
					t.Errorf("conversion lost the object")
				}
			}
		})
	}
}

func TestFieldsAndKnownField(t *testing.T) {
	pods := byName(t, "v1", "pods")
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "web-1", Namespace: "prod"},
		Spec:       corev1.PodSpec{NodeName: "node-a", RestartPolicy: corev1.RestartPolicyAlways},
		Status:     corev1.PodStatus{Phase: corev1.PodRunning, PodIP: "10.1.0.5"},
	}
	got := pods.Fields(pod)
	for k, v := range map[string]string{
		"metadata.name": "web-1", "metadata.namespace": "prod", "spec.nodeName": "node-a",
		"spec.restartPolicy": "Always", "status.phase": "Running", "status.podIP": "10.1.0.5",
	} {
		if got[k] != v {
			t.Errorf("Fields()[%q] = %q, want %q", k, got[k], v)
		}
	}
	if !fields.ParseSelectorOrDie("spec.nodeName=node-a,status.phase!=Failed").Matches(got) {
		t.Errorf("selector does not match %v", got)
	}

	tests := []struct {
		gv, resource, field string
		known               bool
	}{
		{"v1", "pods", "metadata.name", true},
		{"v1", "pods", "metadata.namespace", true},
		{"v1", "pods", "spec.nodeName", true},
		{"v1", "pods", "status.nominatedNodeName", true},
		{"v1", "pods", "spec.containers", false},
		{"v1", "nodes", "spec.unschedulable", true},
		{"v1", "nodes", "metadata.namespace", false},
		{"v1", "namespaces", "status.phase", true},
		{"v1", "secrets", "type", true},
		{"v1", "events", "involvedObject.name", true},
		{"v1", "events", "involvedObject.uid", true},
		{"v1", "events", "reportingComponent", true},
		{"v1", "events", "source", true},
		{"v1", "services", "spec.clusterIP", true},
		{"v1", "services", "spec.type", true},
		{"v1", "configmaps", "data", false},
		{"apps/v1", "replicasets", "status.replicas", true},
		{"apps/v1", "deployments", "status.replicas", false},
		{"batch/v1", "jobs", "status.successful", true},
		{"scheduling.k8s.io/v1", "priorityclasses", "metadata.name", true},
	}
	for _, tc := range tests {
		if got := byName(t, tc.gv, tc.resource).KnownField(tc.field); got != tc.known {
			t.Errorf("%s %s KnownField(%q) = %v, want %v", tc.gv, tc.resource, tc.field, got, tc.known)
		}
	}

	ev := &corev1.Event{
		ObjectMeta:     metav1.ObjectMeta{Name: "e", Namespace: "default"},
		InvolvedObject: corev1.ObjectReference{Kind: "Pod", Name: "web-1", Namespace: "default"},
		Reason:         "Scheduled", Type: "Normal", Source: corev1.EventSource{Component: "default-scheduler"},
	}
	set := byName(t, "v1", "events").Fields(ev)
	if set["involvedObject.kind"] != "Pod" || set["source"] != "default-scheduler" || set["reason"] != "Scheduled" {
		t.Errorf("event fields = %v", set)
	}
}

// TestValidateUpdateChecksMetadata: the API server leaves the metadata
// checks of an update (immutable uid, name, namespace, creationTimestamp)
// to a resource's ValidateUpdate when it has one, so each must make them.
func TestValidateUpdateChecksMetadata(t *testing.T) {
	for _, r := range All() {
		if r.Strategy.ValidateUpdate == nil {
			continue
		}
		t.Run(r.GroupVersion.String()+"/"+r.Resource, func(t *testing.T) {
			old := r.New()
			m, err := apimeta.Accessor(old)
			if err != nil {
				t.Fatal(err)
			}
			m.SetName("a")
			if r.Namespaced {
				m.SetNamespace("ns")
			}
			m.SetUID("uid-1")
			m.SetResourceVersion("7")
			obj := old.DeepCopyObject()
			accessorOf(t, obj).SetUID("uid-2")
			if !hasFieldError(r.Strategy.ValidateUpdate(obj, old), "metadata.uid") {
				t.Errorf("ValidateUpdate let metadata.uid change")
			}
			obj = old.DeepCopyObject()
			accessorOf(t, obj).SetName("b")
			if !hasFieldError(r.Strategy.ValidateUpdate(obj, old), "metadata.name") {
				t.Errorf("ValidateUpdate let metadata.name change")
			}
		})
	}
}

func accessorOf(t *testing.T, obj runtime.Object) metav1.Object {
	t.Helper()
	m, err := apimeta.Accessor(obj)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func hasFieldError(errs field.ErrorList, path string) bool {
	for _, e := range errs {
		if e.Field == path {
			return true
		}
	}
	return false
}
