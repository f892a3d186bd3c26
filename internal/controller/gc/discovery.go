package gc

import (
	"errors"
	"fmt"
	"log/slog"
	"path"
	"slices"
	"sort"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/tools/cache"
)

// resource is one kind the API server serves.
type resource struct {
	gvr        schema.GroupVersionResource
	kind       string
	namespaced bool
	watch      bool // listed, watched and deletable: the collector caches it
	// informer caches the resource (nil when it is not watched or no
	// informer could be built for it).
	informer cache.SharedIndexInformer
}

// String names the resource in logs ("deployments.apps").
func (r *resource) String() string { return r.gvr.GroupResource().String() }

// urlPath is the API path of an object (name "" gives the collection).
func (r *resource) urlPath(namespace, name string) string {
	p := "/api/" + r.gvr.Version
	if r.gvr.Group != "" {
		p = "/apis/" + r.gvr.Group + "/" + r.gvr.Version
	}
	if r.namespaced && namespace != "" {
		p += "/namespaces/" + namespace
	}
	return path.Join(p, r.gvr.Resource, name)
}

// resources is what discovery found: the resources to watch and every
// resource by group and kind (to resolve ownerReferences).
type resources struct {
	watched []*resource
	byKind  map[schema.GroupKind]*resource
}

// forRef resolves an ownerReference's apiVersion and kind; nil when no
// served resource has that kind.
func (rs resources) forRef(ref metav1.OwnerReference) *resource {
	gv, err := schema.ParseGroupVersion(ref.APIVersion)
	if err != nil {
		return nil
	}
	return rs.byKind[schema.GroupKind{Group: gv.Group, Kind: ref.Kind}]
}

// selectResources picks from discovery's preferred resources the ones the
// collector watches (verbs list, watch and delete; no subresources, no
// events) and indexes every gettable resource by group and kind.
func selectResources(lists []*metav1.APIResourceList) resources {
	rs := resources{byKind: map[schema.GroupKind]*resource{}}
	for _, l := range lists {
		if l == nil {
			continue
		}
		gv, err := schema.ParseGroupVersion(l.GroupVersion)
		if err != nil {
			continue
		}
		for _, ar := range l.APIResources {
			if strings.Contains(ar.Name, "/") || !slices.Contains(ar.Verbs, "get") {
				continue
			}
			g, v := gv.Group, gv.Version
			if ar.Group != "" {
				g = ar.Group
			}
			if ar.Version != "" {
				v = ar.Version
			}
			r := &resource{
				gvr:        schema.GroupVersionResource{Group: g, Version: v, Resource: ar.Name},
				kind:       ar.Kind,
				namespaced: ar.Namespaced,
			}
			gk := schema.GroupKind{Group: g, Kind: ar.Kind}
			if _, dup := rs.byKind[gk]; dup {
				continue
			}
			rs.byKind[gk] = r
			if ar.Name == "events" {
				continue
			}
			if slices.Contains(ar.Verbs, "list") && slices.Contains(ar.Verbs, "watch") && slices.Contains(ar.Verbs, "delete") {
				r.watch = true
				rs.watched = append(rs.watched, r)
			}
		}
	}
	sort.Slice(rs.watched, func(i, j int) bool { return rs.watched[i].String() < rs.watched[j].String() })
	return rs
}

// discover asks the API server for its preferred resources. A partial
// answer (some group failed) is used as far as it goes and logged.
func discover(d discovery.DiscoveryInterface, log *slog.Logger) (resources, error) {
	lists, err := d.ServerPreferredResources()
	var partial *discovery.ErrGroupDiscoveryFailed
	switch {
	case err != nil && errors.As(err, &partial) && len(lists) > 0:
		log.Warn("discovery failed for some groups; they are not collected", "err", err)
	case err != nil:
		return resources{}, fmt.Errorf("gc: discovery: %w", err)
	}
	rs := selectResources(lists)
	if len(rs.watched) == 0 {
		return rs, errors.New("gc: discovery found no resource to watch")
	}
	return rs, nil
}
