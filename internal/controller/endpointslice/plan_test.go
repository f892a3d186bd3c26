package endpointslice

import (
	"fmt"
	"maps"
	"slices"
	"sort"
	"testing"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	"k8s.io/apimachinery/pkg/types"
)

// cluster is a fake store of slices that plans are applied to.
type cluster struct {
	slices map[string]*discoveryv1.EndpointSlice
	n      int
}

func (c *cluster) list() []*discoveryv1.EndpointSlice {
	var out []*discoveryv1.EndpointSlice
	for _, name := range slices.Sorted(maps.Keys(c.slices)) {
		out = append(out, c.slices[name].DeepCopy())
	}
	return out
}

func (c *cluster) apply(t *testing.T, p Plan) {
	t.Helper()
	for _, s := range p.Create {
		if s.Name != "" || s.GenerateName == "" {
			t.Fatalf("create without generateName: %+v", s.ObjectMeta)
		}
		c.n++
		s = s.DeepCopy()
		s.Name = fmt.Sprintf("%sx%02d", s.GenerateName, c.n)
		s.UID = types.UID("slice-" + s.Name)
		c.slices[s.Name] = s
	}
	for _, s := range p.Update {
		if c.slices[s.Name] == nil || c.slices[s.Name].UID != s.UID {
			t.Fatalf("update of unknown slice %s", s.Name)
		}
		c.slices[s.Name] = s.DeepCopy()
	}
	for _, s := range p.Delete {
		if c.slices[s.Name] == nil {
			t.Fatalf("delete of unknown slice %s", s.Name)
		}
		delete(c.slices, s.Name)
	}
}

// step plans svc against the cluster, applies it, checks the invariants
// and returns the plan.
func (c *cluster) step(t *testing.T, svc *corev1.Service, pods []*corev1.Pod) Plan {
	t.Helper()
	desired := DesiredGroups(svc, pods)
	p := PlanSlices(svc, c.list(), desired, MaxEndpointsPerSlice)
	c.apply(t, p)
	if svc.DeletionTimestamp != nil {
		return p
	}
	// The slices now hold exactly the desired endpoints, each once, in
	// slices of the right port set, with the right metadata.
	want := map[string]string{}
	for at, gs := range desired {
		for _, g := range gs {
			for _, ep := range g.Endpoints {
				want[string(at)+" "+g.Key+" "+renderEndpoint(ep)] = ""
			}
		}
	}
	got := map[string]string{}
	placeholders := 0
	for _, s := range c.list() {
		if len(s.Endpoints) > MaxEndpointsPerSlice {
			t.Errorf("slice %s has %d endpoints", s.Name, len(s.Endpoints))
		}
		if len(s.Endpoints) == 0 {
			placeholders++
		}
		if !maps.Equal(s.Labels, DesiredLabels(svc)) || !OwnedBy(s, svc) {
			t.Errorf("slice %s metadata %v %v", s.Name, s.Labels, s.OwnerReferences)
		}
		for _, ep := range s.Endpoints {
			k := string(s.AddressType) + " " + PortsKey(s.Ports) + " " + renderEndpoint(ep)
			if _, dup := got[k]; dup {
				t.Errorf("duplicate endpoint %s", k)
			}
			got[k] = ""
		}
	}
	if !maps.Equal(got, want) {
		t.Errorf("published %v\nwant %v", slices.Sorted(maps.Keys(got)), slices.Sorted(maps.Keys(want)))
	}
	if empty := len(want) == 0; (empty && placeholders != 1) || (!empty && placeholders != 0) {
		t.Errorf("%d placeholder slices for %d endpoints", placeholders, len(want))
	}
	return p
}

func pods(n int, mods ...func(*corev1.Pod)) []*corev1.Pod {
	var out []*corev1.Pod
	for i := range n {
		out = append(out, testPod(fmt.Sprintf("p%03d", i), fmt.Sprintf("10.1.%d.%d", i/200, i%200+1), mods...))
	}
	return out
}

func sizes(c *cluster) []int {
	var out []int
	for _, s := range c.list() {
		out = append(out, len(s.Endpoints))
	}
	sort.Sort(sort.Reverse(sort.IntSlice(out)))
	return out
}

func counts(p Plan) [3]int { return [3]int{len(p.Create), len(p.Update), len(p.Delete)} }

func TestPlanSlices(t *testing.T) {
	svc := testService()
	p250 := pods(250)
	cases := []struct {
		name   string
		before []*corev1.Pod // state the cluster is first reconciled to
		svc    *corev1.Service
		after  []*corev1.Pod
		want   [3]int // creates, updates, deletes
		sizes  []int  // resulting slice sizes, largest first
	}{
		{"250 pods make 3 slices", nil, svc, p250, [3]int{2, 1, 0}, []int{100, 100, 50}},
		{"no pods make a placeholder", nil, svc, nil, [3]int{0, 0, 0}, []int{0}},
		{"unchanged writes nothing", p250, svc, p250, [3]int{}, []int{100, 100, 50}},
		{"placeholder reused for first endpoints", nil, svc, pods(3), [3]int{0, 1, 0}, []int{3}},
		{"all pods gone: one slice becomes the placeholder", p250, svc, nil, [3]int{0, 1, 2}, []int{0}},
		{"one pod not ready updates one slice", p250, svc,
			append(slices.Clone(p250[:249]), testPod("p249", "10.1.1.50", notReady)), [3]int{0, 1, 0}, []int{100, 100, 50}},
		{"one pod removed updates one slice", p250, svc, p250[1:], [3]int{0, 1, 0}, []int{100, 99, 50}},
		{"new pod goes into the slice with room", pods(250), svc, pods(251), [3]int{0, 1, 0}, []int{100, 100, 51}},
		{"full slice plus one creates a slice", pods(100), svc, pods(101), [3]int{1, 0, 0}, []int{100, 1}},
		{"changed slice is filled before others", pods(150), svc, append(pods(151)[1:], pods(1, altPort)[0]), [3]int{1, 1, 0}, []int{100, 50, 1}},
		{"port change rewrites slices in place", pods(150), svc, pods(150, altPort), [3]int{0, 2, 0}, []int{100, 50}},
		{"labels change updates every slice", p250, testService(func(s *corev1.Service) { s.Labels = map[string]string{"tier": "back"} }), p250,
			[3]int{0, 3, 0}, []int{100, 100, 50}},
		{"terminating pods stay listed", pods(3), svc, pods(3, terminating), [3]int{0, 1, 0}, []int{3}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := &cluster{slices: map[string]*discoveryv1.EndpointSlice{}}
			c.step(t, svc, tc.before)
			p := c.step(t, tc.svc, tc.after)
			if got := counts(p); got != tc.want {
				t.Errorf("creates/updates/deletes = %v, want %v", got, tc.want)
			}
			if tc.sizes != nil && !slices.Equal(sizes(c), tc.sizes) {
				t.Errorf("sizes %v, want %v", sizes(c), tc.sizes)
			}
		})
	}
}

func TestPlanSlicesForeignAndStale(t *testing.T) {
	svc := testService()
	c := &cluster{slices: map[string]*discoveryv1.EndpointSlice{}}
	c.step(t, svc, pods(3))
	// A slice of a previous service with the same name, one of an address
	// type the service no longer has, and a duplicate of an endpoint.
	old := newSlice(testService(func(s *corev1.Service) { s.UID = "old-uid" }), discoveryv1.AddressTypeIPv4, nil, nil)
	old.Name, old.UID = "web-old", "old"
	v6 := newSlice(svc, discoveryv1.AddressTypeIPv6, nil, nil)
	v6.Name, v6.UID = "web-v6", "v6"
	dup := c.list()[0].DeepCopy()
	dup.Name, dup.UID = "web-zdup", "dup" // sorts after the original
	dup.Endpoints = dup.Endpoints[:1]
	for _, s := range []*discoveryv1.EndpointSlice{old, v6, dup} {
		c.slices[s.Name] = s
	}
	p := c.step(t, svc, pods(3))
	if got := counts(p); got != [3]int{0, 0, 3} {
		t.Fatalf("plan %v: want the three extra slices deleted", got)
	}
}

func TestPlanSlicesOverfullAndDeleting(t *testing.T) {
	svc := testService()
	c := &cluster{slices: map[string]*discoveryv1.EndpointSlice{}}
	c.step(t, svc, pods(3))
	big := DesiredGroups(svc, pods(150))[discoveryv1.AddressTypeIPv4][0]
	s := c.list()[0]
	s.Endpoints = big.Endpoints // someone packed 150 into one slice
	c.slices[s.Name] = s
	if got := counts(c.step(t, svc, pods(150))); got != [3]int{1, 1, 0} {
		t.Fatalf("overfull plan %v", got)
	}
	deleting := testService(func(s *corev1.Service) { s.DeletionTimestamp = s.CreationTimestamp.DeepCopy() })
	p := PlanSlices(deleting, c.list(), DesiredGroups(deleting, pods(300)), MaxEndpointsPerSlice)
	if len(p.Create) != 0 || len(p.Delete) != 0 {
		t.Fatalf("deleting service plan %v", counts(p))
	}
}
