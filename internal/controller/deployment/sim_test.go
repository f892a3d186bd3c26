package deployment

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// simRS is a ReplicaSet with the pods that really exist behind it.
type simRS struct {
	rs      *appsv1.ReplicaSet
	pods    int32 // not terminating
	ready   int32
	healthy bool // its pods become ready
}

// sim models a Deployment controller (the planners), ReplicaSet controller
// (pods follow spec, unready pods deleted first, status reported) and
// kubelet (pods become ready) acting in any order.
type sim struct {
	d   *appsv1.Deployment
	rss []*simRS
	rng *rand.Rand
	age int
	// newHealthy says whether the rolled-out template's pods get ready.
	newHealthy bool
}

func (m *sim) list() []*appsv1.ReplicaSet {
	var out []*appsv1.ReplicaSet
	for _, r := range m.rss {
		out = append(out, r.rs)
	}
	return out
}

// deploymentStep is one sync: create the new RS if missing, then scale
// (resize) or take a rolling step. It reports whether anything changed.
func (m *sim) deploymentStep() bool {
	newRS, old := m.split()
	if newRS == nil {
		m.age++
		rs := NewReplicaSet(m.d, ComputeHash(&m.d.Spec.Template, nil), 0, "9")
		rs.CreationTimestamp.Time = t0.Add(timeSec(m.age))
		rs.Spec.Replicas = ptr(NewRSReplicas(m.d, withNew(old, rs), rs))
		m.rss = append(m.rss, &simRS{rs: rs, healthy: m.newHealthy})
		return true
	}
	var plan []Scale
	if IsScalingEvent(m.d, newRS, old) {
		plan = PlanScale(m.d, newRS, old)
	} else {
		plan = PlanRollingUpdate(m.d, newRS, old)
	}
	changed := false
	for _, sc := range plan {
		changed = changed || specOf(sc.RS) != sc.To
		sc.RS.Spec.Replicas = ptr(sc.To)
		SetReplicasAnnotations(sc.RS, desired(m.d), desired(m.d)+MaxSurge(m.d))
	}
	return changed
}

// split is SplitReplicaSets by image (the real one is slow for the many
// simulated steps, and tested on its own).
func (m *sim) split() (newRS *appsv1.ReplicaSet, old []*appsv1.ReplicaSet) {
	for _, r := range m.rss {
		if r.rs.Spec.Template.Spec.Containers[0].Image == m.d.Spec.Template.Spec.Containers[0].Image {
			newRS = r.rs
		} else {
			old = append(old, r.rs)
		}
	}
	return newRS, old
}

// rsStep lets the ReplicaSet controller sync r.
func (m *sim) rsStep(r *simRS) bool {
	spec := specOf(r.rs)
	st := &r.rs.Status
	before := [3]int32{st.Replicas, st.ReadyReplicas, st.AvailableReplicas}
	r.ready = min(r.ready, spec)
	r.pods = spec
	st.Replicas, st.ReadyReplicas, st.AvailableReplicas = r.pods, r.ready, r.ready
	return before != [3]int32{st.Replicas, st.ReadyReplicas, st.AvailableReplicas}
}

// kubeletStep makes r's pods ready if its template is healthy.
func (m *sim) kubeletStep(r *simRS) bool {
	if !r.healthy || r.ready == r.pods {
		return false
	}
	r.ready = r.pods
	return true
}

func (m *sim) totals() (pods, ready int32) {
	for _, r := range m.rss {
		pods += r.pods
		ready += r.ready
	}
	return pods, ready
}

// step runs one random actor.
func (m *sim) step() {
	switch m.rng.IntN(3) {
	case 0:
		m.deploymentStep()
	case 1:
		if len(m.rss) > 0 {
			m.rsStep(m.rss[m.rng.IntN(len(m.rss))])
		}
	default:
		if len(m.rss) > 0 {
			m.kubeletStep(m.rss[m.rng.IntN(len(m.rss))])
		}
	}
}

// settle runs every actor in turn until nothing changes.
func (m *sim) settle(t *testing.T, check func()) {
	for round := 0; round < 1000; round++ {
		changed := m.deploymentStep()
		check()
		for _, r := range m.rss {
			changed = m.rsStep(r) || changed
			check()
			changed = m.kubeletStep(r) || changed
			check()
		}
		if !changed {
			return
		}
	}
	t.Fatal("rollout did not settle in 1000 rounds")
}

func timeSec(n int) time.Duration { return time.Duration(n) * time.Second }

// TestRollingUpdateSimulation rolls out a new template in random
// interleavings of the controllers for many (replicas, maxSurge,
// maxUnavailable, starting state) combinations and checks that pods never
// exceed replicas+maxSurge, ready pods never drop below
// replicas-maxUnavailable (or where they started, if lower), and that a
// healthy rollout ends with all replicas new and ready.
func TestRollingUpdateSimulation(t *testing.T) {
	pct := intstr.FromString
	surges := []intstr.IntOrString{i0, i1, i2, pct("25%"), pct("50%")}
	unavails := []intstr.IntOrString{i0, i1, pct("25%"), pct("100%")}
	starts := []string{"one old", "two old", "old unready", "old short"}
	runs := 0
	for _, replicas := range []int32{1, 2, 3, 5, 10} {
		for _, surge := range surges {
			for _, unavail := range unavails {
				if surge == i0 && unavail == i0 {
					continue // rejected by validation
				}
				for _, start := range starts {
					for _, healthy := range []bool{true, false} {
						for seed := uint64(0); seed < 4; seed++ {
							runs++
							name := fmt.Sprintf("%d/%s/%s/%s/healthy=%v/seed=%d", replicas, surge.String(), unavail.String(), start, healthy, seed)
							simulate(t, name, replicas, surge, unavail, start, healthy, seed)
						}
					}
				}
			}
		}
	}
	t.Logf("%d simulated rollouts", runs)
}

func simulate(t *testing.T, name string, replicas int32, surge, unavail intstr.IntOrString, start string, healthy bool, seed uint64) {
	t.Helper()
	d := rollingDeployment(replicas, surge, unavail)
	m := &sim{d: d, rng: rand.New(rand.NewPCG(seed, 42)), newHealthy: healthy, age: 10}
	add := func(image string, spec, ready int32, age int) {
		rs := testRS(d, image, spec, ready, age, 1)
		SetReplicasAnnotations(rs, replicas, replicas+MaxSurge(d))
		m.rss = append(m.rss, &simRS{rs: rs, pods: spec, ready: ready, healthy: true})
	}
	switch start {
	case "one old":
		add("v1", replicas, replicas, 0)
	case "two old":
		add("v0", replicas/2, replicas/2, 0)
		add("v1", replicas-replicas/2, replicas-replicas/2, 1)
	case "old unready":
		add("v1", replicas, replicas-1, 0)
		m.rss[0].healthy = false
	case "old short": // an old RS still scaling up
		add("v1", replicas, replicas/2, 0)
		m.rss[0].pods = replicas / 2
		m.rss[0].rs.Status.Replicas = replicas / 2
	}
	maxPods := replicas + MaxSurge(d)
	_, ready0 := m.totals()
	minReady := min(ready0, replicas-MaxUnavailable(d))
	failed := false
	check := func() {
		if failed {
			return
		}
		pods, ready := m.totals()
		if pods > maxPods || ready < minReady {
			failed = true
			t.Errorf("%s: %d pods (max %d), %d ready (min %d)", name, pods, maxPods, ready, minReady)
		}
	}
	for i := 0; i < 400 && !failed; i++ {
		m.step()
		check()
	}
	m.settle(t, check)
	if failed || !healthy {
		return
	}
	newRS, old := SplitReplicaSets(d, m.list())
	if newRS == nil || specOf(newRS) != replicas || newRS.Status.AvailableReplicas != replicas {
		t.Errorf("%s: rollout did not complete: new %v", name, newRS.Status)
	}
	if n := sumSpec(old) + sumStatus(old, statusReplicas); n != 0 {
		t.Errorf("%s: old ReplicaSets keep %d replicas", name, n)
	}
}
