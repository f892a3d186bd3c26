package apiserver

import (
	"mime"
	"net/http"
	"strings"

	"github.com/berth-dev/berth/internal/apiserver/registry"
	apidiscoveryv2 "k8s.io/api/apidiscovery/v2"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// aggregatedContentType is the Content-Type that tells clients a discovery
// answer is aggregated; they look at nothing else.
const aggregatedContentType = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"

var objectVerbs = []string{"create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"}

func wantsAggregated(r *http.Request) bool {
	for _, part := range strings.Split(r.Header.Get("Accept"), ",") {
		mt, params, err := mime.ParseMediaType(strings.TrimSpace(part))
		if err != nil || mt != "application/json" {
			continue
		}
		if params["g"] == "apidiscovery.k8s.io" && params["v"] == "v2" && params["as"] == "APIGroupDiscoveryList" {
			return true
		}
		if params["as"] == "" {
			return false // plain JSON preferred
		}
	}
	return false
}

func (s *Server) serveLegacyRoot(w http.ResponseWriter, r *http.Request) {
	if wantsAggregated(r) {
		s.writeAggregated(w, true)
		return
	}
	writeJSON(w, http.StatusOK, &metav1.APIVersions{
		TypeMeta: metav1.TypeMeta{Kind: "APIVersions"},
		Versions: []string{"v1"},
		ServerAddressByClientCIDRs: []metav1.ServerAddressByClientCIDR{
			{ClientCIDR: "0.0.0.0/0", ServerAddress: r.Host},
		},
	})
}

func (s *Server) serveGroupsRoot(w http.ResponseWriter, r *http.Request) {
	if wantsAggregated(r) {
		s.writeAggregated(w, false)
		return
	}
	list := &metav1.APIGroupList{TypeMeta: metav1.TypeMeta{Kind: "APIGroupList", APIVersion: "v1"}}
	for _, g := range s.groups {
		if g.group != "" {
			list.Groups = append(list.Groups, s.apiGroup(g))
		}
	}
	if s.cfg.AgentTLS != nil {
		list.Groups = append(list.Groups, s.apiGroup(groupVersions{group: metricsGV.Group, versions: []string{metricsGV.Version}}),
			s.apiGroup(groupVersions{group: customMetricsGroup, versions: customMetricsVersions}))
	}
	writeJSON(w, http.StatusOK, list)
}

func (s *Server) apiGroup(g groupVersions) metav1.APIGroup {
	ag := metav1.APIGroup{TypeMeta: metav1.TypeMeta{Kind: "APIGroup", APIVersion: "v1"}, Name: g.group}
	for _, v := range g.versions {
		ag.Versions = append(ag.Versions, metav1.GroupVersionForDiscovery{GroupVersion: g.group + "/" + v, Version: v})
	}
	ag.PreferredVersion = ag.Versions[0]
	return ag
}

// serveDiscovery answers /api/v1, /apis/<group> and /apis/<group>/<version>.
func (s *Server) serveDiscovery(w http.ResponseWriter, r *http.Request) {
	parts := splitPath(r.URL.Path)
	var gv schema.GroupVersion
	switch {
	case len(parts) == 2 && parts[0] == "api":
		gv = schema.GroupVersion{Version: parts[1]}
	case len(parts) == 2 && parts[0] == "apis":
		for _, g := range s.groups {
			if g.group == parts[1] && g.group != "" {
				writeJSON(w, http.StatusOK, s.apiGroup(g))
				return
			}
		}
		s.writeError(w, r, apierrors.NewNotFound(schema.GroupResource{}, r.URL.Path))
		return
	case len(parts) == 3 && parts[0] == "apis":
		gv = schema.GroupVersion{Group: parts[1], Version: parts[2]}
	default:
		s.writeError(w, r, apierrors.NewNotFound(schema.GroupResource{}, r.URL.Path))
		return
	}
	list := &metav1.APIResourceList{TypeMeta: metav1.TypeMeta{Kind: "APIResourceList", APIVersion: "v1"}, GroupVersion: gv.String()}
	for _, res := range s.cfg.Resources {
		if res.GroupVersion != gv {
			continue
		}
		list.APIResources = append(list.APIResources, metav1.APIResource{
			Name: res.Resource, SingularName: res.Singular, Namespaced: res.Namespaced, Kind: res.Kind,
			Verbs: objectVerbs, ShortNames: res.ShortNames, Categories: res.Categories,
		})
		for _, sub := range res.Subresources {
			group, version, kind, verbs := subresourceKind(res, sub)
			list.APIResources = append(list.APIResources, metav1.APIResource{
				Name: res.Resource + "/" + sub, Namespaced: res.Namespaced, Group: group, Version: version, Kind: kind, Verbs: verbs,
			})
		}
	}
	if len(list.APIResources) == 0 {
		s.writeError(w, r, apierrors.NewNotFound(schema.GroupResource{}, r.URL.Path))
		return
	}
	writeJSON(w, http.StatusOK, list)
}

// subresourceKind tells what a subresource returns and which verbs it has.
func subresourceKind(res *registry.Resource, sub string) (group, version, kind string, verbs []string) {
	switch sub {
	case "scale":
		return "autoscaling", "v1", "Scale", []string{"get", "patch", "update"}
	case "binding":
		return "", "v1", "Binding", []string{"create"}
	case "log":
		return "", "v1", "Pod", []string{"get"}
	case "exec":
		return "", "v1", "PodExecOptions", []string{"create", "get"}
	case "proxy":
		return "", "v1", "NodeProxyOptions", []string{"get"}
	}
	return res.GroupVersion.Group, res.GroupVersion.Version, res.Kind, []string{"get", "patch", "update"}
}

func (s *Server) writeAggregated(w http.ResponseWriter, core bool) {
	list := &apidiscoveryv2.APIGroupDiscoveryList{TypeMeta: metav1.TypeMeta{Kind: "APIGroupDiscoveryList", APIVersion: "apidiscovery.k8s.io/v2"}}
	for _, g := range s.groups {
		if (g.group == "") != core {
			continue
		}
		gd := apidiscoveryv2.APIGroupDiscovery{ObjectMeta: metav1.ObjectMeta{Name: g.group}}
		for _, v := range g.versions {
			vd := apidiscoveryv2.APIVersionDiscovery{Version: v, Freshness: apidiscoveryv2.DiscoveryFreshnessCurrent}
			for _, res := range s.cfg.Resources {
				if res.GroupVersion.Group != g.group || res.GroupVersion.Version != v {
					continue
				}
				vd.Resources = append(vd.Resources, aggregatedResource(res))
			}
			gd.Versions = append(gd.Versions, vd)
		}
		list.Items = append(list.Items, gd)
	}
	if !core && s.cfg.AgentTLS != nil {
		list.Items = append(list.Items, metricsGroupDiscovery(), customMetricsGroupDiscovery())
	}
	w.Header().Set("Content-Type", aggregatedContentType)
	w.Header().Set("Vary", "Accept")
	writeJSONRaw(w, http.StatusOK, list)
}

func aggregatedResource(res *registry.Resource) apidiscoveryv2.APIResourceDiscovery {
	scope := apidiscoveryv2.ScopeCluster
	if res.Namespaced {
		scope = apidiscoveryv2.ScopeNamespace
	}
	d := apidiscoveryv2.APIResourceDiscovery{
		Resource:         res.Resource,
		ResponseKind:     &metav1.GroupVersionKind{Group: res.GroupVersion.Group, Version: res.GroupVersion.Version, Kind: res.Kind},
		Scope:            scope,
		SingularResource: res.Singular,
		Verbs:            objectVerbs,
		ShortNames:       res.ShortNames,
		Categories:       res.Categories,
	}
	for _, sub := range res.Subresources {
		group, version, kind, verbs := subresourceKind(res, sub)
		d.Subresources = append(d.Subresources, apidiscoveryv2.APISubresourceDiscovery{
			Subresource:  sub,
			ResponseKind: &metav1.GroupVersionKind{Group: group, Version: version, Kind: kind},
			Verbs:        verbs,
		})
	}
	return d
}
