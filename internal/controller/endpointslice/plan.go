package endpointslice

import (
	"cmp"
	"maps"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
)

// Plan is the slice writes that bring a service's slices to the desired
// state. The controller applies creates first, then updates, then
// deletes, so an endpoint moving between slices is never missing.
type Plan struct {
	// Create are new slices (with GenerateName) to create.
	Create []*discoveryv1.EndpointSlice
	// Update are existing slices with their new content.
	Update []*discoveryv1.EndpointSlice
	// Delete are existing slices to delete.
	Delete []*discoveryv1.EndpointSlice
}

// Empty reports whether the plan writes nothing.
func (p Plan) Empty() bool { return len(p.Create)+len(p.Update)+len(p.Delete) == 0 }

// PlanSlices compares the desired groups of svc (from DesiredGroups) with
// its existing managed slices and returns the writes, touching as few
// slices as it can: unchanged endpoints stay where they are, slices that
// change anyway are filled first, the remainder goes into one unchanged
// slice with room for all of it or into new slices of at most max
// endpoints, and a slice that would be deleted is rewritten instead of
// creating a new one. Slices of address types svc does not publish, or
// not controlled by svc (by UID), are deleted. An address type without
// endpoints keeps one empty placeholder slice. Nothing is created for a
// service that is being deleted.
func PlanSlices(svc *corev1.Service, existing []*discoveryv1.EndpointSlice, desired map[discoveryv1.AddressType][]Group, max int) Plan {
	if max <= 0 {
		max = MaxEndpointsPerSlice
	}
	existing = slices.Clone(existing)
	slices.SortFunc(existing, func(a, b *discoveryv1.EndpointSlice) int { return strings.Compare(a.Name, b.Name) })
	var plan Plan
	byType := map[discoveryv1.AddressType][]*discoveryv1.EndpointSlice{}
	for _, s := range existing {
		if _, ok := desired[s.AddressType]; !ok || !OwnedBy(s, svc) {
			plan.Delete = append(plan.Delete, s)
			continue
		}
		byType[s.AddressType] = append(byType[s.AddressType], s)
	}
	for _, at := range slices.Sorted(maps.Keys(desired)) {
		p := planType(svc, at, byType[at], desired[at], max)
		plan.Create = append(plan.Create, p.Create...)
		plan.Update = append(plan.Update, p.Update...)
		plan.Delete = append(plan.Delete, p.Delete...)
	}
	if svc.DeletionTimestamp != nil {
		plan.Create = nil
	}
	return plan
}

// slot is an existing or new slice being filled.
type slot struct {
	orig    *discoveryv1.EndpointSlice // nil for a new slice
	key     string
	ports   []discoveryv1.EndpointPort // for new slices
	eps     []discoveryv1.Endpoint
	changed bool
}

// planType plans the slices of one address type.
func planType(svc *corev1.Service, at discoveryv1.AddressType, existing []*discoveryv1.EndpointSlice, groups []Group, max int) Plan {
	// pending holds, per port set, the desired endpoints not yet placed.
	pending := map[string]map[string]discoveryv1.Endpoint{}
	for _, g := range groups {
		m := map[string]discoveryv1.Endpoint{}
		for _, ep := range g.Endpoints {
			m[endpointKey(ep)] = ep
		}
		pending[g.Key] = m
	}
	var kept, emptied []*slot
	for _, s := range existing {
		sl := &slot{orig: s, key: PortsKey(s.Ports)}
		want := pending[sl.key]
		for _, ep := range s.Endpoints {
			k := endpointKey(ep)
			d, ok := want[k]
			if !ok {
				sl.changed = true // no longer desired, or a duplicate
				continue
			}
			delete(want, k)
			if !apiequality.Semantic.DeepEqual(ep, d) {
				sl.changed = true
			}
			sl.eps = append(sl.eps, d)
		}
		if len(sl.eps) > max { // over-full: spill the excess back
			for _, ep := range sl.eps[max:] {
				want[endpointKey(ep)] = ep
			}
			sl.eps, sl.changed = sl.eps[:max], true
		}
		if len(sl.eps) == 0 {
			emptied = append(emptied, sl)
		} else {
			kept = append(kept, sl)
		}
	}
	var fresh []*slot
	for _, g := range groups {
		var rest []discoveryv1.Endpoint
		for _, ep := range g.Endpoints {
			if _, ok := pending[g.Key][endpointKey(ep)]; ok {
				rest = append(rest, ep)
			}
		}
		rest = fill(candidates(kept, g.Key, true), rest, max)
		if len(rest) > 0 {
			for _, c := range candidates(kept, g.Key, false) {
				if max-len(c.eps) >= len(rest) {
					c.eps, c.changed, rest = append(c.eps, rest...), true, nil
					break
				}
			}
		}
		for len(rest) > 0 {
			n := min(max, len(rest))
			fresh = append(fresh, &slot{key: g.Key, ports: g.Ports, eps: slices.Clone(rest[:n])})
			rest = rest[n:]
		}
	}
	if len(kept) == 0 && len(fresh) == 0 {
		i := slices.IndexFunc(emptied, func(s *slot) bool { return len(s.orig.Endpoints) == 0 && len(s.orig.Ports) == 0 })
		if i >= 0 {
			kept = append(kept, emptied[i]) // keep the existing placeholder
			emptied = slices.Delete(emptied, i, i+1)
		} else {
			fresh = append(fresh, &slot{})
		}
	}
	return build(svc, at, kept, emptied, fresh)
}

// build turns the filled slots into writes, rewriting slices that would
// be deleted instead of creating new ones.
func build(svc *corev1.Service, at discoveryv1.AddressType, kept, emptied, fresh []*slot) Plan {
	var plan Plan
	lbls := DesiredLabels(svc)
	for _, sl := range kept {
		if !sl.changed && maps.Equal(sl.orig.Labels, lbls) {
			continue
		}
		s := sl.orig.DeepCopy()
		s.Labels, s.Endpoints = lbls, sl.eps
		plan.Update = append(plan.Update, s)
	}
	for _, sl := range fresh {
		if len(emptied) > 0 {
			s := emptied[0].orig.DeepCopy()
			emptied = emptied[1:]
			s.Labels, s.Ports, s.Endpoints = lbls, sl.ports, sl.eps
			plan.Update = append(plan.Update, s)
			continue
		}
		plan.Create = append(plan.Create, newSlice(svc, at, sl.ports, sl.eps))
	}
	for _, sl := range emptied {
		plan.Delete = append(plan.Delete, sl.orig)
	}
	return plan
}

// candidates returns the kept slots of port set key that are (changed)
// or are not (!changed) being rewritten anyway, fullest first.
func candidates(kept []*slot, key string, changed bool) []*slot {
	var out []*slot
	for _, s := range kept {
		if s.key == key && s.changed == changed {
			out = append(out, s)
		}
	}
	slices.SortStableFunc(out, func(a, b *slot) int { return cmp.Compare(len(b.eps), len(a.eps)) })
	return out
}

// fill tops up slots to max endpoints from rest and returns what is left.
func fill(slots []*slot, rest []discoveryv1.Endpoint, max int) []discoveryv1.Endpoint {
	for _, s := range slots {
		n := min(max-len(s.eps), len(rest))
		if n <= 0 {
			continue
		}
		s.eps = append(s.eps, rest[:n]...)
		rest = rest[n:]
	}
	return rest
}

// endpointKey identifies an endpoint across slices: its addresses and
// the UID of the pod it points at.
func endpointKey(ep discoveryv1.Endpoint) string {
	k := strings.Join(ep.Addresses, ",")
	if ep.TargetRef != nil {
		k += "|" + string(ep.TargetRef.UID)
	}
	return k
}
