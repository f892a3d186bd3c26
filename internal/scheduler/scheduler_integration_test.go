package scheduler_test

import (
	"context"
	"fmt"
	"math"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/berth-dev/berth/internal/controller/job"
	"github.com/berth-dev/berth/internal/testutil/fakekubelet"
	"github.com/berth-dev/berth/internal/testutil/testenv"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	schedulingv1 "k8s.io/api/scheduling/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
)

func TestUnschedulableExplainsAndWaitsForNode(t *testing.T) {
	cs := start(t, testConfig(t, ""), nil)
	taint := func(n *corev1.Node) {
		n.Spec.Taints = []corev1.Taint{{Key: "dedicated", Value: "gpu", Effect: corev1.TaintEffectNoSchedule}}
	}
	createNodes(t, cs, readyNode("small-0", resources("2", "8Gi", "110")), readyNode("small-1", resources("2", "8Gi", "110")),
		readyNode("small-2", resources("2", "8Gi", "110")),
		readyNode("gpu-0", resources("64", "256Gi", "110"), taint), readyNode("gpu-1", resources("64", "256Gi", "110"), taint))
	w := watchBinds(t, cs)
	createPods(t, cs, newPod("default", "big", "default-scheduler", "8"))

	want := "0/5 nodes are available: 3 Insufficient cpu, 2 node(s) had untolerated taint {dedicated: gpu}."
	ctx := context.Background()
	testenv.Eventually(t, 10*time.Second, "FailedScheduling event", func() error {
		evs, err := cs.CoreV1().Events("default").List(ctx, metav1.ListOptions{FieldSelector: fields.OneTermEqualSelector("involvedObject.name", "big").String()})
		if err != nil {
			return err
		}
		for _, e := range evs.Items {
			if e.Reason == "FailedScheduling" && e.Type == corev1.EventTypeWarning && strings.HasPrefix(e.Message, want) &&
				e.Source.Component == "default-scheduler" {
				return nil
			}
		}
		return fmt.Errorf("events %v", evs.Items)
	})
	testenv.Eventually(t, 10*time.Second, "PodScheduled=False condition", func() error {
		p, err := cs.CoreV1().Pods("default").Get(ctx, "big", metav1.GetOptions{})
		if err != nil {
			return err
		}
		for _, c := range p.Status.Conditions {
			if c.Type == corev1.PodScheduled && c.Status == corev1.ConditionFalse && c.Reason == corev1.PodReasonUnschedulable && strings.HasPrefix(c.Message, want) {
				return nil
			}
		}
		return fmt.Errorf("conditions %+v", p.Status.Conditions)
	})
	if _, ok := w.get("default/big"); ok {
		t.Fatal("pod too big for every node was bound")
	}
	joined := time.Now()
	createNodes(t, cs, readyNode("big-node", resources("16", "64Gi", "110")))
	testenv.Eventually(t, 5*time.Second, "pod bound to the node that joined", func() error {
		if b, ok := w.get("default/big"); !ok || b.node != "big-node" {
			return fmt.Errorf("binding %+v", b)
		}
		return nil
	})
	b, _ := w.get("default/big")
	t.Logf("bound %v after the node joined", b.at.Sub(joined).Round(time.Millisecond))

	// The attempts show on /metrics.
	raw, err := cs.CoreV1().RESTClient().Get().AbsPath("/metrics").DoRaw(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range []string{`scheduler_schedule_attempts_total{profile="default-scheduler",result="scheduled"} 1`,
		`scheduler_schedule_attempts_total{profile="default-scheduler",result="unschedulable"}`,
		`scheduler_scheduling_attempt_duration_seconds_bucket`, `scheduler_pending_pods{profile="fcfs",queue="active"}`} {
		if !strings.Contains(string(raw), m) {
			t.Errorf("/metrics lacks %s", m)
		}
	}
}

func TestSpreadVsBinPack(t *testing.T) {
	cs := start(t, testConfig(t, ""), nil)
	group := func(g string) func(*corev1.Node) { return func(n *corev1.Node) { n.Labels["group"] = g } }
	for i := range 5 {
		createNodes(t, cs, readyNode(fmt.Sprintf("s-%d", i), resources("4", "16Gi", "110"), group("s")),
			readyNode(fmt.Sprintf("b-%d", i), resources("4", "16Gi", "110"), group("b")))
	}
	// Spread and bin-pack compare nodes: all of them must be known first.
	waitSchedulerKnows(t, cs, "b-4", "spread")
	w := watchBinds(t, cs)
	for i := range 10 {
		createPods(t, cs,
			newPod("default", fmt.Sprintf("spread-%d", i), "spread", "1", func(p *corev1.Pod) { p.Spec.NodeSelector = map[string]string{"group": "s"} }),
			newPod("default", fmt.Sprintf("binpack-%d", i), "binpack", "1", func(p *corev1.Pod) { p.Spec.NodeSelector = map[string]string{"group": "b"} }))
	}
	testenv.Eventually(t, 20*time.Second, "20 pods bound", func() error {
		if n := w.count(func(string, binding) bool { return true }); n != 20 {
			return fmt.Errorf("%d bound", n)
		}
		return nil
	})
	perNode := func(prefix string) []int {
		counts := map[string]int{}
		w.count(func(k string, b binding) bool {
			if strings.HasPrefix(k, "default/"+prefix) {
				counts[b.node]++
			}
			return false
		})
		var out []int
		for _, n := range counts {
			out = append(out, n)
		}
		slices.Sort(out)
		slices.Reverse(out)
		return out
	}
	if got := perNode("spread-"); !slices.Equal(got, []int{2, 2, 2, 2, 2}) {
		t.Errorf("spread placed %v pods per node, want 2 on each of 5", got)
	}
	if got := perNode("binpack-"); !slices.Equal(got, []int{4, 4, 2}) {
		t.Errorf("bin-pack placed %v pods per node, want 4, 4, 2 (3 nodes used)", got)
	}
}

// TestFCFSvsSJF runs the same batch of Jobs on a one-slot cluster under
// both policies and compares the mean waiting time with the textbook.
func TestFCFSvsSJF(t *testing.T) {
	cs := start(t, testConfig(t, ""), &fakekubelet.Config{Nodes: []string{"slot"}, Allocatable: resources("64", "256Gi", "1")},
		job.New)
	w := watchBinds(t, cs)
	ctx := context.Background()
	testenv.Eventually(t, 10*time.Second, "node registered", func() error {
		_, err := cs.CoreV1().Nodes().Get(ctx, "slot", metav1.GetOptions{})
		return err
	})
	durations := []time.Duration{3 * time.Second, 2 * time.Second, time.Second, 500 * time.Millisecond} // creation order
	run := func(profile string) (order []int, mean time.Duration) {
		setUnschedulable(t, cs, "slot", true)
		waitSchedulerSeesNoRoom(t, cs, profile)
		one := int32(1)
		for i, d := range durations {
			j := &batchv1.Job{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: fmt.Sprintf("%s-%d", profile, i)},
				Spec: batchv1.JobSpec{Completions: &one, Parallelism: &one, Template: corev1.PodTemplateSpec{
					ObjectMeta: metav1.ObjectMeta{Annotations: map[string]string{
						"berth.io/expected-duration": d.String(), fakekubelet.RunForAnnotation: d.String()}},
					Spec: corev1.PodSpec{SchedulerName: profile, RestartPolicy: corev1.RestartPolicyNever,
						Containers: []corev1.Container{{Name: "c", Image: "busybox"}}}}}}
			if _, err := cs.BatchV1().Jobs("default").Create(ctx, j, metav1.CreateOptions{}); err != nil {
				t.Fatal(err)
			}
			// One job's pod at a time, so pods are created in job order (FCFS
			// follows pod creation; the Job controller's workers run in parallel).
			testenv.Eventually(t, 10*time.Second, "pod of job "+j.Name, func() error {
				pods, err := cs.CoreV1().Pods("default").List(ctx, metav1.ListOptions{LabelSelector: batchv1.JobNameLabel + "=" + j.Name})
				if err != nil || len(pods.Items) == 0 {
					return fmt.Errorf("no pod yet (%v)", err)
				}
				return nil
			})
		}
		prefix := "default/" + profile + "-"
		testenv.Eventually(t, 10*time.Second, profile+": every job's pod tried and found unschedulable", func() error {
			if n := w.unschedulable(func(k string) bool { return strings.HasPrefix(k, prefix) }); n != len(durations) {
				return fmt.Errorf("%d unschedulable", n)
			}
			return nil
		})
		time.Sleep(150 * time.Millisecond) // past the longest back-off: order is up to the policy
		t0 := time.Now()
		setUnschedulable(t, cs, "slot", false)
		testenv.Eventually(t, 30*time.Second, profile+": all jobs' pods bound", func() error {
			if n := w.count(func(k string, _ binding) bool { return strings.HasPrefix(k, prefix) }); n != len(durations) {
				return fmt.Errorf("%d bound", n)
			}
			return nil
		})
		type start struct {
			job int
			at  time.Time
		}
		var starts []start
		w.count(func(k string, b binding) bool {
			if strings.HasPrefix(k, prefix) {
				var i int
				fmt.Sscanf(strings.TrimPrefix(k, prefix), "%d-", &i)
				starts = append(starts, start{i, b.at})
			}
			return false
		})
		slices.SortFunc(starts, func(a, b start) int { return a.at.Compare(b.at) })
		var total time.Duration
		for _, s := range starts {
			order = append(order, s.job)
			total += s.at.Sub(t0)
		}
		// Wait for the last job to finish before the next batch.
		testenv.Eventually(t, 10*time.Second, profile+": jobs complete", func() error {
			for i := range durations {
				j, err := cs.BatchV1().Jobs("default").Get(ctx, fmt.Sprintf("%s-%d", profile, i), metav1.GetOptions{})
				if err != nil {
					return err
				}
				if j.Status.Succeeded != 1 {
					return fmt.Errorf("job %s not done", j.Name)
				}
			}
			return nil
		})
		return order, total / time.Duration(len(durations))
	}
	textbook := func(order []int) time.Duration {
		var wait, sum time.Duration
		for _, i := range order {
			sum += wait
			wait += durations[i]
		}
		return sum / time.Duration(len(order))
	}
	fcfsOrder, fcfsMean := run("fcfs")
	sjfOrder, sjfMean := run("sjf")
	t.Logf("FCFS order %v mean wait %v (textbook %v); SJF order %v mean wait %v (textbook %v)",
		fcfsOrder, fcfsMean.Round(time.Millisecond), textbook([]int{0, 1, 2, 3}), sjfOrder, sjfMean.Round(time.Millisecond), textbook([]int{3, 2, 1, 0}))
	if !slices.Equal(fcfsOrder, []int{0, 1, 2, 3}) {
		t.Errorf("FCFS ran jobs in order %v, want creation order", fcfsOrder)
	}
	if !slices.Equal(sjfOrder, []int{3, 2, 1, 0}) {
		t.Errorf("SJF ran jobs in order %v, want shortest first", sjfOrder)
	}
	if sjfMean >= fcfsMean {
		t.Errorf("SJF mean wait %v is not below FCFS %v", sjfMean, fcfsMean)
	}
	for name, got := range map[string][2]time.Duration{"fcfs": {fcfsMean, textbook([]int{0, 1, 2, 3})}, "sjf": {sjfMean, textbook([]int{3, 2, 1, 0})}} {
		// Measured waits include per-job overheads (job controller, kubelet, binding).
		if diff := math.Abs(float64(got[0] - got[1])); diff > float64(400*time.Millisecond) {
			t.Errorf("%s mean wait %v, textbook %v: off by more than 400ms", name, got[0], got[1])
		}
	}
}

func TestRoundRobinFairShare(t *testing.T) {
	cs := start(t, testConfig(t, ""), nil)
	pool := func(p string) func(*corev1.Node) {
		return func(n *corev1.Node) { n.Labels["pool"] = p; n.Spec.Unschedulable = true }
	}
	createNodes(t, cs, readyNode("rr", resources("64", "", "10"), pool("rr")), readyNode("fc", resources("64", "", "10"), pool("fc")))
	createNamespaces(t, cs, "burst", "small")
	w := watchBinds(t, cs)
	in := func(profile, poolName string) func(*corev1.Pod) {
		return func(p *corev1.Pod) { p.Spec.NodeSelector = map[string]string{"pool": poolName} }
	}
	var wg sync.WaitGroup
	for _, profile := range []string{"round-robin", "fcfs"} {
		poolName := map[string]string{"round-robin": "rr", "fcfs": "fc"}[profile]
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 100 {
				createPods(t, cs, newPod("burst", fmt.Sprintf("%s-%03d", profile, i), profile, "10m", in(profile, poolName)))
			}
			for i := range 5 {
				createPods(t, cs, newPod("small", fmt.Sprintf("%s-%03d", profile, i), profile, "10m", in(profile, poolName)))
			}
		}()
	}
	wg.Wait()
	testenv.Eventually(t, 30*time.Second, "all 210 pods tried", func() error {
		if n := w.unschedulable(func(string) bool { return true }); n != 210 {
			return fmt.Errorf("%d unschedulable", n)
		}
		return nil
	})
	time.Sleep(150 * time.Millisecond) // past the longest back-off
	setUnschedulable(t, cs, "rr", false)
	setUnschedulable(t, cs, "fc", false)
	testenv.Eventually(t, 20*time.Second, "both nodes full", func() error {
		for _, node := range []string{"rr", "fc"} {
			if n := w.count(func(_ string, b binding) bool { return b.node == node }); n != 10 {
				return fmt.Errorf("node %s has %d pods", node, n)
			}
		}
		return nil
	})
	small := func(node string) int {
		return w.count(func(k string, b binding) bool { return b.node == node && strings.HasPrefix(k, "small/") })
	}
	if got := small("rr"); got != 5 {
		t.Errorf("round-robin: %d of the small tenant's 5 pods got one of the 10 slots, want all 5", got)
	}
	if got := small("fc"); got != 0 {
		t.Errorf("fcfs control: %d small-tenant pods scheduled, want 0 (they queue behind the burst)", got)
	}
}

func TestPriorityPreemption(t *testing.T) {
	cs := start(t, testConfig(t, ""), &fakekubelet.Config{Nodes: []string{"n"}, Allocatable: resources("64", "256Gi", "2")})
	ctx := context.Background()
	for name, v := range map[string]int32{"low": 10, "high": 1000} {
		if _, err := cs.SchedulingV1().PriorityClasses().Create(ctx, &schedulingv1.PriorityClass{ObjectMeta: metav1.ObjectMeta{Name: name}, Value: v}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	w := watchBinds(t, cs)
	class := func(c string) func(*corev1.Pod) { return func(p *corev1.Pod) { p.Spec.PriorityClassName = c } }
	createPods(t, cs, newPod("default", "low-0", "default-scheduler", "100m", class("low")), newPod("default", "low-1", "default-scheduler", "100m", class("low")))
	testenv.Eventually(t, 10*time.Second, "low pods running", func() error {
		for _, n := range []string{"low-0", "low-1"} {
			p, err := cs.CoreV1().Pods("default").Get(ctx, n, metav1.GetOptions{})
			if err != nil {
				return err
			}
			if p.Status.Phase != corev1.PodRunning {
				return fmt.Errorf("%s is %s", n, p.Status.Phase)
			}
		}
		return nil
	})
	createPods(t, cs, newPod("default", "high", "default-scheduler", "100m", class("high")))
	hp, err := cs.CoreV1().Pods("default").Get(ctx, "high", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if hp.Spec.Priority == nil || *hp.Spec.Priority != 1000 {
		t.Fatalf("priority admission: spec.priority %v, want 1000", hp.Spec.Priority)
	}
	testenv.Eventually(t, 15*time.Second, "high-priority pod bound", func() error {
		if b, ok := w.get("default/high"); !ok || b.node != "n" {
			return fmt.Errorf("not bound")
		}
		return nil
	})
	w.mu.Lock()
	nominated := w.nominated["default/high"]
	w.mu.Unlock()
	if nominated != "n" {
		t.Errorf("high-priority pod was never nominated to node n (saw %q)", nominated)
	}
	pods, err := cs.CoreV1().Pods("default").List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var low []string
	for _, p := range pods.Items {
		if strings.HasPrefix(p.Name, "low-") {
			low = append(low, p.Name)
		}
	}
	if len(low) != 1 {
		t.Errorf("low-priority pods left: %v, want exactly one (minimal victims)", low)
	}
	evs, err := cs.CoreV1().Events("default").List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	preempted := false
	for _, e := range evs.Items {
		if e.Reason == "Preempted" && strings.HasPrefix(e.InvolvedObject.Name, "low-") && strings.Contains(e.Message, "default/high") {
			preempted = true
		}
	}
	if !preempted {
		t.Error("no Preempted event on the victim")
	}
}

func TestNoOvercommitUnderConcurrentCreates(t *testing.T) {
	cs := start(t, testConfig(t, ""), nil)
	const nodes, pods, perNode = 20, 2000, 40 // 4 cpu / 100m
	for i := range nodes {
		createNodes(t, cs, readyNode(fmt.Sprintf("n-%02d", i), resources("4", "16Gi", "110")))
	}
	w := watchBinds(t, cs)
	var wg sync.WaitGroup
	errs := make(chan error, pods)
	for c := range 32 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := c; i < pods; i += 32 {
				p := newPod("default", fmt.Sprintf("p-%04d", i), "default-scheduler", "100m")
				if _, err := cs.CoreV1().Pods("default").Create(context.Background(), p, metav1.CreateOptions{}); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	testenv.Eventually(t, 60*time.Second, "every node full", func() error {
		if n := w.count(func(string, binding) bool { return true }); n != nodes*perNode {
			return fmt.Errorf("%d bound", n)
		}
		return nil
	})
	time.Sleep(500 * time.Millisecond) // any overcommitting binding would land now
	list, err := cs.CoreV1().Pods("default").List(context.Background(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	used := map[string]int64{}
	bound := 0
	for _, p := range list.Items {
		if p.Spec.NodeName == "" {
			continue
		}
		bound++
		q := p.Spec.Containers[0].Resources.Requests[corev1.ResourceCPU]
		used[p.Spec.NodeName] += q.MilliValue()
	}
	alloc := resource.MustParse("4")
	for n, m := range used {
		if m > alloc.MilliValue() {
			t.Errorf("node %s overcommitted: %dm requested of %dm", n, m, alloc.MilliValue())
		}
	}
	if bound != nodes*perNode {
		t.Errorf("%d pods bound, want %d", bound, nodes*perNode)
	}
}
