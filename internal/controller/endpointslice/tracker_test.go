package endpointslice

import (
	"testing"
	"time"

	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestTracker(t *testing.T) {
	now := time.Unix(1000, 0)
	tr := newTracker(15 * time.Second)
	tr.now = func() time.Time { return now }
	cache := map[string]string{} // name → resourceVersion
	lookup := func(n string) (*discoveryv1.EndpointSlice, bool) {
		rv, ok := cache[n]
		return &discoveryv1.EndpointSlice{ObjectMeta: metav1.ObjectMeta{Name: n, ResourceVersion: rv}}, ok
	}
	slice := func(n, rv string) *discoveryv1.EndpointSlice {
		return &discoveryv1.EndpointSlice{ObjectMeta: metav1.ObjectMeta{Name: n, ResourceVersion: rv}}
	}
	const key = "ns/web"
	if !tr.synced(key, lookup) {
		t.Fatal("nothing written yet must be synced")
	}
	steps := []struct {
		name string
		do   func()
		want bool
	}{
		{"created, not yet cached", func() { tr.wrote(key, slice("a", "10")) }, false},
		{"cached at that version", func() { cache["a"] = "10" }, true},
		{"updated, cache older", func() { tr.wrote(key, slice("a", "12")) }, false},
		{"cache newer than written", func() { cache["a"] = "15" }, true},
		{"deleted, still cached", func() { tr.deleted(key, "a") }, false},
		{"gone from cache", func() { delete(cache, "a") }, true},
		{"created then deleted by someone else", func() { tr.wrote(key, slice("b", "20")); tr.observedDelete(key, "b") }, true},
		{"opaque version not waited for", func() { tr.wrote(key, slice("c", "xyz")) }, true},
		{"stuck expectation", func() { tr.wrote(key, slice("d", "30")) }, false},
		{"expires", func() { now = now.Add(16 * time.Second) }, true},
	}
	for _, s := range steps {
		s.do()
		if got := tr.synced(key, lookup); got != s.want {
			t.Fatalf("%s: synced = %v, want %v", s.name, got, s.want)
		}
	}
	if !tr.synced("ns/other", lookup) {
		t.Fatal("other services are independent")
	}
}
