package registry

import (
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// byName returns the registered resource with the given group/version and
// plural name.
func byName(t *testing.T, gv, resource string) *Resource {
	t.Helper()
	for _, r := range All() {
		if r.GroupVersion.String() == gv && r.Resource == resource {
			return r
		}
	}
	t.Fatalf("resource %s %s not registered", gv, resource)
	return nil
}

// wantErr fails unless errs holds an error of type typ at path whose
// message contains detail.
func wantErr(t *testing.T, errs field.ErrorList, path string, typ field.ErrorType, detail string) {
	t.Helper()
	for _, e := range errs {
		if e.Field == path && e.Type == typ && strings.Contains(e.Error(), detail) {
			return
		}
	}
	t.Errorf("want %s error at %q containing %q; got %v", typ, path, detail, errs)
}

// wantNoErrs fails when errs is not empty.
func wantNoErrs(t *testing.T, errs field.ErrorList) {
	t.Helper()
	if len(errs) > 0 {
		t.Errorf("unexpected errors: %v", errs)
	}
}

// meta returns namespaced object metadata.
func meta(name string) metav1.ObjectMeta {
	return metav1.ObjectMeta{Name: name, Namespace: "default", UID: "uid-1", ResourceVersion: "1"}
}

// simplePodSpec is a valid pod spec with one container.
func simplePodSpec() corev1.PodSpec {
	return corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "nginx:1.27"}}}
}
