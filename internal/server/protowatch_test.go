package server_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/berth-dev/berth/internal/server"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/serializer/streaming"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	restwatch "k8s.io/client-go/rest/watch"
)

// TestProtobufWatchStream checks that a client preferring protobuf gets a
// Kubernetes protobuf watch stream that client-go's own decoder reads.
func TestProtobufWatchStream(t *testing.T) {
	skipShort(t)
	srv := start(t, server.Config{NoControllers: true})
	cs := clientFor(t, srv)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	hc, err := rest.HTTPClientFor(srv.RestConfig())
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL()+"/api/v1/namespaces/default/configmaps?watch=true&resourceVersion=0", nil)
	req.Header.Set("Authorization", "Bearer "+srv.AdminToken())
	req.Header.Set("Accept", "application/vnd.kubernetes.protobuf, application/json")
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); ct != "application/vnd.kubernetes.protobuf;stream=watch" {
		t.Fatalf("Content-Type %q", ct)
	}
	if _, err := cs.CoreV1().ConfigMaps("default").Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "pw"}, Data: map[string]string{"k": "v"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	info, ok := runtimeSerializer("application/vnd.kubernetes.protobuf")
	if !ok {
		t.Fatal("no protobuf serializer in client-go's scheme")
	}
	dec := restwatch.NewDecoder(streaming.NewDecoder(info.StreamSerializer.Framer.NewFrameReader(resp.Body), info.StreamSerializer.Serializer), info.Serializer)
	typ, obj, err := dec.Decode()
	if err != nil {
		t.Fatalf("decode protobuf watch event: %v", err)
	}
	cm, ok := obj.(*corev1.ConfigMap)
	if typ != watch.Added || !ok || cm.Name != "pw" || cm.Data["k"] != "v" || cm.ResourceVersion == "" {
		t.Fatalf("event %s %#v", typ, obj)
	}
}

func runtimeSerializer(mediaType string) (info runtime.SerializerInfo, ok bool) {
	for _, si := range scheme.Codecs.SupportedMediaTypes() {
		if si.MediaType == mediaType && si.StreamSerializer != nil {
			return si, true
		}
	}
	return info, false
}
