package apiserver

import (
	"context"
	"fmt"
	"strconv"

	"github.com/berth-dev/berth/internal/apiserver/registry"
	"github.com/berth-dev/berth/internal/store"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// storageOf returns the resource whose type res's objects are stored as.
func (s *Server) storageOf(res *registry.Resource) *registry.Resource {
	if res.StorageResource == "" {
		return res
	}
	return s.storage[schema.GroupResource{Group: res.GroupVersion.Group, Resource: res.StorageResource}]
}

// keyPrefix is the etcd key prefix of a resource's objects in namespace ns
// (all namespaces when ns is empty), relative to the store prefix.
func keyPrefix(res *registry.Resource, ns string) string {
	group := res.GroupVersion.Group
	if group == "" {
		group = "core"
	}
	plural := res.Resource
	if res.StorageResource != "" {
		plural = res.StorageResource
	}
	p := group + "/" + plural + "/"
	if ns != "" {
		p += ns + "/"
	}
	return p
}

func objectKey(res *registry.Resource, ns, name string) string {
	if !res.Namespaced {
		ns = ""
	}
	return keyPrefix(res, ns) + name
}

// decodeStored turns a stored value into an object of res's served type
// with its resourceVersion set.
func (s *Server) decodeStored(res *registry.Resource, value []byte, rev int64) (runtime.Object, error) {
	st := s.storageOf(res)
	obj := st.New()
	if err := decodeStoredBytes(value, obj); err != nil {
		return nil, fmt.Errorf("apiserver: decode stored %s: %w", st.Resource, err)
	}
	if res.FromStorage != nil {
		obj = res.FromStorage(obj)
	}
	obj.GetObjectKind().SetGroupVersionKind(res.GroupVersion.WithKind(res.Kind))
	if m, err := meta.Accessor(obj); err == nil {
		m.SetResourceVersion(strconv.FormatInt(rev, 10))
	}
	return obj, nil
}

// encodeForStorage converts a served object to its stored form and
// serializes it without its resourceVersion.
func (s *Server) encodeForStorage(res *registry.Resource, obj runtime.Object) ([]byte, error) {
	st := s.storageOf(res)
	stored := obj
	if res.ToStorage != nil {
		stored = res.ToStorage(obj.DeepCopyObject())
	} else {
		stored = obj.DeepCopyObject()
	}
	stored.GetObjectKind().SetGroupVersionKind(st.GroupVersion.WithKind(st.Kind))
	m, err := meta.Accessor(stored)
	if err != nil {
		return nil, err
	}
	m.SetResourceVersion("")
	return encodeProtobuf(stored)
}

// getObject reads one object (linearizable); the error is a Kubernetes
// status error.
func (s *Server) getObject(ctx context.Context, res *registry.Resource, ns, name string) (runtime.Object, int64, error) {
	return s.readObject(ctx, res, ns, name, s.store.Get)
}

// getForUpdate reads one object that a revision-guarded write will change;
// a serializable read suffices because a stale revision fails the write.
func (s *Server) getForUpdate(ctx context.Context, res *registry.Resource, ns, name string) (runtime.Object, int64, error) {
	return s.readObject(ctx, res, ns, name, s.store.GetForUpdate)
}

// currentForUpdate returns the object an update starts from, its revision
// and its stored value: a copy of the decoded cache's object when the cache
// holds key at expectRev (cached), else a serializable read's.
func (s *Server) currentForUpdate(ctx context.Context, res *registry.Resource, key, name string, expectRev int64) (cur runtime.Object, rev int64, stored []byte, cached bool, err error) {
	if expectRev > 0 {
		if obj, value, ok := s.cachedCopy(decodedKey{res: res, key: key, rev: expectRev}); ok {
			return obj, expectRev, value, true, nil
		}
	}
	kv, err := s.store.GetForUpdate(ctx, key)
	if err != nil {
		return nil, 0, nil, false, storeError(err, grOf(res), name)
	}
	if cur, err = s.privateObject(res, key, kv.Value, kv.ModRevision); err != nil {
		return nil, 0, nil, false, err
	}
	return cur, kv.ModRevision, kv.Value, false, nil
}

func (s *Server) readObject(ctx context.Context, res *registry.Resource, ns, name string, get func(context.Context, string) (store.KV, error)) (runtime.Object, int64, error) {
	key := objectKey(res, ns, name)
	kv, err := get(ctx, key)
	if err != nil {
		return nil, 0, storeError(err, grOf(res), name)
	}
	obj, err := s.privateObject(res, key, kv.Value, kv.ModRevision)
	if err != nil {
		return nil, 0, err
	}
	return obj, kv.ModRevision, nil
}

// privateObject returns the object stored under key at rev as value: a
// copy of the decoded cache's object when the cache holds it, else decoded.
func (s *Server) privateObject(res *registry.Resource, key string, value []byte, rev int64) (runtime.Object, error) {
	if obj, _, ok := s.cachedCopy(decodedKey{res: res, key: key, rev: rev}); ok {
		return obj, nil
	}
	return s.decodeStored(res, value, rev)
}

func accessor(obj runtime.Object) metav1.Object {
	m, err := meta.Accessor(obj)
	if err != nil {
		panic(fmt.Sprintf("apiserver: object %T has no metadata: %v", obj, err))
	}
	return m
}

func setRV(obj runtime.Object, rev int64) {
	accessor(obj).SetResourceVersion(strconv.FormatInt(rev, 10))
}

func parseRV(rv string) (int64, error) {
	if rv == "" {
		return 0, nil
	}
	n, err := strconv.ParseInt(rv, 10, 64)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("invalid resourceVersion %q", rv)
	}
	return n, nil
}

func grOf(res *registry.Resource) schema.GroupResource {
	return schema.GroupResource{Group: res.GroupVersion.Group, Resource: res.Resource}
}
