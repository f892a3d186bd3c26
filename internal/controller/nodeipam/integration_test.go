package nodeipam_test

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/berth-dev/berth/internal/controller"
	"github.com/berth-dev/berth/internal/controller/nodeipam"
	"github.com/berth-dev/berth/internal/testutil/testenv"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
)

const timeout = 30 * time.Second

func createNode(t *testing.T, cs kubernetes.Interface, name, podCIDR string) {
	t.Helper()
	n := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: corev1.NodeSpec{PodCIDR: podCIDR}}
	if _, err := cs.CoreV1().Nodes().Create(context.Background(), n, metav1.CreateOptions{}); err != nil {
		t.Fatalf("create node %s: %v", name, err)
	}
}

// podCIDR waits for node name to have a pod CIDR and returns it.
func podCIDR(t *testing.T, cs kubernetes.Interface, name string) netip.Prefix {
	t.Helper()
	var p netip.Prefix
	testenv.Eventually(t, timeout, "pod CIDR of "+name, func() error {
		n, err := cs.CoreV1().Nodes().Get(context.Background(), name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		if n.Spec.PodCIDR == "" {
			return errors.New("no podCIDR yet")
		}
		if len(n.Spec.PodCIDRs) != 1 || n.Spec.PodCIDRs[0] != n.Spec.PodCIDR {
			return fmt.Errorf("podCIDRs %v do not match podCIDR %s", n.Spec.PodCIDRs, n.Spec.PodCIDR)
		}
		p, err = netip.ParsePrefix(n.Spec.PodCIDR)
		return err
	})
	return p
}

// distinct fails the test unless every range is distinct.
func distinct(t *testing.T, ranges map[string]netip.Prefix) {
	t.Helper()
	seen := map[netip.Prefix]string{}
	for node, p := range ranges {
		if other, ok := seen[p]; ok {
			t.Fatalf("%s and %s share %v", node, other, p)
		}
		seen[p] = node
	}
}

// runController runs the controller built by f against cs until the
// returned stop is called: a controller-manager of its own, so that a
// test can stop one and start another.
func runController(t *testing.T, cs kubernetes.Interface, f controller.Factory) (stop func()) {
	t.Helper()
	factory := informers.NewSharedInformerFactory(cs, 0)
	broadcaster, recorder := controller.NewRecorder(cs, "nodeipam-test")
	c, err := f(&controller.Context{Client: cs, Informers: factory, Recorder: recorder, Logger: testenv.Logger(), Workers: 4})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	factory.Start(ctx.Done())
	factory.WaitForCacheSync(ctx.Done())
	done := make(chan struct{})
	go func() {
		defer close(done)
		c.Run(ctx, 4)
	}()
	stopped := false
	stop = func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		<-done
		factory.Shutdown()
		broadcaster.Shutdown()
	}
	t.Cleanup(stop)
	return stop
}

func TestAssignsDistinctRanges(t *testing.T) {
	cs := testenv.Start(t, testenv.Options{Logger: testenv.Logger(), Controllers: []controller.Factory{nodeipam.New}}).Client
	cluster := netip.MustParsePrefix(nodeipam.DefaultClusterCIDR)

	// A node registered with a range keeps it, and nobody else gets it.
	createNode(t, cs, "preset", "10.42.0.0/24")
	names := []string{"node-a", "node-b", "node-c"}
	for _, n := range names {
		createNode(t, cs, n, "")
	}
	ranges := map[string]netip.Prefix{"preset": podCIDR(t, cs, "preset")}
	for _, n := range names {
		p := podCIDR(t, cs, n)
		if p.Bits() != 24 || !cluster.Contains(p.Addr()) {
			t.Errorf("%s got %v, want a /24 of %v", n, p, cluster)
		}
		ranges[n] = p
	}
	if ranges["preset"] != netip.MustParsePrefix("10.42.0.0/24") {
		t.Errorf("preset node's range changed to %v", ranges["preset"])
	}
	distinct(t, ranges)

	// A burst of nodes, allocated by several workers at once.
	var wg sync.WaitGroup
	for i := range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			n := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("bulk-%d", i)}}
			if _, err := cs.CoreV1().Nodes().Create(context.Background(), n, metav1.CreateOptions{}); err != nil {
				t.Errorf("create node %s: %v", n.Name, err)
			}
		}()
	}
	wg.Wait()
	for i := range 20 {
		name := fmt.Sprintf("bulk-%d", i)
		ranges[name] = podCIDR(t, cs, name)
	}
	distinct(t, ranges)

	// The API server lets the range be set once only.
	n, err := cs.CoreV1().Nodes().Get(context.Background(), "node-a", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	n.Spec.PodCIDR, n.Spec.PodCIDRs = "10.42.200.0/24", []string{"10.42.200.0/24"}
	if _, err := cs.CoreV1().Nodes().Update(context.Background(), n, metav1.UpdateOptions{}); !apierrors.IsInvalid(err) {
		t.Errorf("changing podCIDR: %v, want Invalid", err)
	}
}

func TestRestartKeepsRanges(t *testing.T) {
	cs := testenv.Start(t, testenv.Options{Logger: testenv.Logger(), Controllers: []controller.Factory{}}).Client

	stop := runController(t, cs, nodeipam.New)
	ranges := map[string]netip.Prefix{}
	for _, n := range []string{"node-a", "node-b", "node-c"} {
		createNode(t, cs, n, "")
	}
	for _, n := range []string{"node-a", "node-b", "node-c"} {
		ranges[n] = podCIDR(t, cs, n)
	}
	stop()

	// A new controller rebuilds the used ranges from the nodes: the old
	// nodes keep theirs, a new node gets a fourth one.
	runController(t, cs, nodeipam.New)
	createNode(t, cs, "node-d", "")
	ranges["node-d"] = podCIDR(t, cs, "node-d")
	for _, n := range []string{"node-a", "node-b", "node-c"} {
		if got := podCIDR(t, cs, n); got != ranges[n] {
			t.Errorf("%s: range %v changed to %v after the restart", n, ranges[n], got)
		}
	}
	distinct(t, ranges)
}

func TestExhaustion(t *testing.T) {
	cs := testenv.Start(t, testenv.Options{Logger: testenv.Logger(), Controllers: []controller.Factory{nodeipam.NewWithCIDR("10.0.0.0/30", 31)}}).Client
	ctx := context.Background()
	names := []string{"node-a", "node-b", "node-c"}
	for _, n := range names {
		createNode(t, cs, n, "")
	}
	// Two nodes get the two /31s; the third gets a CIDRNotAvailable event.
	var starved string
	testenv.Eventually(t, timeout, "two ranges handed out and an event for the third node", func() error {
		assigned, without := 0, ""
		for _, n := range names {
			node, err := cs.CoreV1().Nodes().Get(ctx, n, metav1.GetOptions{})
			if err != nil {
				return err
			}
			if node.Spec.PodCIDR != "" {
				assigned++
			} else {
				without = n
			}
		}
		if assigned != 2 || without == "" {
			return fmt.Errorf("%d nodes with a range", assigned)
		}
		evs, err := cs.CoreV1().Events("").List(ctx, metav1.ListOptions{})
		if err != nil {
			return err
		}
		for _, e := range evs.Items {
			if e.InvolvedObject.Kind == "Node" && e.InvolvedObject.Name == without && e.Reason == nodeipam.ReasonCIDRNotAvailable &&
				e.Type == corev1.EventTypeWarning {
				starved = without
				return nil
			}
		}
		return fmt.Errorf("no %s event for %s", nodeipam.ReasonCIDRNotAvailable, without)
	})

	// Deleting a node frees its range for the starved node.
	var victim string
	var freed netip.Prefix
	for _, n := range names {
		if n != starved {
			victim, freed = n, podCIDR(t, cs, n)
			break
		}
	}
	if err := cs.CoreV1().Nodes().Delete(ctx, victim, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	if got := podCIDR(t, cs, starved); got != freed {
		t.Errorf("%s got %v after %s was deleted, want its range %v", starved, got, victim, freed)
	}
}
