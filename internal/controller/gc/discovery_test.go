package gc

import (
	"encoding/json"
	"fmt"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/strategicpatch"
)

func TestSelectResources(t *testing.T) {
	all := []string{"create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"}
	lists := []*metav1.APIResourceList{
		{GroupVersion: "v1", APIResources: []metav1.APIResource{
			{Name: "pods", Namespaced: true, Kind: "Pod", Verbs: all},
			{Name: "pods/status", Namespaced: true, Kind: "Pod", Verbs: []string{"get", "patch", "update"}},
			{Name: "bindings", Namespaced: true, Kind: "Binding", Verbs: []string{"create"}},
			{Name: "events", Namespaced: true, Kind: "Event", Verbs: all},
			{Name: "namespaces", Kind: "Namespace", Verbs: all},
			{Name: "readonly", Namespaced: true, Kind: "ReadOnly", Verbs: []string{"get", "list", "watch"}},
		}},
		{GroupVersion: "apps/v1", APIResources: []metav1.APIResource{
			{Name: "deployments", Namespaced: true, Kind: "Deployment", Verbs: all},
		}},
		{GroupVersion: "autoscaling/v2", APIResources: []metav1.APIResource{
			{Name: "horizontalpodautoscalers", Namespaced: true, Kind: "HorizontalPodAutoscaler", Verbs: all},
		}},
		{GroupVersion: "events.k8s.io/v1", APIResources: []metav1.APIResource{
			{Name: "events", Namespaced: true, Kind: "Event", Verbs: all},
		}},
	}
	rs := selectResources(lists)
	var got []string
	for _, r := range rs.watched {
		got = append(got, r.gvr.String())
	}
	want := "[apps/v1, Resource=deployments autoscaling/v2, Resource=horizontalpodautoscalers /v1, Resource=namespaces /v1, Resource=pods]"
	if fmt.Sprint(got) != want {
		t.Fatalf("watched %v\nwant    %s", got, want)
	}
	for _, tc := range []struct {
		apiVersion, kind, want string
	}{
		{"apps/v1", "Deployment", "deployments.apps"},
		{"autoscaling/v1", "HorizontalPodAutoscaler", "horizontalpodautoscalers.autoscaling"},
		{"v1", "ReadOnly", "readonly"},
		{"v1", "Event", "events"},
		{"v1", "Nothing", "<nil>"},
		{"apps/v1", "Pod", "<nil>"},
		{"a/b/c", "Pod", "<nil>"},
	} {
		r := rs.forRef(metav1.OwnerReference{APIVersion: tc.apiVersion, Kind: tc.kind})
		got := "<nil>"
		if r != nil {
			got = r.String()
		}
		if got != tc.want {
			t.Errorf("forRef(%s %s) = %s, want %s", tc.apiVersion, tc.kind, got, tc.want)
		}
	}
}

func TestURLPath(t *testing.T) {
	pods := &resource{namespaced: true}
	pods.gvr.Version, pods.gvr.Resource = "v1", "pods"
	deps := &resource{namespaced: true}
	deps.gvr.Group, deps.gvr.Version, deps.gvr.Resource = "apps", "v1", "deployments"
	nodes := &resource{}
	nodes.gvr.Version, nodes.gvr.Resource = "v1", "nodes"
	for _, tc := range []struct{ got, want string }{
		{pods.urlPath("ns", "p"), "/api/v1/namespaces/ns/pods/p"},
		{deps.urlPath("ns", "d"), "/apis/apps/v1/namespaces/ns/deployments/d"},
		{nodes.urlPath("", "n"), "/api/v1/nodes/n"},
	} {
		if tc.got != tc.want {
			t.Errorf("got %s, want %s", tc.got, tc.want)
		}
	}
}

// patchConfigMap applies a strategic-merge patch to cm the way the API
// server does.
func patchConfigMap(t *testing.T, cm *corev1.ConfigMap, patch []byte) *corev1.ConfigMap {
	t.Helper()
	doc, err := json.Marshal(cm)
	if err != nil {
		t.Fatal(err)
	}
	out, err := strategicpatch.StrategicMergePatch(doc, patch, &corev1.ConfigMap{})
	if err != nil {
		t.Fatal(err)
	}
	var got corev1.ConfigMap
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatal(err)
	}
	return &got
}

func TestPatches(t *testing.T) {
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{
		Name: "c", UID: "me",
		Finalizers: []string{"a/b", finalizerForeground, "c/d"},
		OwnerReferences: []metav1.OwnerReference{
			{APIVersion: "v1", Kind: "ConfigMap", Name: "x", UID: "x"},
			{APIVersion: "v1", Kind: "ConfigMap", Name: "y", UID: "y"},
			{APIVersion: "v1", Kind: "ConfigMap", Name: "z", UID: "z"},
		},
	}}
	p, err := stripPatch("me", []types.UID{"x", "z", "absent"})
	if err != nil {
		t.Fatal(err)
	}
	got := patchConfigMap(t, cm, p)
	if len(got.OwnerReferences) != 1 || got.OwnerReferences[0].UID != "y" || got.UID != "me" {
		t.Fatalf("strip patch %s gave %+v", p, got.ObjectMeta)
	}
	p, err = finalizerPatch("me", finalizerForeground)
	if err != nil {
		t.Fatal(err)
	}
	got = patchConfigMap(t, cm, p)
	if fmt.Sprint(got.Finalizers) != "[a/b c/d]" || len(got.OwnerReferences) != 3 {
		t.Fatalf("finalizer patch %s gave %+v", p, got.ObjectMeta)
	}
}
