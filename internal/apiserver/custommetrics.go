package apiserver

import (
	"context"
	"fmt"
	"math"
	"net/http"
	"sort"
	"strings"
	"time"

	apidiscoveryv2 "k8s.io/api/apidiscovery/v2"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	cmv1beta1 "k8s.io/metrics/pkg/apis/custom_metrics/v1beta1"
	cmv1beta2 "k8s.io/metrics/pkg/apis/custom_metrics/v1beta2"
)

// The custom metrics API (custom.metrics.k8s.io, v1beta2 preferred and
// v1beta1; what the HPA controller reads for Pods and Object metrics) is
// served from memory, from the service proxies' traffic rates
// (servicerates.go):
//
//	GET /apis/custom.metrics.k8s.io/<version>/namespaces/<ns>/services/<name|*>/<metric>
//	GET /apis/custom.metrics.k8s.io/<version>/namespaces/<ns>/pods/<name|*>/<metric>
//
// with labelSelector (for *) and metricLabelSelector (the metrics carry
// no labels, so only selectors that match an empty label set select
// anything). Answers are MetricValueLists.

// Custom metrics served.
const (
	// MetricRequestsPerSecond is the rate of requests through the service
	// proxies: HTTP-mode requests, and connections (TCP) or flows (UDP)
	// of Service ports in TCP mode, where a connection is the unit of work.
	MetricRequestsPerSecond = "requests_per_second"
	// MetricConnectionsPerSecond is the rate of TCP-mode connections and
	// UDP flows (HTTP-mode ports count none).
	MetricConnectionsPerSecond = "connections_per_second"
)

// customMetricsGroup is the custom metrics API's group.
const customMetricsGroup = "custom.metrics.k8s.io"

// customMetricsVersions are its versions, preferred first.
var customMetricsVersions = []string{cmv1beta2.SchemeGroupVersion.Version, cmv1beta1.SchemeGroupVersion.Version}

// customMetricNames and customMetricResources are what is served: each
// metric for each resource.
var (
	customMetricNames     = []string{MetricConnectionsPerSecond, MetricRequestsPerSecond}
	customMetricResources = []string{"pods", "services"}
)

// value is the metric's figure in a rate.
func metricValue(metric string, r rate) float64 {
	if metric == MetricConnectionsPerSecond {
		return r.connections
	}
	return r.requests + r.connections
}

// serveCustomMetrics answers everything under /apis/custom.metrics.k8s.io.
func (s *Server) serveCustomMetrics(w http.ResponseWriter, r *http.Request) {
	parts := splitPath(r.URL.Path)[2:] // after apis/custom.metrics.k8s.io
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		s.writeError(w, r, apierrors.NewMethodNotSupported(schema.GroupResource{Group: customMetricsGroup, Resource: "metrics"}, r.Method))
		return
	}
	if len(parts) == 0 {
		writeJSON(w, http.StatusOK, s.apiGroup(groupVersions{group: customMetricsGroup, versions: customMetricsVersions}))
		return
	}
	version := parts[0]
	if !contains(customMetricsVersions, version) {
		s.writeError(w, r, apierrors.NewNotFound(schema.GroupResource{}, r.URL.Path))
		return
	}
	if len(parts) == 1 {
		writeJSON(w, http.StatusOK, customMetricsResourceList(version))
		return
	}
	parts = parts[1:]
	if parts[0] != "namespaces" || len(parts) < 3 {
		s.writeError(w, r, statusError(http.StatusNotFound, metav1.StatusReasonNotFound, fmt.Sprintf(
			"%s serves metrics of namespaced objects only: /apis/%s/%s/namespaces/<namespace>/{%s}/<name or *>/<metric>",
			customMetricsGroup, customMetricsGroup, version, strings.Join(customMetricResources, ","))))
		return
	}
	ns, parts := parts[1], parts[2:]
	if len(parts) != 3 {
		if len(parts) == 2 && parts[0] == "metrics" {
			s.writeError(w, r, statusError(http.StatusNotFound, metav1.StatusReasonNotFound, fmt.Sprintf(
				"metric %q of namespace %s is not served: %s serves metrics of %s", parts[1], ns, customMetricsGroup, strings.Join(customMetricResources, " and "))))
			return
		}
		s.writeError(w, r, apierrors.NewNotFound(schema.GroupResource{}, r.URL.Path))
		return
	}
	q := r.URL.Query()
	sel, err := labels.Parse(q.Get("labelSelector"))
	if err != nil {
		s.writeError(w, r, apierrors.NewBadRequest(fmt.Sprintf("unable to parse labelSelector %q: %v", q.Get("labelSelector"), err)))
		return
	}
	msel, err := labels.Parse(q.Get("metricLabelSelector"))
	if err != nil {
		s.writeError(w, r, apierrors.NewBadRequest(fmt.Sprintf("unable to parse metricLabelSelector %q: %v", q.Get("metricLabelSelector"), err)))
		return
	}
	items, err := s.customMetricValues(r.Context(), customMetricQuery{namespace: ns, resource: parts[0], name: parts[1], metric: parts[2],
		selector: sel, metricSelector: msel})
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if version == cmv1beta1.SchemeGroupVersion.Version {
		list := &cmv1beta1.MetricValueList{TypeMeta: metav1.TypeMeta{Kind: "MetricValueList", APIVersion: cmv1beta1.SchemeGroupVersion.String()},
			Items: make([]cmv1beta1.MetricValue, 0, len(items))}
		for _, it := range items {
			list.Items = append(list.Items, cmv1beta1.MetricValue{DescribedObject: it.DescribedObject, MetricName: it.Metric.Name,
				Timestamp: it.Timestamp, WindowSeconds: it.WindowSeconds, Value: it.Value, Selector: it.Metric.Selector})
		}
		writeJSON(w, http.StatusOK, list)
		return
	}
	writeJSON(w, http.StatusOK, &cmv1beta2.MetricValueList{
		TypeMeta: metav1.TypeMeta{Kind: "MetricValueList", APIVersion: cmv1beta2.SchemeGroupVersion.String()}, Items: items})
}

// customMetricQuery is one custom metrics request.
type customMetricQuery struct {
	namespace, resource, name, metric string
	selector, metricSelector          labels.Selector
}

// customMetricValues answers q: one value for a named object, one per
// matching object for "*". Errors are status errors.
func (s *Server) customMetricValues(ctx context.Context, q customMetricQuery) ([]cmv1beta2.MetricValue, error) {
	if !contains(customMetricNames, q.metric) {
		return nil, statusError(http.StatusNotFound, metav1.StatusReasonNotFound, fmt.Sprintf(
			"custom metric %q is not served by Berth (served: %s)", q.metric, strings.Join(customMetricNames, ", ")))
	}
	if !contains(customMetricResources, q.resource) {
		return nil, statusError(http.StatusNotFound, metav1.StatusReasonNotFound, fmt.Sprintf(
			"custom metric %q is not available for %s (only for %s)", q.metric, q.resource, strings.Join(customMetricResources, " and ")))
	}
	all := q.name == cmv1beta2.AllObjects
	gr := schema.GroupResource{Resource: q.resource}
	// The objects the answer is about, in name order.
	var objs []metav1.Object
	var pods []*corev1.Pod // every pod of the namespace (pods only)
	switch {
	case q.resource == "pods":
		list, err := s.listStored(ctx, gr, q.namespace)
		if err != nil {
			return nil, storeError(err, gr, "")
		}
		for _, o := range list {
			p := o.(*corev1.Pod)
			pods = append(pods, p)
			if (all && q.selector.Matches(labels.Set(p.Labels))) || p.Name == q.name {
				objs = append(objs, p)
			}
		}
	case all:
		list, err := s.listStored(ctx, gr, q.namespace)
		if err != nil {
			return nil, storeError(err, gr, "")
		}
		for _, o := range list {
			if m := accessor(o); q.selector.Matches(labels.Set(m.GetLabels())) {
				objs = append(objs, m)
			}
		}
	default:
		res := s.storage[gr]
		if res == nil {
			return nil, apierrors.NewNotFound(gr, q.name)
		}
		o, _, err := s.getObject(ctx, res, q.namespace, q.name)
		if err != nil {
			return nil, err
		}
		objs = append(objs, accessor(o))
	}
	if !all && len(objs) == 0 {
		return nil, apierrors.NewNotFound(gr, q.name)
	}

	snap := s.svcRates.snapshot()
	if !snap.ok {
		every := time.Duration(s.scrapeEvery.Load())
		return nil, statusError(http.StatusNotFound, metav1.StatusReasonNotFound, fmt.Sprintf(
			"no %s for %s %s/%s yet: rates need two scrapes of the node agents' service proxies (every %v)", q.metric, q.resource, q.namespace, q.name, every))
	}
	if !q.metricSelector.Matches(labels.Set{}) {
		// Berth's metrics carry no labels: such a selector selects nothing.
		if all {
			return []cmv1beta2.MetricValue{}, nil
		}
		return nil, statusError(http.StatusNotFound, metav1.StatusReasonNotFound, fmt.Sprintf(
			"metricLabelSelector %q selects no %s: Berth's custom metrics carry no labels", q.metricSelector, q.metric))
	}
	var mid cmv1beta2.MetricIdentifier
	mid.Name = q.metric
	if !q.metricSelector.Empty() {
		ls, err := metav1.ParseToLabelSelector(q.metricSelector.String())
		if err == nil {
			mid.Selector = ls
		}
	}
	window := int64(math.Round(snap.window.Seconds()))
	window = max(window, 1)

	var values map[string]rate // by object name
	kind := "Service"
	if q.resource == "pods" {
		kind = "Pod"
		values = podRates(pods, snap.endpoints[q.namespace])
	}
	items := make([]cmv1beta2.MetricValue, 0, len(objs))
	for _, o := range objs {
		var v rate
		if q.resource == "pods" {
			var ok bool
			if v, ok = values[o.GetName()]; !ok {
				continue // finished, or without an address: no figure
			}
		} else {
			v = snap.services[types.NamespacedName{Namespace: q.namespace, Name: o.GetName()}]
		}
		items = append(items, cmv1beta2.MetricValue{
			DescribedObject: corev1.ObjectReference{Kind: kind, APIVersion: "v1", Namespace: q.namespace, Name: o.GetName(), UID: o.GetUID()},
			Metric:          mid,
			Timestamp:       metav1.NewTime(snap.at),
			WindowSeconds:   &window,
			Value:           quantity(metricValue(q.metric, v)),
		})
	}
	if !all && len(items) == 0 {
		return nil, statusError(http.StatusNotFound, metav1.StatusReasonNotFound, fmt.Sprintf(
			"pod %s/%s has no %s: it has finished or has no IP", q.namespace, q.name, q.metric))
	}
	sort.Slice(items, func(i, j int) bool { return items[i].DescribedObject.Name < items[j].DescribedObject.Name })
	return items, nil
}

// quantity is v with milli precision (12.5 → 12500m).
func quantity(v float64) resource.Quantity {
	return *resource.NewMilliQuantity(int64(math.Round(v*1000)), resource.DecimalSI)
}

// customMetricsResourceList is /apis/custom.metrics.k8s.io/<version>'s
// discovery: one entry per resource and metric, as custom metrics
// adapters list them.
func customMetricsResourceList(version string) *metav1.APIResourceList {
	list := &metav1.APIResourceList{TypeMeta: metav1.TypeMeta{Kind: "APIResourceList", APIVersion: "v1"}, GroupVersion: customMetricsGroup + "/" + version}
	for _, res := range customMetricResources {
		for _, m := range customMetricNames {
			list.APIResources = append(list.APIResources, metav1.APIResource{
				Name: res + "/" + m, Namespaced: true, Kind: "MetricValueList", Verbs: []string{"get"},
			})
		}
	}
	return list
}

// customMetricsGroupDiscovery is the group's entry in aggregated
// discovery: per resource an entry without a kind (clients drop it) whose
// subresources are the metrics, which is how the legacy names
// "pods/<metric>" look in the aggregated form.
func customMetricsGroupDiscovery() apidiscoveryv2.APIGroupDiscovery {
	gd := apidiscoveryv2.APIGroupDiscovery{ObjectMeta: metav1.ObjectMeta{Name: customMetricsGroup}}
	for _, v := range customMetricsVersions {
		vd := apidiscoveryv2.APIVersionDiscovery{Version: v, Freshness: apidiscoveryv2.DiscoveryFreshnessCurrent}
		for _, res := range customMetricResources {
			rd := apidiscoveryv2.APIResourceDiscovery{Resource: res, Scope: apidiscoveryv2.ScopeNamespace, Verbs: []string{"get"}}
			for _, m := range customMetricNames {
				rd.Subresources = append(rd.Subresources, apidiscoveryv2.APISubresourceDiscovery{
					Subresource:  m,
					ResponseKind: &metav1.GroupVersionKind{Group: customMetricsGroup, Version: v, Kind: "MetricValueList"},
					Verbs:        []string{"get"},
				})
			}
			vd.Resources = append(vd.Resources, rd)
		}
		gd.Versions = append(gd.Versions, vd)
	}
	return gd
}
