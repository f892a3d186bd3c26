package apiserver

import (
	"encoding/json"
	"net/http/httptest"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestStoredFormats(t *testing.T) {
	cm := &corev1.ConfigMap{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "ConfigMap"},
		ObjectMeta: metav1.ObjectMeta{Name: "x", Labels: map[string]string{"a": "b"}}, Data: map[string]string{"k": "v"}}
	pb, err := encodeProtobuf(cm)
	if err != nil {
		t.Fatal(err)
	}
	js, _ := json.Marshal(cm)
	for name, value := range map[string][]byte{"protobuf": pb, "json (older data)": js} {
		t.Run(name, func(t *testing.T) {
			var got corev1.ConfigMap
			if err := decodeStoredBytes(value, &got); err != nil {
				t.Fatal(err)
			}
			if got.Name != "x" || got.Labels["a"] != "b" || got.Data["k"] != "v" {
				t.Fatalf("decoded %+v", got)
			}
		})
	}
}

func TestPrefersProtobuf(t *testing.T) {
	cases := map[string]bool{
		"application/vnd.kubernetes.protobuf,application/json":          true,
		"application/json, */*":                                         false,
		"application/json;as=Table;v=v1;g=meta.k8s.io,application/json": false,
		"": false,
		"application/vnd.kubernetes.protobuf;as=Table;v=v1;g=meta.k8s.io,application/json": false,
	}
	for accept, want := range cases {
		r := httptest.NewRequest("GET", "/api/v1/pods", nil)
		r.Header.Set("Accept", accept)
		if got := prefersProtobuf(r); got != want {
			t.Errorf("Accept %q: prefersProtobuf = %v, want %v", accept, got, want)
		}
	}
}
