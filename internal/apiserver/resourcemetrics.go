package apiserver

import (
	"context"
	"encoding/json"
	"fmt"
	"github.com/berth-dev/berth/internal/autoscale"
	"net/http"
	"net/url"
	"sort"
	"sync"
	"time"

	"github.com/berth-dev/berth/internal/nodeapi"
	"github.com/berth-dev/berth/internal/store"
	apidiscoveryv2 "k8s.io/api/apidiscovery/v2"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	metricsv1beta1 "k8s.io/metrics/pkg/apis/metrics/v1beta1"
)

// The resource metrics API (metrics.k8s.io/v1beta1, what `kubectl top` and
// the autoscaler read) is served from memory: every server scrapes each
// node agent's nodeapi.ResourceMetricsPath periodically (as metrics-server
// scrapes kubelets) and answers with the latest figures. The same pass
// reads nodeapi.ServiceMetricsPath, the source of the custom metrics API
// (custommetrics.go, servicerates.go).

// metricsGV is the resource metrics API's group and version.
var metricsGV = schema.GroupVersion{Group: "metrics.k8s.io", Version: "v1beta1"}

// metricsResources are the resource metrics API's resources.
var metricsResources = []struct {
	resource, kind string
	namespaced     bool
}{
	{"nodes", "NodeMetrics", false},
	{"pods", "PodMetrics", true},
}

// metricsStore holds each node's latest scraped figures.
type metricsStore struct {
	mu     sync.RWMutex
	byNode map[string]nodeapi.ResourceMetrics
}

// scrapeConcurrency bounds the agents scraped at once.
const scrapeConcurrency = 16

// HPAMetricResolutionAnnotation on a HorizontalPodAutoscaler asks for
// metrics at least this fresh (a Go duration, at least MinMetricResolution):
// the API server then scrapes the node agents this often when that is more
// often than its configured interval. The registry validates the value.
const HPAMetricResolutionAnnotation = autoscale.AnnotationMetricResolution

// MinMetricResolution is the shortest scrape interval an HPA can ask for.
const MinMetricResolution = autoscale.MinPeriod

// RunResourceMetrics scrapes every node agent until ctx is done;
// metrics.k8s.io and custom.metrics.k8s.io answer with what it got. The
// interval is re-evaluated before every pass: the configured one, or the
// smallest HPAMetricResolutionAnnotation among all HPAs when shorter.
// It needs Config.AgentTLS.
func (s *Server) RunResourceMetrics(ctx context.Context, interval time.Duration) {
	if s.cfg.AgentTLS == nil {
		return
	}
	t := time.NewTimer(0)
	defer t.Stop()
	var last time.Duration
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		start := time.Now()
		cur := s.scrapeInterval(ctx, interval)
		if cur != last && (last != 0 || cur != interval) {
			s.log.Info("metrics scrape interval changed", "interval", cur, "configured", interval)
		}
		last = cur
		s.scrapeEvery.Store(int64(cur))
		s.scrapeAll(ctx, cur)
		t.Reset(max(0, cur-time.Since(start)))
	}
}

// scrapeInterval is configured, or the smallest resolution an HPA asks
// for when shorter.
func (s *Server) scrapeInterval(ctx context.Context, configured time.Duration) time.Duration {
	hpas, err := s.listStored(ctx, schema.GroupResource{Group: "autoscaling", Resource: "horizontalpodautoscalers"}, "")
	if err != nil {
		if ctx.Err() == nil {
			s.log.Warn("metrics: cannot list HorizontalPodAutoscalers", "err", err)
		}
		return configured
	}
	values := make([]string, 0, len(hpas))
	for _, h := range hpas {
		if v, ok := accessor(h).GetAnnotations()[HPAMetricResolutionAnnotation]; ok {
			values = append(values, v)
		}
	}
	return adaptiveInterval(configured, values)
}

// adaptiveInterval is min(configured, the smallest of resolutions, each
// at least MinMetricResolution); values that do not parse as positive
// durations are ignored.
func adaptiveInterval(configured time.Duration, resolutions []string) time.Duration {
	out := configured
	for _, v := range resolutions {
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			continue
		}
		out = min(out, max(d, MinMetricResolution))
	}
	return out
}

// scrapeTimeout bounds one request to an agent for a pass every interval:
// the interval, but at least 5s (an agent reading container stats on
// demand may need that) and at most 10s.
func scrapeTimeout(interval time.Duration) time.Duration {
	return min(max(interval, 5*time.Second), 10*time.Second)
}

// scrapeAll reads every node's figures and service counts once, asking the
// agents for usage at most interval old.
func (s *Server) scrapeAll(ctx context.Context, interval time.Duration) {
	nodes, err := s.listNodes(ctx)
	if err != nil {
		if ctx.Err() == nil {
			s.log.Warn("resource metrics: cannot list nodes", "err", err)
		}
		return
	}
	timeout := scrapeTimeout(interval)
	got := make(map[string]nodeapi.ResourceMetrics, len(nodes))
	svcs := make(map[string]nodeapi.ServiceMetrics, len(nodes))
	known := make(map[string]bool, len(nodes))
	var mu sync.Mutex
	var wg sync.WaitGroup
	sem := make(chan struct{}, scrapeConcurrency)
	for _, n := range nodes {
		known[n.Name] = true
		if !nodeReady(n) {
			continue
		}
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			if sm, err := s.scrapeServices(ctx, timeout, n); err != nil {
				s.log.Debug("service metrics: scrape failed", "node", n.Name, "err", err)
			} else {
				mu.Lock()
				svcs[n.Name] = sm
				mu.Unlock()
			}
			m, err := s.scrapeNode(ctx, timeout, interval, n)
			if err != nil {
				s.log.Debug("resource metrics: scrape failed", "node", n.Name, "err", err)
				return
			}
			mu.Lock()
			got[n.Name] = m
			mu.Unlock()
		}()
	}
	wg.Wait()
	if ctx.Err() != nil {
		return // a pass cut short is no measurement
	}
	s.forgetAgents(known)
	s.resMetrics.mu.Lock()
	s.resMetrics.byNode = got
	s.resMetrics.mu.Unlock()
	s.svcRates.observe(time.Now(), svcs, known)
}

func nodeReady(n *corev1.Node) bool {
	for _, c := range n.Status.Conditions {
		if c.Type == corev1.NodeReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// agentGet reads a JSON document from n's agent into v.
func (s *Server) agentGet(ctx context.Context, timeout time.Duration, n *corev1.Node, path string, query url.Values, v any) error {
	u, err := agentURL(n)
	if err != nil {
		return err
	}
	rt, err := s.transportFor(n)
	if err != nil {
		return err
	}
	client := &http.Client{Transport: rt, Timeout: timeout}
	u.Path, u.RawQuery = path, query.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return err
	}
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s%s answered %s", u.Host, path, resp.Status)
	}
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		return fmt.Errorf("%s%s: decode: %w", u.Host, path, err)
	}
	return nil
}

// scrapeServices reads n's agent's service proxy counts.
func (s *Server) scrapeServices(ctx context.Context, timeout time.Duration, n *corev1.Node) (nodeapi.ServiceMetrics, error) {
	var m nodeapi.ServiceMetrics
	if err := s.agentGet(ctx, timeout, n, nodeapi.ServiceMetricsPath, nil, &m); err != nil {
		return m, err
	}
	if m.Timestamp.IsZero() {
		m.Timestamp = time.Now()
	}
	return m, nil
}

// scrapeNode reads n's agent's usage figures, at most maxAge old.
func (s *Server) scrapeNode(ctx context.Context, timeout, maxAge time.Duration, n *corev1.Node) (nodeapi.ResourceMetrics, error) {
	var m nodeapi.ResourceMetrics
	if err := s.agentGet(ctx, timeout, n, nodeapi.ResourceMetricsPath, url.Values{nodeapi.MaxAgeParam: {maxAge.String()}}, &m); err != nil {
		return m, err
	}
	m.Node.Name = n.Name // a node speaks for itself only
	for i := range m.Pods {
		m.Pods[i].Kind, m.Pods[i].APIVersion = "", ""
	}
	return m, nil
}

// listNodes reads every Node from the store.
func (s *Server) listNodes(ctx context.Context) ([]*corev1.Node, error) {
	objs, err := s.listStored(ctx, schema.GroupResource{Resource: "nodes"}, "")
	if err != nil {
		return nil, err
	}
	out := make([]*corev1.Node, 0, len(objs))
	for _, o := range objs {
		out = append(out, o.(*corev1.Node))
	}
	return out, nil
}

// listStored reads every object of a stored resource in namespace ns (all
// namespaces when empty) from the store, page by page; a resource not
// served lists nothing.
func (s *Server) listStored(ctx context.Context, gr schema.GroupResource, ns string) ([]runtime.Object, error) {
	res := s.storage[gr]
	if res == nil {
		return nil, nil
	}
	var out []runtime.Object
	after := ""
	for {
		kvs, _, more, err := s.store.List(ctx, keyPrefix(res, ns), store.ListOptions{StartAfter: after, Limit: 500})
		if err != nil {
			return nil, fmt.Errorf("list %s: %w", gr, err)
		}
		for _, kv := range kvs {
			obj, err := s.decodeStored(res, kv.Value, kv.ModRevision)
			if err != nil {
				return nil, err
			}
			out = append(out, obj)
			after = kv.Key
		}
		if !more {
			return out, nil
		}
	}
}

// serveResourceMetrics answers everything under /apis/metrics.k8s.io.
func (s *Server) serveResourceMetrics(w http.ResponseWriter, r *http.Request) {
	parts := splitPath(r.URL.Path)[2:] // after apis/metrics.k8s.io
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		s.writeError(w, r, apierrors.NewMethodNotSupported(schema.GroupResource{Group: metricsGV.Group, Resource: "metrics"}, r.Method))
		return
	}
	switch {
	case len(parts) == 0:
		writeJSON(w, http.StatusOK, s.apiGroup(groupVersions{group: metricsGV.Group, versions: []string{metricsGV.Version}}))
		return
	case parts[0] != metricsGV.Version:
		s.writeError(w, r, apierrors.NewNotFound(schema.GroupResource{}, r.URL.Path))
		return
	case len(parts) == 1:
		writeJSON(w, http.StatusOK, metricsResourceList())
		return
	}
	parts = parts[1:]
	ns := ""
	if parts[0] == "namespaces" && len(parts) >= 3 {
		ns, parts = parts[1], parts[2:]
	}
	if len(parts) > 2 || (parts[0] != "nodes" && parts[0] != "pods") || (parts[0] == "nodes" && ns != "") {
		s.writeError(w, r, apierrors.NewNotFound(schema.GroupResource{Group: metricsGV.Group, Resource: parts[0]}, ""))
		return
	}
	sel, err := labels.Parse(r.URL.Query().Get("labelSelector"))
	if err != nil {
		s.writeError(w, r, apierrors.NewBadRequest(fmt.Sprintf("unable to parse labelSelector %q: %v", r.URL.Query().Get("labelSelector"), err)))
		return
	}
	name := ""
	if len(parts) == 2 {
		name = parts[1]
	}
	if parts[0] == "nodes" {
		s.serveNodeMetrics(w, r, name, sel)
	} else {
		s.servePodMetrics(w, r, ns, name, sel)
	}
}

func (s *Server) serveNodeMetrics(w http.ResponseWriter, r *http.Request, name string, sel labels.Selector) {
	var items []metricsv1beta1.NodeMetrics
	nodeLabels := map[string]labels.Set{}
	if !sel.Empty() {
		if nodes, err := s.listNodes(r.Context()); err == nil {
			for _, n := range nodes {
				nodeLabels[n.Name] = n.Labels
			}
		}
	}
	s.resMetrics.mu.RLock()
	for node, m := range s.resMetrics.byNode {
		if m.Node.Timestamp.IsZero() || (name != "" && node != name) || (!sel.Empty() && !sel.Matches(nodeLabels[node])) {
			continue
		}
		nm := m.Node
		nm.Labels = nodeLabels[node]
		items = append(items, nm)
	}
	s.resMetrics.mu.RUnlock()
	sort.Slice(items, func(i, j int) bool { return items[i].Name < items[j].Name })
	for i := range items {
		items[i].TypeMeta = metav1.TypeMeta{}
	}
	if name != "" {
		if len(items) == 0 {
			s.writeError(w, r, apierrors.NewNotFound(schema.GroupResource{Group: metricsGV.Group, Resource: "nodes"}, name))
			return
		}
		items[0].TypeMeta = metav1.TypeMeta{Kind: "NodeMetrics", APIVersion: metricsGV.String()}
		writeJSON(w, http.StatusOK, &items[0])
		return
	}
	writeJSON(w, http.StatusOK, &metricsv1beta1.NodeMetricsList{
		TypeMeta: metav1.TypeMeta{Kind: "NodeMetricsList", APIVersion: metricsGV.String()}, Items: items})
}

func (s *Server) servePodMetrics(w http.ResponseWriter, r *http.Request, ns, name string, sel labels.Selector) {
	var items []metricsv1beta1.PodMetrics
	s.resMetrics.mu.RLock()
	for _, m := range s.resMetrics.byNode {
		for _, p := range m.Pods {
			if (ns != "" && p.Namespace != ns) || (name != "" && p.Name != name) || !sel.Matches(labels.Set(p.Labels)) {
				continue
			}
			items = append(items, p)
		}
	}
	s.resMetrics.mu.RUnlock()
	sort.Slice(items, func(i, j int) bool {
		if items[i].Namespace != items[j].Namespace {
			return items[i].Namespace < items[j].Namespace
		}
		return items[i].Name < items[j].Name
	})
	if name != "" {
		if len(items) == 0 {
			s.writeError(w, r, apierrors.NewNotFound(schema.GroupResource{Group: metricsGV.Group, Resource: "pods"}, name))
			return
		}
		items[0].TypeMeta = metav1.TypeMeta{Kind: "PodMetrics", APIVersion: metricsGV.String()}
		writeJSON(w, http.StatusOK, &items[0])
		return
	}
	writeJSON(w, http.StatusOK, &metricsv1beta1.PodMetricsList{
		TypeMeta: metav1.TypeMeta{Kind: "PodMetricsList", APIVersion: metricsGV.String()}, Items: items})
}

// metricsResourceList is /apis/metrics.k8s.io/v1beta1's discovery.
func metricsResourceList() *metav1.APIResourceList {
	list := &metav1.APIResourceList{TypeMeta: metav1.TypeMeta{Kind: "APIResourceList", APIVersion: "v1"}, GroupVersion: metricsGV.String()}
	for _, m := range metricsResources {
		list.APIResources = append(list.APIResources, metav1.APIResource{
			Name: m.resource, Namespaced: m.namespaced, Kind: m.kind, Verbs: []string{"get", "list"},
		})
	}
	return list
}

// metricsGroupDiscovery is the group's entry in aggregated discovery.
func metricsGroupDiscovery() apidiscoveryv2.APIGroupDiscovery {
	vd := apidiscoveryv2.APIVersionDiscovery{Version: metricsGV.Version, Freshness: apidiscoveryv2.DiscoveryFreshnessCurrent}
	for _, m := range metricsResources {
		scope := apidiscoveryv2.ScopeCluster
		if m.namespaced {
			scope = apidiscoveryv2.ScopeNamespace
		}
		vd.Resources = append(vd.Resources, apidiscoveryv2.APIResourceDiscovery{
			Resource: m.resource, Scope: scope, Verbs: []string{"get", "list"},
			ResponseKind: &metav1.GroupVersionKind{Group: metricsGV.Group, Version: metricsGV.Version, Kind: m.kind},
		})
	}
	return apidiscoveryv2.APIGroupDiscovery{ObjectMeta: metav1.ObjectMeta{Name: metricsGV.Group}, Versions: []apidiscoveryv2.APIVersionDiscovery{vd}}
}
