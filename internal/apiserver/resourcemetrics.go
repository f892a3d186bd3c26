package apiserver

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
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
	"k8s.io/apimachinery/pkg/runtime/schema"
	metricsv1beta1 "k8s.io/metrics/pkg/apis/metrics/v1beta1"
)

// The resource metrics API (metrics.k8s.io/v1beta1, what `kubectl top` and
// the autoscaler read) is served from memory: every server scrapes each
// node agent's nodeapi.ResourceMetricsPath periodically (as metrics-server
// scrapes kubelets) and answers with the latest figures.

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

// RunResourceMetrics scrapes every node agent each interval until ctx is
// done; metrics.k8s.io answers with what it got. It needs
// Config.AgentTLS.
func (s *Server) RunResourceMetrics(ctx context.Context, interval time.Duration) {
	if s.cfg.AgentTLS == nil {
		return
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		s.scrapeAll(ctx, interval)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// scrapeAll reads every node's figures once (each call bounded by timeout).
func (s *Server) scrapeAll(ctx context.Context, timeout time.Duration) {
	nodes, err := s.listNodes(ctx)
	if err != nil {
		if ctx.Err() == nil {
			s.log.Warn("resource metrics: cannot list nodes", "err", err)
		}
		return
	}
	timeout = min(timeout, 10*time.Second)
	got := make(map[string]nodeapi.ResourceMetrics, len(nodes))
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
			m, err := s.scrapeNode(ctx, timeout, n)
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
	s.forgetAgents(known)
	s.resMetrics.mu.Lock()
	s.resMetrics.byNode = got
	s.resMetrics.mu.Unlock()
}

func nodeReady(n *corev1.Node) bool {
	for _, c := range n.Status.Conditions {
		if c.Type == corev1.NodeReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

func (s *Server) scrapeNode(ctx context.Context, timeout time.Duration, n *corev1.Node) (nodeapi.ResourceMetrics, error) {
	var m nodeapi.ResourceMetrics
	u, err := agentURL(n)
	if err != nil {
		return m, err
	}
	rt, err := s.transportFor(n)
	if err != nil {
		return m, err
	}
	client := &http.Client{Transport: rt, Timeout: timeout}
	u.Path = nodeapi.ResourceMetricsPath
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return m, err
	}
	resp, err := client.Do(req)
	if err != nil {
		return m, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return m, fmt.Errorf("%s answered %s", u.Host, resp.Status)
	}
	if err := json.NewDecoder(resp.Body).Decode(&m); err != nil {
		return m, fmt.Errorf("%s: decode: %w", u.Host, err)
	}
	m.Node.Name = n.Name // a node speaks for itself only
	for i := range m.Pods {
		m.Pods[i].Kind, m.Pods[i].APIVersion = "", ""
	}
	return m, nil
}

// listNodes reads every Node from the store.
func (s *Server) listNodes(ctx context.Context) ([]*corev1.Node, error) {
	res := s.storage[schema.GroupResource{Resource: "nodes"}]
	if res == nil {
		return nil, nil
	}
	var out []*corev1.Node
	after := ""
	for {
		kvs, _, more, err := s.store.List(ctx, keyPrefix(res, ""), store.ListOptions{StartAfter: after, Limit: 500})
		if err != nil {
			return nil, err
		}
		for _, kv := range kvs {
			obj, err := s.decodeStored(res, kv.Value, kv.ModRevision)
			if err != nil {
				return nil, err
			}
			out = append(out, obj.(*corev1.Node))
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
