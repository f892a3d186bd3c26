package bench

import (
	"context"
	"fmt"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

const (
	// controllersNamespace holds the benchmark's Deployments and pods.
	controllersNamespace = "bench-controllers"
	// leaderLease is the Lease the controller manager holds while its
	// controllers run.
	leaderLeaseNamespace, leaderLeaseName = "kube-system", "berth-controller-manager"
	// leaderTimeout bounds the wait for the controller manager to lead.
	leaderTimeout = 60 * time.Second
	// countPage is the page size of the final LISTs.
	countPage = 1000
)

// deploymentName names Deployment i.
func deploymentName(i int) string { return fmt.Sprintf("d-%06d", i) }

// waitForLeader polls the controller manager's Lease until it has a
// holder: from then on the controllers run (their informers sync at once
// on an empty cluster).
func waitForLeader(ctx context.Context, cs kubernetes.Interface) error {
	ctx, cancel := context.WithTimeout(ctx, leaderTimeout)
	defer cancel()
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		l, err := cs.CoordinationV1().Leases(leaderLeaseNamespace).Get(ctx, leaderLeaseName, metav1.GetOptions{})
		if err == nil && l.Spec.HolderIdentity != nil && *l.Spec.HolderIdentity != "" {
			return nil
		}
		if err != nil && !apierrors.IsNotFound(err) && ctx.Err() == nil {
			return fmt.Errorf("bench: get Lease %s/%s: %w", leaderLeaseNamespace, leaderLeaseName, err)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("bench: the controller manager took no leadership (Lease %s/%s): %w", leaderLeaseNamespace, leaderLeaseName, ctx.Err())
		case <-tick.C:
		}
	}
}

// fakeNode is a Ready node with room for far more pods than the benchmark
// creates. No kubelet stands behind it.
func fakeNode(i int) *corev1.Node {
	res := corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("64"), corev1.ResourceMemory: resource.MustParse("256Gi"),
		corev1.ResourcePods: resource.MustParse("1000")}
	name := fmt.Sprintf("bench-node-%04d", i)
	now := metav1.Now()
	return &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{corev1.LabelHostname: name, corev1.LabelOSStable: "linux"}},
		Status: corev1.NodeStatus{
			Capacity: res, Allocatable: res,
			Conditions: []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionTrue, Reason: "BenchFakeNode",
				LastHeartbeatTime: now, LastTransitionTime: now}},
			NodeInfo: corev1.NodeSystemInfo{KubeletVersion: "fake", OperatingSystem: "linux", Architecture: "amd64"},
		},
	}
}

// registerNodes creates n fake nodes with c goroutines; a node whose status
// the create dropped gets it through the status subresource.
func registerNodes(ctx context.Context, cs kubernetes.Interface, n, c int) error {
	return registerNodesWith(ctx, cs, n, c, fakeNode)
}

// registerNodesWith is registerNodes with node i built by newNode.
func registerNodesWith(ctx context.Context, cs kubernetes.Interface, n, c int, newNode func(i int) *corev1.Node) error {
	if n == 0 {
		return nil
	}
	nodes := cs.CoreV1().Nodes()
	_, err := parallel(ctx, min(c, n), n, func(ctx context.Context, i int, _ time.Time) error {
		want := newNode(i)
		got, err := nodes.Create(ctx, want, metav1.CreateOptions{})
		if err != nil {
			return err
		}
		if len(got.Status.Conditions) == 0 {
			got.Status = want.Status
			_, err = nodes.UpdateStatus(ctx, got, metav1.UpdateOptions{})
		}
		return err
	})
	if err != nil {
		return fmt.Errorf("bench: register %d fake nodes: %w", n, err)
	}
	return nil
}

// newDeployment is Deployment i: replicas pods of one busybox container,
// selected by a label unique to the Deployment.
func newDeployment(i, replicas int) *appsv1.Deployment {
	name := deploymentName(i)
	labels := map[string]string{"app": name}
	r := int32(replicas)
	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{"bench": "controllers"}},
		Spec: appsv1.DeploymentSpec{
			Replicas: &r,
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "busybox"}}},
			},
		},
	}
}

// createDeployments creates n Deployments with c goroutines, counting each
// success in p, and returns the wall time of the phase.
func createDeployments(ctx context.Context, cs kubernetes.Interface, p *progress, n, replicas, c int) (time.Duration, error) {
	api := cs.AppsV1().Deployments(controllersNamespace)
	ph, err := parallel(ctx, c, n, func(ctx context.Context, i int, _ time.Time) error {
		if _, err := api.Create(ctx, newDeployment(i, replicas), metav1.CreateOptions{}); err != nil {
			return err
		}
		p.requested.Add(1)
		return nil
	})
	if err != nil {
		return ph.wall, fmt.Errorf("bench: create %d Deployments: %w", n, err)
	}
	return ph.wall, nil
}

// countObjects counts the pods and ReplicaSets of the namespace with paged
// LISTs.
func countObjects(ctx context.Context, cs kubernetes.Interface) (pods, replicaSets int, err error) {
	opts := metav1.ListOptions{Limit: countPage}
	for {
		l, err := cs.CoreV1().Pods(controllersNamespace).List(ctx, opts)
		if err != nil {
			return 0, 0, fmt.Errorf("bench: list pods: %w", err)
		}
		pods += len(l.Items)
		if opts.Continue = l.Continue; opts.Continue == "" {
			break
		}
	}
	opts.Continue = ""
	for {
		l, err := cs.AppsV1().ReplicaSets(controllersNamespace).List(ctx, opts)
		if err != nil {
			return 0, 0, fmt.Errorf("bench: list ReplicaSets: %w", err)
		}
		replicaSets += len(l.Items)
		if opts.Continue = l.Continue; opts.Continue == "" {
			break
		}
	}
	return pods, replicaSets, nil
}
