package server_test

import (
	"context"
	"testing"
	"time"

	typedcorev1 "k8s.io/client-go/kubernetes/typed/core/v1"

	"github.com/berth-dev/berth/internal/server"
	"github.com/berth-dev/berth/internal/store"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/watch"
)

// TestDecodedCacheAcrossTwoServers writes one ConfigMap alternately through
// two API servers over one etcd: each server's decoded cache holds the
// revisions it wrote or watched, and an update that starts from a cached
// revision must still see the other server's writes (conflict, not found),
// GETs must return the latest state, and a watch the exact objects.
func TestDecodedCacheAcrossTwoServers(t *testing.T) {
	ctx, a, b := twoServers(t)

	var err error
	w, err := a.Watch(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()

	v1, err := a.Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "cm"}, Data: map[string]string{"k": "1"}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	// B changes it; A's cache still holds v1.
	v2 := v1.DeepCopy()
	v2.Data["k"] = "2"
	if v2, err = b.Update(ctx, v2, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	stale := v1.DeepCopy()
	stale.Data["k"] = "stale"
	if _, err := a.Update(ctx, stale, metav1.UpdateOptions{}); !apierrors.IsConflict(err) {
		t.Fatalf("update through A from the revision B replaced: err = %v, want a conflict", err)
	}
	if got, err := a.Get(ctx, "cm", metav1.GetOptions{}); err != nil || got.Data["k"] != "2" || got.ResourceVersion != v2.ResourceVersion {
		t.Fatalf("GET through A = %v (rv %s), %v; want B's write (rv %s)", got.Data, got.ResourceVersion, err, v2.ResourceVersion)
	}
	// From the current revision the update goes through, and B sees it.
	v3 := v2.DeepCopy()
	v3.Data["k"] = "3"
	if v3, err = a.Update(ctx, v3, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	if got, err := b.Get(ctx, "cm", metav1.GetOptions{}); err != nil || got.Data["k"] != "3" || got.ResourceVersion != v3.ResourceVersion {
		t.Fatalf("GET through B = %v (rv %s), %v; want A's write (rv %s)", got.Data, got.ResourceVersion, err, v3.ResourceVersion)
	}
	// Updating the same revision twice: the second is a conflict.
	again := v2.DeepCopy()
	again.Data["k"] = "again"
	if _, err := a.Update(ctx, again, metav1.UpdateOptions{}); !apierrors.IsConflict(err) {
		t.Fatalf("second update from rv %s: err = %v, want a conflict", v2.ResourceVersion, err)
	}
	// B deletes it; an update through A from the last (cached) revision
	// finds it gone.
	if err := b.Delete(ctx, "cm", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	gone := v3.DeepCopy()
	gone.Data["k"] = "gone"
	if _, err := a.Update(ctx, gone, metav1.UpdateOptions{}); !apierrors.IsNotFound(err) {
		t.Fatalf("update through A after B deleted it: err = %v, want not found", err)
	}

	want := []struct {
		t     watch.EventType
		k, rv string
	}{{watch.Added, "1", v1.ResourceVersion}, {watch.Modified, "2", v2.ResourceVersion}, {watch.Modified, "3", v3.ResourceVersion}, {watch.Deleted, "3", ""}}
	for i, wnt := range want {
		select {
		case ev := <-w.ResultChan():
			cm, ok := ev.Object.(*corev1.ConfigMap)
			if !ok || ev.Type != wnt.t || cm.Data["k"] != wnt.k || (wnt.rv != "" && cm.ResourceVersion != wnt.rv) {
				t.Fatalf("watch event %d = %s %#v, want %s k=%s rv=%s", i, ev.Type, ev.Object, wnt.t, wnt.k, wnt.rv)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("watch event %d (%s) did not arrive", i, wnt.t)
		}
	}
}

// TestNoOpUpdatesKeepTheResourceVersion: an update or patch that changes
// nothing writes nothing, whether it starts from the decoded cache (the
// server that wrote the object) or from a read (another server).
func TestNoOpUpdatesKeepTheResourceVersion(t *testing.T) {
	ctx, a, b := twoServers(t)
	cm, err := a.Create(ctx, &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Name: "same", Labels: map[string]string{"x": "1", "y": "2"}},
		Data:       map[string]string{"k": "1", "l": "2", "m": "3"},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	rv := cm.ResourceVersion
	for _, c := range []struct {
		name string
		do   func() (*corev1.ConfigMap, error)
	}{
		{"update through the writer", func() (*corev1.ConfigMap, error) { return a.Update(ctx, cm.DeepCopy(), metav1.UpdateOptions{}) }},
		{"update through the other server", func() (*corev1.ConfigMap, error) { return b.Update(ctx, cm.DeepCopy(), metav1.UpdateOptions{}) }},
		{"update without resourceVersion", func() (*corev1.ConfigMap, error) {
			u := cm.DeepCopy()
			u.ResourceVersion = ""
			return a.Update(ctx, u, metav1.UpdateOptions{})
		}},
		{"merge patch", func() (*corev1.ConfigMap, error) {
			return a.Patch(ctx, "same", types.MergePatchType, []byte(`{"data":{"k":"1"},"metadata":{"labels":{"y":"2"}}}`), metav1.PatchOptions{})
		}},
	} {
		got, err := c.do()
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if got.ResourceVersion != rv {
			t.Errorf("%s: resourceVersion %s, want %s unchanged", c.name, got.ResourceVersion, rv)
		}
	}
	changed := cm.DeepCopy()
	changed.Data["k"] = "changed"
	got, err := a.Update(ctx, changed, metav1.UpdateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got.ResourceVersion == rv {
		t.Errorf("a real change kept resourceVersion %s", rv)
	}
}

// twoServers starts an etcd and two API servers on it (no controllers) and
// returns a context for the test and each server's ConfigMaps in default.
func twoServers(t *testing.T) (ctx context.Context, a, b typedcorev1.ConfigMapInterface) {
	t.Helper()
	skipShort(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	etcd, err := store.StartEmbedded(ctx, store.EmbeddedConfig{DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(etcd.Close)
	a = clientFor(t, start(t, server.Config{EtcdEndpoints: etcd.Endpoints(), Identity: "server-a"})).CoreV1().ConfigMaps("default")
	b = clientFor(t, start(t, server.Config{EtcdEndpoints: etcd.Endpoints(), Identity: "server-b"})).CoreV1().ConfigMaps("default")
	return ctx, a, b
}
