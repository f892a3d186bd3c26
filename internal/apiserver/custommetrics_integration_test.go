package apiserver_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/berth-dev/berth/internal/agent/endpoint"
	"github.com/berth-dev/berth/internal/agent/runtime"
	"github.com/berth-dev/berth/internal/apiserver"
	"github.com/berth-dev/berth/internal/controller"
	"github.com/berth-dev/berth/internal/nodeapi"
	"github.com/berth-dev/berth/internal/pki"
	"github.com/berth-dev/berth/internal/testutil/testenv"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/restmapper"
	cmv1beta1 "k8s.io/metrics/pkg/apis/custom_metrics/v1beta1"
	metricsv1beta1 "k8s.io/metrics/pkg/apis/metrics/v1beta1"
	custommetrics "k8s.io/metrics/pkg/client/custom_metrics"
)

// flow is traffic one fake agent's proxy forwards every (synthetic) second.
type flow struct {
	service, ip           string
	port                  int32
	requests, connections uint64
}

// fakeAgent is a node agent endpoint whose service proxy counts grow by
// its flows on every scrape, one second of its own clock apart, so the
// rates the API server computes are exactly the flows'.
type fakeAgent struct {
	name string

	mu      sync.Mutex
	flows   []flow
	start   time.Time
	clock   time.Time
	counts  map[flow]nodeapi.EndpointCount // by flow without the counts
	maxAges []time.Duration
}

func (a *fakeAgent) setFlows(f ...flow) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.flows = f
}

// restart starts counting afresh, as a restarted agent does.
func (a *fakeAgent) restart() {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.start = a.clock
	a.counts = nil
}

func (a *fakeAgent) lastMaxAge() time.Duration {
	a.mu.Lock()
	defer a.mu.Unlock()
	if len(a.maxAges) == 0 {
		return 0
	}
	return a.maxAges[len(a.maxAges)-1]
}

func (a *fakeAgent) ResourceMetrics(_ context.Context, maxAge time.Duration) nodeapi.ResourceMetrics {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.maxAges = append(a.maxAges, maxAge)
	return nodeapi.ResourceMetrics{Node: metricsv1beta1.NodeMetrics{ObjectMeta: metav1.ObjectMeta{Name: a.name}}}
}

func (a *fakeAgent) ServiceMetrics() nodeapi.ServiceMetrics {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.clock = a.clock.Add(time.Second)
	if a.counts == nil {
		a.counts = map[flow]nodeapi.EndpointCount{}
	}
	for _, f := range a.flows {
		key := flow{service: f.service, ip: f.ip, port: f.port}
		c := a.counts[key]
		c.IP, c.Port = f.ip, f.port
		c.Requests += f.requests
		c.Connections += f.connections
		a.counts[key] = c
	}
	bySvc := map[string]*nodeapi.ServiceCount{}
	doc := nodeapi.ServiceMetrics{Timestamp: a.clock, StartTime: a.start, Services: []nodeapi.ServiceCount{}}
	for key, c := range a.counts {
		s := bySvc[key.service]
		if s == nil {
			s = &nodeapi.ServiceCount{Namespace: "default", Name: key.service}
			bySvc[key.service] = s
		}
		s.Requests += c.Requests
		s.Connections += c.Connections
		s.Endpoints = append(s.Endpoints, c)
	}
	for _, s := range bySvc {
		doc.Services = append(doc.Services, *s)
	}
	return doc
}

// startFakeAgent serves a fake agent endpoint and registers its Ready node.
func startFakeAgent(t *testing.T, e *testenv.Env, name string) *fakeAgent {
	t.Helper()
	a := &fakeAgent{name: name, clock: time.Unix(1_000_000, 0)}
	a.start = a.clock
	cert, err := pki.SelfSigned(name, []string{"127.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	srv, err := endpoint.Listen("127.0.0.1:0", endpoint.Config{Backend: backend{a}, CAPEM: e.Server.CAPEM(), Certificate: cert, Logger: testenv.Logger()})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	})
	node := &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: name, Annotations: map[string]string{nodeapi.CertAnnotation: nodeapi.CertFingerprint(cert.Certificate[0])}},
		Status: corev1.NodeStatus{
			Addresses:       []corev1.NodeAddress{{Type: corev1.NodeInternalIP, Address: "127.0.0.1"}},
			DaemonEndpoints: corev1.NodeDaemonEndpoints{KubeletEndpoint: corev1.DaemonEndpoint{Port: int32(srv.Port())}},
			Conditions:      []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionTrue, Reason: "Fake", LastHeartbeatTime: metav1.Now()}},
		},
	}
	if _, err := e.Client.CoreV1().Nodes().Create(context.Background(), node, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	return a
}

// backend adapts fakeAgent to endpoint.Backend (no logs, no exec).
type backend struct{ *fakeAgent }

var _ endpoint.Backend = backend{}

func (backend) ContainerLogs(context.Context, string, string, string, bool, runtime.LogOptions, io.Writer) error {
	return apierrors.NewBadRequest("no logs")
}

func (backend) Exec(context.Context, string, string, string, []string, io.Reader, io.Writer, io.Writer) (int, error) {
	return 0, apierrors.NewBadRequest("no exec")
}

func runningPod(t *testing.T, cs kubernetes.Interface, name, ip string, lbls map[string]string) {
	t.Helper()
	ctx := context.Background()
	p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default", Labels: lbls},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "main", Image: "app"}}}}
	p, err := cs.CoreV1().Pods("default").Create(ctx, p, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	p.Status.Phase, p.Status.PodIP, p.Status.PodIPs = corev1.PodRunning, ip, []corev1.PodIP{{IP: ip}}
	if _, err := cs.CoreV1().Pods("default").UpdateStatus(ctx, p, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
}

func service(t *testing.T, cs kubernetes.Interface, name string) {
	t.Helper()
	svc := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default", Labels: map[string]string{"tier": name}},
		Spec: corev1.ServiceSpec{Selector: map[string]string{"app": name}, Ports: []corev1.ServicePort{{Port: 80}}}}
	if _, err := cs.CoreV1().Services("default").Create(context.Background(), svc, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
}

// TestCustomMetricsThroughTheAPIServer: two fake agents report growing
// proxy counts; the API server's scrapes turn them into rates per Service
// (summed over nodes) and per pod (endpoint IPs mapped to pods), read
// through client-go's custom metrics client as the HPA controller reads
// them. An HPA asking for 1s resolution shortens the scrape interval.
func TestCustomMetricsThroughTheAPIServer(t *testing.T) {
	e := testenv.Start(t, testenv.Options{Logger: testenv.Logger(), Controllers: []controller.Factory{}, MetricsInterval: 2 * time.Second})
	cs := e.Client
	ctx := context.Background()
	for _, name := range []string{"web", "db", "idle"} {
		service(t, cs, name)
	}
	runningPod(t, cs, "web-1", "10.0.0.1", map[string]string{"app": "web"})
	runningPod(t, cs, "web-2", "10.0.0.2", map[string]string{"app": "web"})
	runningPod(t, cs, "db-0", "10.0.0.3", map[string]string{"app": "db"})
	a, b := startFakeAgent(t, e, "node-a"), startFakeAgent(t, e, "node-b")
	a.setFlows(flow{service: "web", ip: "10.0.0.1", port: 8080, requests: 6}, flow{service: "web", ip: "10.0.0.2", port: 8080, requests: 4})
	b.setFlows(flow{service: "web", ip: "10.0.0.1", port: 8080, requests: 5}, flow{service: "db", ip: "10.0.0.3", port: 5432, connections: 2})

	// The client as kube-controller-manager builds it: preferred version
	// from discovery, kinds mapped to resources through discovery.
	rc := e.Server.RestConfig()
	dc, err := discovery.NewDiscoveryClientForConfig(rc)
	if err != nil {
		t.Fatal(err)
	}
	mapper := restmapper.NewDeferredDiscoveryRESTMapper(memory.NewMemCacheClient(dc))
	apis := custommetrics.NewAvailableAPIsGetter(dc)
	cm := custommetrics.NewForConfig(rc, mapper, apis)
	if v, err := apis.PreferredVersion(); err != nil || v.Version != "v1beta2" {
		t.Fatalf("preferred custom metrics version %v, %v", v, err)
	}
	svcGK, podGK := schema.GroupKind{Kind: "Service"}, schema.GroupKind{Kind: "Pod"}
	value := func(gk schema.GroupKind, name, metric string) (float64, error) {
		v, err := cm.NamespacedMetrics("default").GetForObject(gk, name, metric, labels.Everything())
		if err != nil {
			return 0, err
		}
		if v.DescribedObject.Name != name || v.DescribedObject.Kind != gk.Kind || v.Timestamp.IsZero() || v.WindowSeconds == nil || *v.WindowSeconds < 1 {
			return 0, fmt.Errorf("value %+v", v)
		}
		return v.Value.AsApproximateFloat64(), nil
	}
	expect := func(want map[string]float64) func() error {
		return func() error {
			for key, w := range want {
				kind, rest, _ := strings.Cut(key, "/")
				name, metric, _ := strings.Cut(rest, "/")
				gk := svcGK
				if kind == "pods" {
					gk = podGK
				}
				got, err := value(gk, name, metric)
				if err != nil {
					return fmt.Errorf("%s: %w", key, err)
				}
				if got != w {
					return fmt.Errorf("%s = %v, want %v", key, got, w)
				}
			}
			return nil
		}
	}
	testenv.Eventually(t, 30*time.Second, "rates per Service and pod", expect(map[string]float64{
		"services/web/requests_per_second":    15, // 10 through node-a, 5 through node-b
		"services/web/connections_per_second": 0,
		"services/db/requests_per_second":     2, // TCP mode: connections
		"services/db/connections_per_second":  2,
		"services/idle/requests_per_second":   0, // known, no traffic
		"pods/web-1/requests_per_second":      11,
		"pods/web-2/requests_per_second":      4,
		"pods/db-0/requests_per_second":       2,
	}))

	t.Run("pods by label selector", func(t *testing.T) {
		list, err := cm.NamespacedMetrics("default").GetForObjects(podGK, labels.SelectorFromSet(labels.Set{"app": "web"}), "requests_per_second", labels.Everything())
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]string{}
		for _, it := range list.Items {
			got[it.DescribedObject.Name] = it.Value.String()
		}
		if len(got) != 2 || got["web-1"] != "11" || got["web-2"] != "4" {
			t.Errorf("pods app=web: %v", got)
		}
	})
	t.Run("v1beta1", func(t *testing.T) {
		c, err := custommetrics.NewForVersionForConfig(rc, mapper, cmv1beta1.SchemeGroupVersion)
		if err != nil {
			t.Fatal(err)
		}
		v, err := c.NamespacedMetrics("default").GetForObject(svcGK, "web", "requests_per_second", labels.Everything())
		if err != nil || v.Value.String() != "15" || v.Metric.Name != "requests_per_second" {
			t.Errorf("v1beta1: %+v, %v", v, err)
		}
	})
	t.Run("not found", func(t *testing.T) {
		for _, tc := range []struct {
			gk           schema.GroupKind
			name, metric string
			want         string
		}{
			{svcGK, "web", "latency_seconds", `custom metric "latency_seconds" is not served`},
			{svcGK, "absent", "requests_per_second", `services "absent" not found`},
			{podGK, "absent", "requests_per_second", `pods "absent" not found`},
			{schema.GroupKind{Group: "apps", Kind: "Deployment"}, "web", "requests_per_second", "not available for deployments.apps"},
		} {
			_, err := cm.NamespacedMetrics("default").GetForObject(tc.gk, tc.name, tc.metric, labels.Everything())
			if !apierrors.IsNotFound(err) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("%s %s %s: %v, want NotFound %q", tc.gk.Kind, tc.name, tc.metric, err, tc.want)
			}
		}
	})
	t.Run("discovery", func(t *testing.T) {
		_, lists, err := dc.ServerGroupsAndResources()
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, l := range lists {
			if l.GroupVersion == "custom.metrics.k8s.io/v1beta2" {
				for _, r := range l.APIResources {
					names = append(names, r.Name)
				}
			}
		}
		if !strings.Contains(strings.Join(names, " "), "pods/requests_per_second") || !strings.Contains(strings.Join(names, " "), "services/connections_per_second") {
			t.Errorf("aggregated discovery of custom.metrics.k8s.io/v1beta2: %v", names)
		}
		legacy, err := cs.CoreV1().RESTClient().Get().AbsPath("/apis/custom.metrics.k8s.io/v1beta1").DoRaw(ctx)
		if err != nil || !strings.Contains(string(legacy), `"services/requests_per_second"`) {
			t.Errorf("legacy discovery: %s %v", legacy, err)
		}
	})
	t.Run("node proxy", func(t *testing.T) {
		raw, err := cs.CoreV1().RESTClient().Get().AbsPath("/api/v1/nodes", "node-b", "proxy", "metrics/services").DoRaw(ctx)
		var doc nodeapi.ServiceMetrics
		if err != nil || json.Unmarshal(raw, &doc) != nil || len(doc.Services) != 2 {
			t.Errorf("nodes/node-b/proxy/metrics/services: %s %v", raw, err)
		}
	})

	// The traffic changes, and node-b's agent restarts: no pass mixes
	// counts from before and after the restart, so the rate is the sum of
	// both nodes (25) or, for the one pass after the restart, node-a's
	// alone (20), and never anything else.
	a.setFlows(flow{service: "web", ip: "10.0.0.1", port: 8080, requests: 16}, flow{service: "web", ip: "10.0.0.2", port: 8080, requests: 4})
	testenv.Eventually(t, 30*time.Second, "changed rates", expect(map[string]float64{
		"services/web/requests_per_second": 25, "pods/web-1/requests_per_second": 21,
	}))
	b.restart()
	deadline := time.Now().Add(6 * time.Second)
	sawRestart := false
	for time.Now().Before(deadline) {
		got, err := value(svcGK, "web", "requests_per_second")
		if err != nil {
			t.Fatal(err)
		}
		if got != 25 && got != 20 {
			t.Fatalf("web after node-b's restart: %v req/s, want 25 (or 20 for one pass)", got)
		}
		sawRestart = sawRestart || got == 20
		time.Sleep(100 * time.Millisecond)
	}
	if !sawRestart {
		t.Error("no pass without node-b's rates after its restart")
	}

	// Resolution: 2s configured; an HPA asking for 1s makes it 1s, and the
	// agents are asked for usage at most that old.
	if got := a.lastMaxAge(); got != 2*time.Second {
		t.Errorf("maxAge %v, want the configured 2s", got)
	}
	ten := resource.MustParse("10")
	hpa := &autoscalingv2.HorizontalPodAutoscaler{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "default", Annotations: map[string]string{apiserver.HPAMetricResolutionAnnotation: "1s"}},
		Spec: autoscalingv2.HorizontalPodAutoscalerSpec{
			ScaleTargetRef: autoscalingv2.CrossVersionObjectReference{APIVersion: "apps/v1", Kind: "Deployment", Name: "web"},
			MaxReplicas:    5,
			Metrics: []autoscalingv2.MetricSpec{{Type: autoscalingv2.PodsMetricSourceType, Pods: &autoscalingv2.PodsMetricSource{
				Metric: autoscalingv2.MetricIdentifier{Name: "requests_per_second"},
				Target: autoscalingv2.MetricTarget{Type: autoscalingv2.AverageValueMetricType, AverageValue: &ten},
			}}},
		},
	}
	if _, err := cs.AutoscalingV2().HorizontalPodAutoscalers("default").Create(ctx, hpa, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, 15*time.Second, "1s resolution", func() error {
		if got := a.lastMaxAge(); got != time.Second {
			return fmt.Errorf("maxAge %v", got)
		}
		return nil
	})
	// Rates keep their value at the new resolution (window 1s of the
	// agents' clocks either way).
	testenv.Eventually(t, 15*time.Second, "rates at 1s", expect(map[string]float64{"services/web/requests_per_second": 25}))
}
