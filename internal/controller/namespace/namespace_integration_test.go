package namespace_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/berth-dev/berth/internal/controller"
	"github.com/berth-dev/berth/internal/controller/namespace"
	"github.com/berth-dev/berth/internal/testutil/testenv"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
)

const hold = "test.berth.io/hold"

func startServer(t *testing.T) kubernetes.Interface {
	t.Helper()
	return testenv.Start(t, testenv.Options{Logger: testenv.Logger(),
		Controllers: []controller.Factory{namespace.New}}).Client
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func meta(name string) metav1.ObjectMeta { return metav1.ObjectMeta{Name: name, Namespace: "doomed"} }

func podSpec() corev1.PodSpec {
	return corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "busybox"}}}
}

// populate fills the namespace: config maps (one held by a finalizer so
// the namespace stays Terminating until the test releases it), a secret,
// a deployment, unbound pods and a ClusterIP service.
func populate(t *testing.T, cs kubernetes.Interface) (clusterIP string) {
	t.Helper()
	ctx := context.Background()
	_, err := cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "doomed"}}, metav1.CreateOptions{})
	must(t, err)
	for i := 0; i < 3; i++ {
		_, err := cs.CoreV1().ConfigMaps("doomed").Create(ctx, &corev1.ConfigMap{ObjectMeta: meta(fmt.Sprintf("cm-%d", i)), Data: map[string]string{"k": "v"}}, metav1.CreateOptions{})
		must(t, err)
	}
	held := &corev1.ConfigMap{ObjectMeta: meta("held")}
	held.Finalizers = []string{hold}
	_, err = cs.CoreV1().ConfigMaps("doomed").Create(ctx, held, metav1.CreateOptions{})
	must(t, err)
	_, err = cs.CoreV1().Secrets("doomed").Create(ctx, &corev1.Secret{ObjectMeta: meta("s"), StringData: map[string]string{"p": "w"}}, metav1.CreateOptions{})
	must(t, err)
	labels := map[string]string{"app": "web"}
	replicas := int32(2)
	_, err = cs.AppsV1().Deployments("doomed").Create(ctx, &appsv1.Deployment{ObjectMeta: meta("web"), Spec: appsv1.DeploymentSpec{
		Replicas: &replicas, Selector: &metav1.LabelSelector{MatchLabels: labels},
		Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels}, Spec: podSpec()}}}, metav1.CreateOptions{})
	must(t, err)
	for i := 0; i < 2; i++ {
		_, err := cs.CoreV1().Pods("doomed").Create(ctx, &corev1.Pod{ObjectMeta: meta(fmt.Sprintf("pod-%d", i)), Spec: podSpec()}, metav1.CreateOptions{})
		must(t, err)
	}
	svc, err := cs.CoreV1().Services("doomed").Create(ctx, &corev1.Service{ObjectMeta: meta("web"), Spec: corev1.ServiceSpec{
		Selector: labels, Ports: []corev1.ServicePort{{Port: 80}}}}, metav1.CreateOptions{})
	must(t, err)
	if svc.Spec.ClusterIP == "" {
		t.Fatal("service got no ClusterIP")
	}
	return svc.Spec.ClusterIP
}

// counts lists what is left in the namespace, by resource.
func counts(t *testing.T, cs kubernetes.Interface) map[string]int {
	t.Helper()
	ctx, opts := context.Background(), metav1.ListOptions{}
	out := map[string]int{}
	cms, err := cs.CoreV1().ConfigMaps("doomed").List(ctx, opts)
	must(t, err)
	out["configmaps"] = len(cms.Items)
	secrets, err := cs.CoreV1().Secrets("doomed").List(ctx, opts)
	must(t, err)
	out["secrets"] = len(secrets.Items)
	deps, err := cs.AppsV1().Deployments("doomed").List(ctx, opts)
	must(t, err)
	out["deployments"] = len(deps.Items)
	pods, err := cs.CoreV1().Pods("doomed").List(ctx, opts)
	must(t, err)
	out["pods"] = len(pods.Items)
	svcs, err := cs.CoreV1().Services("doomed").List(ctx, opts)
	must(t, err)
	out["services"] = len(svcs.Items)
	return out
}

func TestNamespaceDeletion(t *testing.T) {
	cs := startServer(t)
	ctx := context.Background()
	clusterIP := populate(t, cs)

	// The DELETE answers with the namespace, now Terminating.
	var gone corev1.Namespace
	must(t, cs.CoreV1().RESTClient().Delete().AbsPath("/api/v1/namespaces/doomed").Do(ctx).Into(&gone))
	if gone.Status.Phase != corev1.NamespaceTerminating || gone.DeletionTimestamp == nil {
		t.Fatalf("deleted namespace: phase %q, deletionTimestamp %v", gone.Status.Phase, gone.DeletionTimestamp)
	}

	// Everything but the held config map goes; the namespace stays
	// Terminating meanwhile and refuses new content.
	testenv.Eventually(t, 15*time.Second, "namespace emptied", func() error {
		if c := counts(t, cs); c["configmaps"] != 1 || c["secrets"]+c["deployments"]+c["pods"]+c["services"] != 0 {
			return fmt.Errorf("left: %v", c)
		}
		return nil
	})
	testenv.Eventually(t, 15*time.Second, "conditions tell what holds the namespace", func() error {
		ns, err := cs.CoreV1().Namespaces().Get(ctx, "doomed", metav1.GetOptions{})
		if err != nil {
			return err
		}
		if ns.Status.Phase != corev1.NamespaceTerminating {
			return fmt.Errorf("phase = %q while content remains", ns.Status.Phase)
		}
		want := map[corev1.NamespaceConditionType]string{
			corev1.NamespaceDeletionDiscoveryFailure: "False/ResourcesDiscovered",
			corev1.NamespaceDeletionContentFailure:   "False/ContentDeleted",
			corev1.NamespaceContentRemaining:         "True/SomeResourcesRemain",
			corev1.NamespaceFinalizersRemaining:      "True/SomeFinalizersRemain",
		}
		for _, c := range ns.Status.Conditions {
			if w, ok := want[c.Type]; ok && w == string(c.Status)+"/"+c.Reason {
				delete(want, c.Type)
			}
		}
		if len(want) > 0 {
			return fmt.Errorf("missing %v in %+v", want, ns.Status.Conditions)
		}
		return nil
	})
	_, err := cs.CoreV1().ConfigMaps("doomed").Create(ctx, &corev1.ConfigMap{ObjectMeta: meta("late")}, metav1.CreateOptions{})
	if !apierrors.IsForbidden(err) {
		t.Fatalf("create in a terminating namespace: err = %v, want Forbidden", err)
	}
	held, err := cs.CoreV1().ConfigMaps("doomed").Get(ctx, "held", metav1.GetOptions{})
	must(t, err)
	if held.DeletionTimestamp == nil {
		t.Fatal("held config map not marked for deletion")
	}

	// Releasing the last finalizer lets the namespace go.
	_, err = cs.CoreV1().ConfigMaps("doomed").Patch(ctx, "held", types.MergePatchType, []byte(`{"metadata":{"finalizers":null}}`), metav1.PatchOptions{})
	must(t, err)
	testenv.Eventually(t, 15*time.Second, "namespace removed", func() error {
		_, err := cs.CoreV1().Namespaces().Get(ctx, "doomed", metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return nil
		}
		return fmt.Errorf("still there (err %v)", err)
	})
	for r, n := range counts(t, cs) {
		if n != 0 {
			t.Errorf("%d %s left in the deleted namespace", n, r)
		}
	}

	// The ClusterIP was released: another service may take it.
	_, err = cs.CoreV1().Services("default").Create(ctx, &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "reuse"},
		Spec: corev1.ServiceSpec{ClusterIP: clusterIP, Ports: []corev1.ServicePort{{Port: 80}}}}, metav1.CreateOptions{})
	if err != nil {
		t.Errorf("reuse ClusterIP %s: %v", clusterIP, err)
	}
	// A namespace of the same name starts empty and Active.
	n2, err := cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "doomed"}}, metav1.CreateOptions{})
	must(t, err)
	if n2.Status.Phase != corev1.NamespaceActive {
		t.Errorf("recreated namespace phase %q", n2.Status.Phase)
	}
	_, err = cs.CoreV1().ConfigMaps("doomed").Create(ctx, &corev1.ConfigMap{ObjectMeta: meta("fresh")}, metav1.CreateOptions{})
	must(t, err)
	// The cluster's own namespaces are untouched.
	for _, name := range []string{"default", "kube-system", "kube-public", "kube-node-lease"} {
		ns, err := cs.CoreV1().Namespaces().Get(ctx, name, metav1.GetOptions{})
		if err != nil || ns.DeletionTimestamp != nil {
			t.Errorf("namespace %s: %v, %+v", name, err, ns)
		}
	}
}
