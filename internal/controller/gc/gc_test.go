package gc_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/berth-dev/berth/internal/controller"
	"github.com/berth-dev/berth/internal/controller/gc"
	"github.com/berth-dev/berth/internal/server"
	"github.com/berth-dev/berth/internal/testutil/testenv"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/util/retry"
)

// deadline bounds every wait for the collector.
const deadline = 10 * time.Second

// hold is the test's own finalizer that keeps a dependent terminating.
const hold = "example.com/hold"

func testLogger() *slog.Logger {
	if testing.Verbose() {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

// startTyped runs the API server with gc.New as its only controller.
func startTyped(t *testing.T) kubernetes.Interface {
	return testenv.Start(t, testenv.Options{Controllers: []controller.Factory{gc.New}, Logger: testLogger()}).Client
}

// startMetadata runs the API server alone and the collector built by
// gc.NewWithConfig under a controller manager of the test's own.
func startMetadata(t *testing.T) kubernetes.Interface {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	srv, err := server.Start(ctx, server.Config{DataDir: t.TempDir(), Listen: "127.0.0.1:0",
		NoControllers: true, Logger: testLogger()})
	if err != nil {
		t.Fatalf("start server: %v", err)
	}
	t.Cleanup(srv.Close)
	cs := clientFor(t, srv)
	runCtx, stop := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		err := controller.RunManager(runCtx, controller.ManagerConfig{Client: cs, Logger: testLogger(),
			Factories: []controller.Factory{gc.NewWithConfig(srv.RestConfig())}})
		if err != nil {
			t.Errorf("controller manager: %v", err)
		}
	}()
	t.Cleanup(func() { stop(); <-done })
	return cs
}

func clientFor(t *testing.T, srv *server.Server) kubernetes.Interface {
	cs, err := kubernetes.NewForConfig(srv.RestConfig())
	if err != nil {
		t.Fatal(err)
	}
	return cs
}

// env is one test namespace on a running collector.
type env struct {
	t  *testing.T
	cs kubernetes.Interface
	ns string
}

func newEnv(t *testing.T, cs kubernetes.Interface, ns string) *env {
	t.Helper()
	_, err := cs.CoreV1().Namespaces().Create(context.Background(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return &env{t: t, cs: cs, ns: ns}
}

// ref is an ownerReference to o (a ConfigMap or Secret).
func ref(o metav1.Object, kind string, block bool) metav1.OwnerReference {
	r := metav1.OwnerReference{APIVersion: "v1", Kind: kind, Name: o.GetName(), UID: o.GetUID()}
	if block {
		r.BlockOwnerDeletion = &block
	}
	return r
}

func (e *env) meta(name string, refs []metav1.OwnerReference) metav1.ObjectMeta {
	return metav1.ObjectMeta{Name: name, Namespace: e.ns, OwnerReferences: refs}
}

func (e *env) configMap(name string, refs ...metav1.OwnerReference) *corev1.ConfigMap {
	e.t.Helper()
	cm, err := e.cs.CoreV1().ConfigMaps(e.ns).Create(context.Background(), &corev1.ConfigMap{ObjectMeta: e.meta(name, refs)}, metav1.CreateOptions{})
	if err != nil {
		e.t.Fatal(err)
	}
	return cm
}

func (e *env) secret(name string, finalizers []string, refs ...metav1.OwnerReference) *corev1.Secret {
	e.t.Helper()
	m := e.meta(name, refs)
	m.Finalizers = finalizers
	s, err := e.cs.CoreV1().Secrets(e.ns).Create(context.Background(), &corev1.Secret{ObjectMeta: m}, metav1.CreateOptions{})
	if err != nil {
		e.t.Fatal(err)
	}
	return s
}

func (e *env) pod(name string, refs ...metav1.OwnerReference) *corev1.Pod {
	e.t.Helper()
	p, err := e.cs.CoreV1().Pods(e.ns).Create(context.Background(), &corev1.Pod{ObjectMeta: e.meta(name, refs),
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "busybox"}}}}, metav1.CreateOptions{})
	if err != nil {
		e.t.Fatal(err)
	}
	return p
}

// get reads the metadata of kind/name, nil when it is gone.
func (e *env) get(kind, name string) *metav1.ObjectMeta {
	e.t.Helper()
	ctx := context.Background()
	var m *metav1.ObjectMeta
	var err error
	switch kind {
	case "ConfigMap":
		var o *corev1.ConfigMap
		if o, err = e.cs.CoreV1().ConfigMaps(e.ns).Get(ctx, name, metav1.GetOptions{}); err == nil {
			m = &o.ObjectMeta
		}
	case "Secret":
		var o *corev1.Secret
		if o, err = e.cs.CoreV1().Secrets(e.ns).Get(ctx, name, metav1.GetOptions{}); err == nil {
			m = &o.ObjectMeta
		}
	case "Pod":
		var o *corev1.Pod
		if o, err = e.cs.CoreV1().Pods(e.ns).Get(ctx, name, metav1.GetOptions{}); err == nil {
			m = &o.ObjectMeta
		}
	default:
		e.t.Fatalf("unknown kind %s", kind)
	}
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		e.t.Fatal(err)
	}
	return m
}

// waitFor polls cond until it holds or the deadline passes.
func (e *env) waitFor(what string, cond func() bool) {
	e.t.Helper()
	end := time.Now().Add(deadline)
	for !cond() {
		if time.Now().After(end) {
			e.t.Fatalf("timed out after %v waiting for %s", deadline, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// waitGone waits until every kind/name pair is gone.
func (e *env) waitGone(kindNames ...string) {
	e.t.Helper()
	for i := 0; i+1 < len(kindNames); i += 2 {
		kind, name := kindNames[i], kindNames[i+1]
		e.waitFor(fmt.Sprintf("%s %s/%s to be gone", kind, e.ns, name), func() bool { return e.get(kind, name) == nil })
	}
}

func (e *env) delete(name string, policy metav1.DeletionPropagation) {
	e.t.Helper()
	if err := e.cs.CoreV1().ConfigMaps(e.ns).Delete(context.Background(), name, metav1.DeleteOptions{PropagationPolicy: &policy}); err != nil {
		e.t.Fatal(err)
	}
}

// ownerUIDs lists the owner UIDs in m.
func ownerUIDs(m *metav1.ObjectMeta) []types.UID {
	var out []types.UID
	for _, r := range m.OwnerReferences {
		out = append(out, r.UID)
	}
	return out
}

func TestCollector(t *testing.T) {
	if testing.Short() {
		t.Skip("integration: starts the API server and etcd")
	}
	for _, mode := range []struct {
		name  string
		start func(*testing.T) kubernetes.Interface
	}{{"typed informers", startTyped}, {"metadata informers", startMetadata}} {
		t.Run(mode.name, func(t *testing.T) {
			cs := mode.start(t)
			t.Run("background", func(t *testing.T) { testBackground(newEnv(t, cs, "bg")) })
			t.Run("foreground", func(t *testing.T) { testForeground(newEnv(t, cs, "fg")) })
			t.Run("orphan", func(t *testing.T) { testOrphan(newEnv(t, cs, "orphan")) })
		})
	}
}

func testBackground(e *env) {
	owner := e.configMap("owner")
	other := e.configMap("other")
	e.secret("s1", nil, ref(owner, "ConfigMap", false))
	e.configMap("c1", ref(owner, "ConfigMap", true))
	e.pod("p1", ref(owner, "ConfigMap", false))
	mid := e.secret("mid", nil, ref(owner, "ConfigMap", true))
	e.configMap("leaf", ref(mid, "Secret", true))
	e.configMap("shared", ref(owner, "ConfigMap", false), ref(other, "ConfigMap", false))
	// Dependents of owners that never existed, or whose name now holds
	// another object, are collected right away.
	e.configMap("ghost-child", metav1.OwnerReference{APIVersion: "v1", Kind: "ConfigMap", Name: "ghost", UID: "no-such-uid"})
	e.configMap("stale-child", metav1.OwnerReference{APIVersion: "v1", Kind: "ConfigMap", Name: "other", UID: "old-uid"})
	e.waitGone("ConfigMap", "ghost-child", "ConfigMap", "stale-child")
	// A reference to an unknown kind is left alone.
	e.configMap("unknown-kind", metav1.OwnerReference{APIVersion: "example.com/v1", Kind: "Widget", Name: "w", UID: "w-uid"})

	e.delete("owner", metav1.DeletePropagationBackground)
	e.waitGone("ConfigMap", "owner", "Secret", "s1", "ConfigMap", "c1", "Pod", "p1", "Secret", "mid", "ConfigMap", "leaf")
	e.waitFor("shared to keep only its live owner", func() bool {
		m := e.get("ConfigMap", "shared")
		return m != nil && slices.Equal(ownerUIDs(m), []types.UID{other.UID})
	})
	if e.get("ConfigMap", "other") == nil {
		e.t.Fatal("the live owner was deleted")
	}
	if e.get("ConfigMap", "unknown-kind") == nil {
		e.t.Fatal("a dependent of an unknown kind was deleted")
	}
}

func testForeground(e *env) {
	owner := e.configMap("owner")
	held := e.secret("held", []string{hold}, ref(owner, "ConfigMap", true))
	mid := e.configMap("mid", ref(owner, "ConfigMap", true))
	e.pod("leaf", ref(mid, "ConfigMap", true))
	e.configMap("loose", ref(owner, "ConfigMap", false))

	e.delete("owner", metav1.DeletePropagationForeground)
	e.waitGone("Pod", "leaf", "ConfigMap", "mid", "ConfigMap", "loose")
	e.waitFor("held to be terminating with only the test's finalizer", func() bool {
		m := e.get("Secret", "held")
		return m != nil && m.DeletionTimestamp != nil && slices.Equal(m.Finalizers, []string{hold})
	})
	m := e.get("ConfigMap", "owner")
	if m == nil || m.DeletionTimestamp == nil || !slices.Contains(m.Finalizers, metav1.FinalizerDeleteDependents) {
		e.t.Fatalf("owner should wait for its blocking dependent: %+v", m)
	}

	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		s, err := e.cs.CoreV1().Secrets(e.ns).Get(context.Background(), held.Name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		s.Finalizers = slices.DeleteFunc(s.Finalizers, func(f string) bool { return f == hold })
		_, err = e.cs.CoreV1().Secrets(e.ns).Update(context.Background(), s, metav1.UpdateOptions{})
		return err
	})
	if err != nil {
		e.t.Fatal(err)
	}
	e.waitGone("Secret", "held", "ConfigMap", "owner")
}

func testOrphan(e *env) {
	owner := e.configMap("owner")
	e.secret("a", nil, ref(owner, "ConfigMap", false))
	e.configMap("b", ref(owner, "ConfigMap", true))
	e.pod("c", ref(owner, "ConfigMap", false))

	e.delete("owner", metav1.DeletePropagationOrphan)
	e.waitGone("ConfigMap", "owner")
	for _, kn := range [][2]string{{"Secret", "a"}, {"ConfigMap", "b"}, {"Pod", "c"}} {
		m := e.get(kn[0], kn[1])
		if m == nil {
			e.t.Fatalf("orphaned %s %s was deleted", kn[0], kn[1])
		}
		if len(m.OwnerReferences) != 0 {
			e.t.Fatalf("orphaned %s %s keeps owner references %v", kn[0], kn[1], m.OwnerReferences)
		}
	}
}
