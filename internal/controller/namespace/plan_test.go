package namespace

import (
	"reflect"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

func TestDecide(t *testing.T) {
	now := metav1.Now()
	ns := func(name string, deleting bool, spec []corev1.FinalizerName, meta ...string) *corev1.Namespace {
		n := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name, Finalizers: meta}, Spec: corev1.NamespaceSpec{Finalizers: spec}}
		if deleting {
			n.DeletionTimestamp = &now
		}
		return n
	}
	k := []corev1.FinalizerName{finalizerKubernetes}
	for _, tc := range []struct {
		name string
		ns   *corev1.Namespace
		want action
	}{
		{"active", ns("app", false, k), actionNone},
		{"active default", ns("default", false, k), actionNone},
		{"terminating", ns("app", true, k), actionEmpty},
		{"terminating with other spec finalizers", ns("app", true, []corev1.FinalizerName{"example.com/x", finalizerKubernetes}), actionEmpty},
		{"only others' spec finalizers", ns("app", true, []corev1.FinalizerName{"example.com/x"}), actionNone},
		{"only metadata finalizers", ns("app", true, nil, "orphan"), actionNone},
		{"no finalizers left", ns("app", true, nil), actionDelete},
		{"kube-system marked", ns("kube-system", true, k), actionProtected},
		{"default marked", ns("default", true, k), actionProtected},
		{"kube-public marked", ns("kube-public", true, nil), actionProtected},
		{"kube-node-lease may go", ns("kube-node-lease", true, k), actionEmpty},
	} {
		if got := decide(tc.ns); got != tc.want {
			t.Errorf("%s: decide = %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestWithoutFinalizer(t *testing.T) {
	in := []corev1.FinalizerName{"a", finalizerKubernetes, "b"}
	if got := withoutFinalizer(in, finalizerKubernetes); !reflect.DeepEqual(got, []corev1.FinalizerName{"a", "b"}) {
		t.Errorf("got %v", got)
	}
	if len(in) != 3 || in[1] != finalizerKubernetes {
		t.Error("input modified")
	}
	if got := withoutFinalizer([]corev1.FinalizerName{finalizerKubernetes}, finalizerKubernetes); len(got) != 0 {
		t.Errorf("got %v", got)
	}
}

func TestTargets(t *testing.T) {
	all := []string{"create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"}
	lists := []*metav1.APIResourceList{
		{GroupVersion: "v1", APIResources: []metav1.APIResource{
			{Name: "pods", Namespaced: true, Verbs: all},
			{Name: "pods/status", Namespaced: true, Verbs: []string{"get", "patch", "update"}},
			{Name: "pods/binding", Namespaced: true, Verbs: []string{"create"}},
			{Name: "configmaps", Namespaced: true, Verbs: all},
			{Name: "nodes", Namespaced: false, Verbs: all},
			{Name: "bindings", Namespaced: true, Verbs: []string{"create"}},
		}},
		{GroupVersion: "apps/v1", APIResources: []metav1.APIResource{
			{Name: "deployments", Namespaced: true, Verbs: all},
			{Name: "deployments/scale", Namespaced: true, Verbs: []string{"get", "update"}},
		}},
		{GroupVersion: "example.com/v1", APIResources: []metav1.APIResource{
			{Name: "widgets", Namespaced: true, Verbs: []string{"get", "list", "delete"}},
		}},
		{GroupVersion: "example.com/v2", APIResources: []metav1.APIResource{
			{Name: "widgets", Namespaced: true, Verbs: all}, // the same resource in another version
		}},
		nil,
	}
	got := targets(lists)
	want := []target{
		{gv: schema.GroupVersion{Version: "v1"}, resource: "configmaps", deleteCollection: true},
		{gv: schema.GroupVersion{Group: "apps", Version: "v1"}, resource: "deployments", deleteCollection: true},
		{gv: schema.GroupVersion{Version: "v1"}, resource: "pods", deleteCollection: true},
		{gv: schema.GroupVersion{Group: "example.com", Version: "v1"}, resource: "widgets", deleteCollection: false},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("targets =\n%+v\nwant\n%+v", got, want)
	}
	if p := want[0].path("ns1"); p != "/api/v1/namespaces/ns1/configmaps" {
		t.Errorf("core path = %s", p)
	}
	if p := want[1].path("ns1"); p != "/apis/apps/v1/namespaces/ns1/deployments" {
		t.Errorf("group path = %s", p)
	}
	if s := want[1].String(); s != "deployments.apps" {
		t.Errorf("String = %s", s)
	}
}

func TestPollDelay(t *testing.T) {
	for _, tc := range []struct {
		name string
		left []leftover
		want time.Duration
	}{
		{"empty", nil, 0},
		{"all counted zero", []leftover{{resource: "pods"}}, 0},
		{"terminating pods", []leftover{{resource: "pods", count: 2}}, pollTerminating},
		{"only finalizers", []leftover{{resource: "configmaps", count: 1, finalized: 1}}, pollFinalizers},
		{"mixed", []leftover{{resource: "configmaps", count: 1, finalized: 1}, {resource: "pods", count: 1}}, pollTerminating},
	} {
		if got := pollDelay(tc.left); got != tc.want {
			t.Errorf("%s: pollDelay = %v, want %v", tc.name, got, tc.want)
		}
	}
}
