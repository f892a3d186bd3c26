package server_test

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/berth-dev/berth/internal/server"
	"github.com/berth-dev/berth/internal/store"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/retry"
)

func skipShort(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("integration: starts embedded etcd and the API server")
	}
}

func start(t *testing.T, cfg server.Config) *server.Server {
	t.Helper()
	if cfg.DataDir == "" {
		cfg.DataDir = t.TempDir()
	}
	cfg.Listen = "127.0.0.1:0"
	if cfg.Controllers == nil {
		cfg.NoControllers = true // these tests look at the API alone
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	srv, err := server.Start(ctx, cfg)
	if err != nil {
		t.Fatalf("start server: %v", err)
	}
	t.Cleanup(srv.Close)
	return srv
}

func clientFor(t *testing.T, srv *server.Server) *kubernetes.Clientset {
	t.Helper()
	cs, err := kubernetes.NewForConfig(srv.RestConfig())
	if err != nil {
		t.Fatal(err)
	}
	return cs
}

func deployment(name string, replicas int32) *appsv1.Deployment {
	labels := map[string]string{"app": name}
	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: appsv1.DeploymentSpec{
			Replicas: &replicas,
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "web", Image: "web:1"}}},
			},
		},
	}
}

func pod(name string) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{"app": "x"}},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "busybox:1"}}},
	}
}

// TestInformerSeesEveryChangeInOrder drives pods and deployments through a
// shared informer factory (which uses WatchList) and checks the sequence.
func TestInformerSeesEveryChangeInOrder(t *testing.T) {
	skipShort(t)
	srv := start(t, server.Config{})
	cs := clientFor(t, srv)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	var mu sync.Mutex
	var seen []string
	record := func(s string) { mu.Lock(); seen = append(seen, s); mu.Unlock() }
	factory := informers.NewSharedInformerFactory(cs, 0)
	handler := func(kind string) cache.ResourceEventHandlerFuncs {
		return cache.ResourceEventHandlerFuncs{
			AddFunc: func(o any) { record(kind + " add " + o.(metav1.Object).GetName()) },
			UpdateFunc: func(_, o any) {
				m := o.(metav1.Object)
				record(kind + " update " + m.GetName() + " " + m.GetLabels()["v"])
			},
			DeleteFunc: func(o any) {
				if d, ok := o.(cache.DeletedFinalStateUnknown); ok {
					o = d.Obj
				}
				record(kind + " delete " + o.(metav1.Object).GetName())
			},
		}
	}
	if _, err := factory.Core().V1().Pods().Informer().AddEventHandler(handler("pod")); err != nil {
		t.Fatal(err)
	}
	if _, err := factory.Apps().V1().Deployments().Informer().AddEventHandler(handler("deploy")); err != nil {
		t.Fatal(err)
	}
	// One object exists before the informer starts: it must arrive as an add.
	if _, err := cs.CoreV1().Pods("default").Create(ctx, pod("p0"), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	factory.Start(stop)
	defer func() { close(stop); factory.Shutdown() }()
	for typ, ok := range factory.WaitForCacheSync(ctx.Done()) {
		if !ok {
			t.Fatalf("informer for %v did not sync", typ)
		}
	}
	pods := cs.CoreV1().Pods("default")
	for i := 1; i <= 3; i++ {
		if _, err := pods.Create(ctx, pod(fmt.Sprintf("p%d", i)), metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	for v := 1; v <= 3; v++ {
		p, err := pods.Get(ctx, "p1", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		p.Labels["v"] = strconv.Itoa(v)
		if _, err := pods.Update(ctx, p, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	if err := pods.Delete(ctx, "p2", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := cs.AppsV1().Deployments("default").Create(ctx, deployment("web", 2), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := cs.AppsV1().Deployments("default").Delete(ctx, "web", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	wantPods := []string{"pod add p0", "pod add p1", "pod add p2", "pod add p3",
		"pod update p1 1", "pod update p1 2", "pod update p1 3", "pod delete p2"}
	wantDeploys := []string{"deploy add web", "deploy delete web"}
	deadline := time.Now().Add(20 * time.Second)
	for {
		mu.Lock()
		var gotPods, gotDeploys []string
		for _, s := range seen {
			if s[:3] == "pod" {
				gotPods = append(gotPods, s)
			} else {
				gotDeploys = append(gotDeploys, s)
			}
		}
		mu.Unlock()
		if fmt.Sprint(gotPods) == fmt.Sprint(wantPods) && fmt.Sprint(gotDeploys) == fmt.Sprint(wantDeploys) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("informer events:\n got pods %v\nwant pods %v\n got deploys %v\nwant deploys %v", gotPods, wantPods, gotDeploys, wantDeploys)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestConcurrentUpdatesLoseNothing has 50 goroutines increment one counter
// with retry-on-conflict.
func TestConcurrentUpdatesLoseNothing(t *testing.T) {
	skipShort(t)
	srv := start(t, server.Config{})
	cs := clientFor(t, srv)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cms := cs.CoreV1().ConfigMaps("default")
	if _, err := cms.Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "counter"}, Data: map[string]string{"n": "0"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	const workers, each = 50, 4
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < each; i++ {
				err := retry.RetryOnConflict(conflictBackoff, func() error {
					cm, err := cms.Get(ctx, "counter", metav1.GetOptions{})
					if err != nil {
						return err
					}
					n, _ := strconv.Atoi(cm.Data["n"])
					cm.Data["n"] = strconv.Itoa(n + 1)
					_, err = cms.Update(ctx, cm, metav1.UpdateOptions{})
					return err
				})
				if err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	cm, err := cms.Get(ctx, "counter", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if cm.Data["n"] != strconv.Itoa(workers*each) {
		t.Fatalf("counter = %s, want %d", cm.Data["n"], workers*each)
	}
}

// conflictBackoff retries conflicts for as long as 50 writers need.
var conflictBackoff = wait.Backoff{Duration: 5 * time.Millisecond, Factor: 1, Jitter: 2, Steps: 5000}

// TestRestartKeepsObjects stops the server and starts it on the same data
// directory: objects, UIDs and resourceVersions survive.
func TestRestartKeepsObjects(t *testing.T) {
	skipShort(t)
	dir := t.TempDir()
	srv := start(t, server.Config{DataDir: dir})
	cs := clientFor(t, srv)
	ctx := context.Background()
	created, err := cs.AppsV1().Deployments("default").Create(ctx, deployment("keep", 3), metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	svc, err := cs.CoreV1().Services("default").Create(ctx, &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "keep"},
		Spec:       corev1.ServiceSpec{Type: corev1.ServiceTypeNodePort, Selector: map[string]string{"app": "keep"}, Ports: []corev1.ServicePort{{Port: 80}}},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	srv.Close()

	srv2 := start(t, server.Config{DataDir: dir})
	cs2 := clientFor(t, srv2)
	got, err := cs2.AppsV1().Deployments("default").Get(ctx, "keep", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got.UID != created.UID || got.ResourceVersion != created.ResourceVersion || *got.Spec.Replicas != 3 {
		t.Fatalf("after restart: uid %s rv %s replicas %d; before: uid %s rv %s", got.UID, got.ResourceVersion, *got.Spec.Replicas, created.UID, created.ResourceVersion)
	}
	// The allocations survive too: the same node port cannot be taken again.
	dup := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "dup"},
		Spec:       corev1.ServiceSpec{Type: corev1.ServiceTypeNodePort, Ports: []corev1.ServicePort{{Port: 80, NodePort: svc.Spec.Ports[0].NodePort}}},
	}
	if _, err := cs2.CoreV1().Services("default").Create(ctx, dup, metav1.CreateOptions{}); !apierrors.IsInvalid(err) {
		t.Fatalf("duplicate node port after restart: got %v, want Invalid", err)
	}
}

// TestExternalEtcdUnavailable runs the server against a separately started
// etcd (--etcd-endpoints), stops that etcd (503 with Retry-After) and
// starts it again (the server recovers).
func TestExternalEtcdUnavailable(t *testing.T) {
	skipShort(t)
	etcdDir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	etcd, err := store.StartEmbedded(ctx, store.EmbeddedConfig{DataDir: etcdDir})
	if err != nil {
		t.Fatal(err)
	}
	endpoints := etcd.Endpoints()
	srv := start(t, server.Config{EtcdEndpoints: endpoints})
	cs := clientFor(t, srv)
	if _, err := cs.CoreV1().ConfigMaps("default").Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "before"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	etcd.Close()

	req, _ := http.NewRequest(http.MethodGet, srv.URL()+"/api/v1/namespaces/default/configmaps/before", nil)
	req.Header.Set("Authorization", "Bearer "+srv.AdminToken())
	hc, err := rest.HTTPClientFor(srv.RestConfig())
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("with etcd down: status %d Retry-After %q, want 503 with Retry-After", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
	if took := time.Since(start); took > 15*time.Second {
		t.Fatalf("503 took %v", took)
	}

	// Same data dir, same ports: the server's client reconnects.
	etcd2, err := store.StartEmbedded(ctx, store.EmbeddedConfig{DataDir: etcdDir, ClientURL: endpoints[0]})
	if err != nil {
		t.Fatal(err)
	}
	defer etcd2.Close()
	deadline := time.Now().Add(30 * time.Second)
	for {
		_, err := cs.CoreV1().ConfigMaps("default").Get(ctx, "before", metav1.GetOptions{})
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("server did not recover after etcd came back: %v", err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}
