package server_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/berth-dev/berth/internal/server"
	autoscalingv1 "k8s.io/api/autoscaling/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/cache"
)

// rawClient does plain HTTP requests with the admin token.
type rawClient struct {
	t   *testing.T
	srv *server.Server
	hc  *http.Client
}

func newRaw(t *testing.T, srv *server.Server) *rawClient {
	hc, err := rest.HTTPClientFor(srv.RestConfig())
	if err != nil {
		t.Fatal(err)
	}
	return &rawClient{t: t, srv: srv, hc: hc}
}

func (c *rawClient) do(method, path, contentType, body string, header ...string) (int, http.Header, string) {
	c.t.Helper()
	req, err := http.NewRequest(method, c.srv.URL()+path, strings.NewReader(body))
	if err != nil {
		c.t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+c.srv.AdminToken())
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, string(b)
}

// TestAPISemantics covers request handling that kubectl and client-go rely on.
func TestAPISemantics(t *testing.T) {
	skipShort(t)
	srv := start(t, server.Config{})
	cs := clientFor(t, srv)
	raw := newRaw(t, srv)
	ctx := context.Background()
	cms := cs.CoreV1().ConfigMaps("default")

	t.Run("paging with limit and continue reads one revision", func(t *testing.T) {
		for i := 0; i < 7; i++ {
			if _, err := cs.CoreV1().ConfigMaps("default").Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("page-%d", i), Labels: map[string]string{"page": "yes"}}}, metav1.CreateOptions{}); err != nil {
				t.Fatal(err)
			}
		}
		var names []string
		opts := metav1.ListOptions{Limit: 3, LabelSelector: "page=yes"}
		first := ""
		for {
			l, err := cms.List(ctx, opts)
			if err != nil {
				t.Fatal(err)
			}
			if first == "" {
				first = l.ResourceVersion
				// A write between pages must not show up in later pages.
				if _, err := cms.Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "page-9", Labels: map[string]string{"page": "yes"}}}, metav1.CreateOptions{}); err != nil {
					t.Fatal(err)
				}
			} else if l.ResourceVersion != first {
				t.Fatalf("page at RV %s, first page at %s", l.ResourceVersion, first)
			}
			for _, it := range l.Items {
				names = append(names, it.Name)
			}
			if l.Continue == "" {
				break
			}
			opts.Continue = l.Continue
		}
		if fmt.Sprint(names) != "[page-0 page-1 page-2 page-3 page-4 page-5 page-6]" {
			t.Fatalf("paged names %v", names)
		}
	})

	t.Run("unknown field selector is rejected", func(t *testing.T) {
		_, err := cms.List(ctx, metav1.ListOptions{FieldSelector: "spec.nope=x"})
		if !apierrors.IsBadRequest(err) || !strings.Contains(err.Error(), `"spec.nope" is not a known field selector`) {
			t.Fatalf("got %v", err)
		}
	})

	t.Run("field selectors on pods", func(t *testing.T) {
		p := pod("sel-a")
		p.Spec.NodeName = "node-1"
		if _, err := cs.CoreV1().Pods("default").Create(ctx, p, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		if _, err := cs.CoreV1().Pods("default").Create(ctx, pod("sel-b"), metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		l, err := cs.CoreV1().Pods("").List(ctx, metav1.ListOptions{FieldSelector: fields.OneTermEqualSelector("spec.nodeName", "node-1").String()})
		if err != nil || len(l.Items) != 1 || l.Items[0].Name != "sel-a" {
			t.Fatalf("list by spec.nodeName: %v %v", err, l)
		}
	})

	t.Run("strict, warn and ignore field validation", func(t *testing.T) {
		body := `{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"fv-%s"},"bogus":1}`
		code, _, out := raw.do("POST", "/api/v1/namespaces/default/configmaps?fieldValidation=Strict", "application/json", fmt.Sprintf(body, "strict"))
		if code != 400 || !strings.Contains(out, `strict decoding error: unknown field \"bogus\"`) {
			t.Fatalf("Strict: %d %s", code, out)
		}
		code, h, _ := raw.do("POST", "/api/v1/namespaces/default/configmaps?fieldValidation=Warn", "application/json", fmt.Sprintf(body, "warn"))
		if code != 201 || !strings.Contains(h.Get("Warning"), `unknown field \"bogus\"`) {
			t.Fatalf("Warn: %d warning %q", code, h.Get("Warning"))
		}
		code, h, _ = raw.do("POST", "/api/v1/namespaces/default/configmaps?fieldValidation=Ignore", "application/json", fmt.Sprintf(body, "ignore"))
		if code != 201 || h.Get("Warning") != "" {
			t.Fatalf("Ignore: %d warning %q", code, h.Get("Warning"))
		}
		code, _, out = raw.do("POST", "/api/v1/namespaces/default/configmaps?fieldValidation=Strict", "application/json", `{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"dup","name":"dup2"}}`)
		if code != 400 || !strings.Contains(out, `duplicate field`) {
			t.Fatalf("duplicate: %d %s", code, out)
		}
	})

	t.Run("wrong kind for the path", func(t *testing.T) {
		code, _, out := raw.do("POST", "/api/v1/namespaces/default/configmaps", "application/json", `{"apiVersion":"v1","kind":"Secret","metadata":{"name":"x"}}`)
		if code != 400 || !strings.Contains(out, `the kind \"Secret\" of the body does not match`) {
			t.Fatalf("%d %s", code, out)
		}
	})

	t.Run("over-large body is 413 and stores nothing", func(t *testing.T) {
		big := strings.Repeat("a", 4<<20)
		code, _, _ := raw.do("POST", "/api/v1/namespaces/default/configmaps", "application/json", `{"metadata":{"name":"big"},"data":{"a":"`+big+`"}}`)
		if code != http.StatusRequestEntityTooLarge {
			t.Fatalf("status %d, want 413", code)
		}
		if _, err := cms.Get(ctx, "big", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
			t.Fatalf("big object stored: %v", err)
		}
	})

	t.Run("unknown group version is 404", func(t *testing.T) {
		for _, p := range []string{"/apis/nope.example.com/v1", "/apis/apps/v9", "/apis/apps/v1/nothings", "/api/v1/namespaces/default/nothings"} {
			if code, _, _ := raw.do("GET", p, "", ""); code != 404 {
				t.Errorf("GET %s: %d, want 404", p, code)
			}
		}
	})

	t.Run("dry run update stores nothing", func(t *testing.T) {
		cm, err := cms.Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "dry"}, Data: map[string]string{"a": "1"}}, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		cm.Data["a"] = "2"
		if _, err := cms.Update(ctx, cm, metav1.UpdateOptions{DryRun: []string{metav1.DryRunAll}}); err != nil {
			t.Fatal(err)
		}
		got, _ := cms.Get(ctx, "dry", metav1.GetOptions{})
		if got.Data["a"] != "1" || got.ResourceVersion != cm.ResourceVersion {
			t.Fatalf("dry-run update changed the object: %v rv %s→%s", got.Data, cm.ResourceVersion, got.ResourceVersion)
		}
	})

	t.Run("finalizers hold deletion until removed", func(t *testing.T) {
		cm, err := cms.Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "fin", Finalizers: []string{"example.com/hold"}}}, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		code, _, _ := raw.do("DELETE", "/api/v1/namespaces/default/configmaps/fin", "", "")
		if code != http.StatusAccepted {
			t.Fatalf("delete with finalizer: %d, want 202", code)
		}
		cm, err = cms.Get(ctx, "fin", metav1.GetOptions{})
		if err != nil || cm.DeletionTimestamp == nil {
			t.Fatalf("after delete: %v deletionTimestamp %v", err, cm.DeletionTimestamp)
		}
		cm.Finalizers = nil
		if _, err := cms.Update(ctx, cm, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
		if _, err := cms.Get(ctx, "fin", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
			t.Fatalf("object still there after its last finalizer went: %v", err)
		}
	})

	t.Run("bound pods are deleted gracefully", func(t *testing.T) {
		pods := cs.CoreV1().Pods("default")
		if _, err := pods.Create(ctx, pod("grace"), metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		err := pods.Bind(ctx, &corev1.Binding{ObjectMeta: metav1.ObjectMeta{Name: "grace"}, Target: corev1.ObjectReference{Kind: "Node", Name: "n1"}}, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		err = pods.Bind(ctx, &corev1.Binding{ObjectMeta: metav1.ObjectMeta{Name: "grace"}, Target: corev1.ObjectReference{Kind: "Node", Name: "n2"}}, metav1.CreateOptions{})
		if !apierrors.IsConflict(err) {
			t.Fatalf("second binding: %v, want Conflict", err)
		}
		p, _ := pods.Get(ctx, "grace", metav1.GetOptions{})
		if p.Spec.NodeName != "n1" {
			t.Fatalf("nodeName %q", p.Spec.NodeName)
		}
		if err := pods.Delete(ctx, "grace", metav1.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
		p, err = pods.Get(ctx, "grace", metav1.GetOptions{})
		if err != nil || p.DeletionTimestamp == nil || *p.DeletionGracePeriodSeconds != 30 {
			t.Fatalf("graceful delete: %v %+v", err, p.ObjectMeta)
		}
		zero := int64(0)
		if err := pods.Delete(ctx, "grace", metav1.DeleteOptions{GracePeriodSeconds: &zero}); err != nil {
			t.Fatal(err)
		}
		if _, err := pods.Get(ctx, "grace", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
			t.Fatalf("pod still there after grace 0: %v", err)
		}
	})

	t.Run("scale subresource and generation", func(t *testing.T) {
		d, err := cs.AppsV1().Deployments("default").Create(ctx, deployment("scaled", 1), metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		_, err = cs.AppsV1().Deployments("default").Patch(ctx, "scaled", types.MergePatchType, []byte(`{"spec":{"replicas":4}}`), metav1.PatchOptions{}, "scale")
		if err != nil {
			t.Fatal(err)
		}
		sc, err := cs.AppsV1().Deployments("default").GetScale(ctx, "scaled", metav1.GetOptions{})
		if err != nil || sc.Spec.Replicas != 4 || sc.Status.Selector != "app=scaled" {
			t.Fatalf("scale: %v %+v", err, sc)
		}
		got, _ := cs.AppsV1().Deployments("default").Get(ctx, "scaled", metav1.GetOptions{})
		if got.Generation != d.Generation+1 {
			t.Fatalf("generation %d after scale, want %d", got.Generation, d.Generation+1)
		}
		// A label change is not a spec change: generation stays.
		got.Labels = map[string]string{"x": "y"}
		got2, err := cs.AppsV1().Deployments("default").Update(ctx, got, metav1.UpdateOptions{})
		if err != nil || got2.Generation != got.Generation {
			t.Fatalf("label update: %v generation %d", err, got2.Generation)
		}
		// Status writes through the main resource are ignored.
		got2.Status.Replicas = 9
		got3, err := cs.AppsV1().Deployments("default").Update(ctx, got2, metav1.UpdateOptions{})
		if err != nil || got3.Status.Replicas != 0 {
			t.Fatalf("status through main resource: %v %d", err, got3.Status.Replicas)
		}
		got3.Status.Replicas = 9
		got4, err := cs.AppsV1().Deployments("default").UpdateStatus(ctx, got3, metav1.UpdateOptions{})
		if err != nil || got4.Status.Replicas != 9 || got4.Generation != got3.Generation {
			t.Fatalf("status update: %v %+v", err, got4.Status)
		}
	})

	t.Run("selector is immutable", func(t *testing.T) {
		d, _ := cs.AppsV1().Deployments("default").Get(ctx, "scaled", metav1.GetOptions{})
		d.Spec.Selector = &metav1.LabelSelector{MatchLabels: map[string]string{"app": "other"}}
		d.Spec.Template.Labels = map[string]string{"app": "other"}
		_, err := cs.AppsV1().Deployments("default").Update(ctx, d, metav1.UpdateOptions{})
		if !apierrors.IsInvalid(err) || !strings.Contains(err.Error(), "spec.selector") {
			t.Fatalf("got %v", err)
		}
	})

	t.Run("hpa is served as v2 and v1", func(t *testing.T) {
		min := int32(2)
		target := int32(60)
		_, err := cs.AutoscalingV1().HorizontalPodAutoscalers("default").Create(ctx, &autoscalingv1.HorizontalPodAutoscaler{
			ObjectMeta: metav1.ObjectMeta{Name: "web"},
			Spec: autoscalingv1.HorizontalPodAutoscalerSpec{
				ScaleTargetRef: autoscalingv1.CrossVersionObjectReference{APIVersion: "apps/v1", Kind: "Deployment", Name: "scaled"},
				MinReplicas:    &min, MaxReplicas: 5, TargetCPUUtilizationPercentage: &target,
			},
		}, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		v2, err := cs.AutoscalingV2().HorizontalPodAutoscalers("default").Get(ctx, "web", metav1.GetOptions{})
		if err != nil || len(v2.Spec.Metrics) != 1 || *v2.Spec.Metrics[0].Resource.Target.AverageUtilization != 60 {
			t.Fatalf("v2 view: %v %+v", err, v2.Spec)
		}
		if v2.Spec.Metrics[0].Type != autoscalingv2.ResourceMetricSourceType {
			t.Fatalf("metric type %s", v2.Spec.Metrics[0].Type)
		}
	})

	t.Run("services get unique cluster IPs and node ports", func(t *testing.T) {
		seenIP, seenPort := map[string]bool{}, map[int32]bool{}
		for i := 0; i < 20; i++ {
			svc, err := cs.CoreV1().Services("default").Create(ctx, &corev1.Service{
				ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("np-%d", i)},
				Spec:       corev1.ServiceSpec{Type: corev1.ServiceTypeNodePort, Ports: []corev1.ServicePort{{Port: 80}}},
			}, metav1.CreateOptions{})
			if err != nil {
				t.Fatal(err)
			}
			ip, port := svc.Spec.ClusterIP, svc.Spec.Ports[0].NodePort
			if seenIP[ip] || seenPort[port] || port < 30000 || port > 32767 || !strings.HasPrefix(ip, "10.43.") {
				t.Fatalf("service %d got ip %s port %d (dup or out of range)", i, ip, port)
			}
			seenIP[ip], seenPort[port] = true, true
		}
		// Deleting releases: the port can be asked for explicitly again.
		svc, _ := cs.CoreV1().Services("default").Get(ctx, "np-0", metav1.GetOptions{})
		port := svc.Spec.Ports[0].NodePort
		if err := cs.CoreV1().Services("default").Delete(ctx, "np-0", metav1.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
		_, err := cs.CoreV1().Services("default").Create(ctx, &corev1.Service{
			ObjectMeta: metav1.ObjectMeta{Name: "np-again"},
			Spec:       corev1.ServiceSpec{Type: corev1.ServiceTypeNodePort, Ports: []corev1.ServicePort{{Port: 80, NodePort: port}}},
		}, metav1.CreateOptions{})
		if err != nil {
			t.Fatalf("reusing a released node port: %v", err)
		}
	})

	t.Run("creating in a missing namespace is 404", func(t *testing.T) {
		_, err := cs.CoreV1().ConfigMaps("nowhere").Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "x"}}, metav1.CreateOptions{})
		if !apierrors.IsNotFound(err) {
			t.Fatalf("got %v", err)
		}
	})

	t.Run("tables and metadata projections", func(t *testing.T) {
		code, _, out := raw.do("GET", "/api/v1/namespaces/default/configmaps?limit=2", "", "", "Accept", "application/json;as=Table;v=v1;g=meta.k8s.io,application/json")
		var table metav1.Table
		if err := json.Unmarshal([]byte(out), &table); code != 200 || err != nil {
			t.Fatalf("%d %v", code, err)
		}
		if table.Kind != "Table" || len(table.Rows) != 2 || table.Continue == "" || table.ColumnDefinitions[0].Format != "name" {
			t.Fatalf("table: %s", out)
		}
		code, _, out = raw.do("GET", "/api/v1/namespaces/default/configmaps", "", "", "Accept", "application/json;as=PartialObjectMetadataList;v=v1;g=meta.k8s.io,application/json")
		if code != 200 || !strings.Contains(out, `"kind":"PartialObjectMetadataList"`) || strings.Contains(out, `"data"`) {
			t.Fatalf("metadata list: %d %.300s", code, out)
		}
	})

	t.Run("watch sends selector transitions", func(t *testing.T) {
		cm, err := cms.Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "trans", Labels: map[string]string{"team": "a"}}}, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		w, err := cms.Watch(ctx, metav1.ListOptions{LabelSelector: "team=a", ResourceVersion: cm.ResourceVersion})
		if err != nil {
			t.Fatal(err)
		}
		defer w.Stop()
		cm.Labels["team"] = "b"
		cm, _ = cms.Update(ctx, cm, metav1.UpdateOptions{})
		cm.Labels["team"] = "a"
		_, _ = cms.Update(ctx, cm, metav1.UpdateOptions{})
		var got []watch.EventType
		for len(got) < 2 {
			select {
			case ev := <-w.ResultChan():
				got = append(got, ev.Type)
			case <-time.After(10 * time.Second):
				t.Fatalf("events so far %v", got)
			}
		}
		if got[0] != watch.Deleted || got[1] != watch.Added {
			t.Fatalf("events %v, want [DELETED ADDED]", got)
		}
	})
}

// TestWatchFromCompactedRevision checks the 410 answer and that a client-go
// reflector recovers from it by listing again.
func TestWatchFromCompactedRevision(t *testing.T) {
	skipShort(t)
	srv := start(t, server.Config{})
	cs := clientFor(t, srv)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cms := cs.CoreV1().ConfigMaps("default")
	first, err := cms.Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "c0"}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for i := 1; i < 5; i++ {
		if _, err := cms.Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("c%d", i)}}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := srv.CompactNow(ctx); err != nil {
		t.Fatal(err)
	}

	// Raw watch: an ERROR event carrying a 410 Expired Status.
	raw := newRaw(t, srv)
	req, _ := http.NewRequest("GET", srv.URL()+"/api/v1/namespaces/default/configmaps?watch=true&resourceVersion="+first.ResourceVersion, nil)
	req.Header.Set("Authorization", "Bearer "+srv.AdminToken())
	resp, err := raw.hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	line, _ := bufio.NewReader(resp.Body).ReadString('\n')
	resp.Body.Close()
	var ev struct {
		Type   string
		Object metav1.Status
	}
	if err := json.Unmarshal([]byte(line), &ev); err != nil || ev.Type != "ERROR" || ev.Object.Code != 410 || ev.Object.Reason != metav1.StatusReasonExpired {
		t.Fatalf("watch from compacted RV: %v %q", err, line)
	}

	// A reflector whose first list hands out the compacted revision must
	// get 410 on its watch and then relist.
	var lists atomic.Int32
	lw := &cache.ListWatch{
		ListFunc: func(o metav1.ListOptions) (runtime.Object, error) {
			l, err := cms.List(ctx, o)
			if lists.Add(1) == 1 && err == nil {
				l.ResourceVersion = first.ResourceVersion
			}
			return l, err
		},
		WatchFunc:       func(o metav1.ListOptions) (watch.Interface, error) { return cms.Watch(ctx, o) },
		DisableChunking: true,
	}
	st := cache.NewStore(cache.MetaNamespaceKeyFunc)
	r := cache.NewReflectorWithOptions(listThenWatch{lw}, &corev1.ConfigMap{}, st, cache.ReflectorOptions{})
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() { r.Run(stop); close(done) }()
	defer func() { close(stop); <-done }()
	if _, err := cms.Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "after"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		if _, ok, _ := st.GetByKey("default/after"); ok && lists.Load() >= 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("reflector did not recover: lists=%d keys=%v", lists.Load(), st.ListKeys())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// listThenWatch makes a reflector use LIST then WATCH instead of WatchList.
type listThenWatch struct{ *cache.ListWatch }

// IsWatchListSemanticsUnSupported tells client-go not to use WatchList.
func (listThenWatch) IsWatchListSemanticsUnSupported() bool { return true }
