package deployment_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/berth-dev/berth/internal/controller"
	"github.com/berth-dev/berth/internal/controller/deployment"
	"github.com/berth-dev/berth/internal/controller/replicaset"
	"github.com/berth-dev/berth/internal/testutil/fakekubelet"
	"github.com/berth-dev/berth/internal/testutil/testenv"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/strategicpatch"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/util/retry"
	"k8s.io/kubectl/pkg/polymorphichelpers"
)

// env is an API server running the ReplicaSet and Deployment controllers
// next to a fake kubelet (binding pods, ready after 100 ms); each test
// works in its own namespace.
type env struct {
	t  *testing.T
	cs *kubernetes.Clientset
	ns string
}

func startServer(t *testing.T) *kubernetes.Clientset {
	t.Helper()
	return testenv.Start(t, testenv.Options{Controllers: []controller.Factory{replicaset.New, deployment.New},
		Kubelet: &fakekubelet.Config{Bind: true, StartDelay: 100 * time.Millisecond}}).Client
}

// in returns an env for a fresh namespace named after the subtest.
func in(t *testing.T, cs *kubernetes.Clientset) *env {
	t.Helper()
	name := strings.ToLower(strings.NewReplacer("/", "-", "_", "-").Replace(t.Name()))
	if len(name) > 63 {
		name = name[len(name)-63:]
	}
	name = strings.Trim(name, "-")
	_, err := cs.CoreV1().Namespaces().Create(context.Background(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("create namespace: %v", err)
	}
	return &env{t: t, cs: cs, ns: name}
}

// newDeployment is a Deployment of image with maxSurge 1, maxUnavailable 0.
func newDeployment(name, image string, replicas int32) *appsv1.Deployment {
	l := map[string]string{"app": name}
	surge, unavail := intstr.FromInt32(1), intstr.FromInt32(0)
	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: appsv1.DeploymentSpec{
			Replicas: &replicas,
			Selector: &metav1.LabelSelector{MatchLabels: l},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: l},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: image}}},
			},
			Strategy: appsv1.DeploymentStrategy{Type: appsv1.RollingUpdateDeploymentStrategyType,
				RollingUpdate: &appsv1.RollingUpdateDeployment{MaxSurge: &surge, MaxUnavailable: &unavail}},
		},
	}
}

func (e *env) create(d *appsv1.Deployment) *appsv1.Deployment {
	e.t.Helper()
	got, err := e.cs.AppsV1().Deployments(e.ns).Create(context.Background(), d, metav1.CreateOptions{})
	if err != nil {
		e.t.Fatalf("create deployment: %v", err)
	}
	return got
}

func (e *env) get(name string) *appsv1.Deployment {
	e.t.Helper()
	d, err := e.cs.AppsV1().Deployments(e.ns).Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		e.t.Fatalf("get deployment: %v", err)
	}
	return d
}

// update changes a Deployment, retrying on conflicts.
func (e *env) update(name string, mutate func(*appsv1.Deployment)) {
	e.t.Helper()
	err := retry.RetryOnConflict(retry.DefaultBackoff, func() error {
		d := e.get(name)
		mutate(d)
		_, err := e.cs.AppsV1().Deployments(e.ns).Update(context.Background(), d, metav1.UpdateOptions{})
		return err
	})
	if err != nil {
		e.t.Fatalf("update deployment %s: %v", name, err)
	}
}

// setImage is `kubectl set image` with a change cause.
func (e *env) setImage(name, image string) {
	e.update(name, func(d *appsv1.Deployment) {
		d.Spec.Template.Spec.Containers[0].Image = image
		metav1.SetMetaDataAnnotation(&d.ObjectMeta, deployment.ChangeCauseAnnotation, "set image "+image)
	})
}

// kubectl applies one of kubectl's rollout object mutations (pause,
// resume, restart) the way kubectl does: a strategic merge patch from the
// object to its mutated encoding.
func (e *env) kubectl(name string, fn func(runtime.Object) ([]byte, error)) {
	e.t.Helper()
	d := e.get(name)
	orig, err := json.Marshal(d)
	if err != nil {
		e.t.Fatal(err)
	}
	modified, err := fn(d.DeepCopy())
	if err != nil {
		e.t.Fatalf("kubectl mutation: %v", err)
	}
	patch, err := strategicpatch.CreateTwoWayMergePatch(orig, modified, appsv1.Deployment{})
	if err != nil {
		e.t.Fatal(err)
	}
	if _, err := e.cs.AppsV1().Deployments(e.ns).Patch(context.Background(), name, types.StrategicMergePatchType, patch, metav1.PatchOptions{}); err != nil {
		e.t.Fatalf("patch %s: %v", patch, err)
	}
}

// eventually polls cond every 20 ms until it holds or timeout passes.
func (e *env) eventually(what string, timeout time.Duration, cond func() (bool, error)) {
	e.t.Helper()
	err := wait.PollUntilContextTimeout(context.Background(), 20*time.Millisecond, timeout, true, func(context.Context) (bool, error) {
		return cond()
	})
	if err != nil {
		e.t.Fatalf("waiting for %s: %v", what, err)
	}
}

// rolloutStatus is what `kubectl rollout status` says about name.
func (e *env) rolloutStatus(name string) (string, bool, error) {
	e.t.Helper()
	m, err := runtime.DefaultUnstructuredConverter.ToUnstructured(e.get(name))
	if err != nil {
		e.t.Fatal(err)
	}
	return (&polymorphichelpers.DeploymentStatusViewer{}).Status(&unstructured.Unstructured{Object: m}, 0)
}

// rolledOut waits until `kubectl rollout status` reports success.
func (e *env) rolledOut(name string) *appsv1.Deployment {
	e.t.Helper()
	var last string
	e.eventually("rollout of "+name, 20*time.Second, func() (bool, error) {
		msg, done, err := e.rolloutStatus(name)
		last = msg
		if err != nil {
			return false, err
		}
		return done, nil
	})
	if strings.TrimSpace(last) != fmt.Sprintf("deployment %q successfully rolled out", name) {
		e.t.Errorf("rollout status: %q", last)
	}
	return e.get(name)
}

// replicaSets returns the ReplicaSets name controls, by name.
func (e *env) replicaSets(name string) map[string]*appsv1.ReplicaSet {
	e.t.Helper()
	d := e.get(name)
	list, err := e.cs.AppsV1().ReplicaSets(e.ns).List(context.Background(), metav1.ListOptions{})
	if err != nil {
		e.t.Fatalf("list replicasets: %v", err)
	}
	out := map[string]*appsv1.ReplicaSet{}
	for i := range list.Items {
		if metav1.IsControlledBy(&list.Items[i], d) {
			out[list.Items[i].Name] = &list.Items[i]
		}
	}
	return out
}

// rsFor returns name's ReplicaSet running image.
func (e *env) rsFor(name, image string) *appsv1.ReplicaSet {
	e.t.Helper()
	for _, rs := range e.replicaSets(name) {
		if rs.Spec.Template.Spec.Containers[0].Image == image {
			return rs
		}
	}
	e.t.Fatalf("no replicaset of %s runs %s", name, image)
	return nil
}

// pods counts the live (not terminating, not finished) pods of app, how
// many of them are ready, and all its pods by image.
func (e *env) pods(app string) (live, ready int, images map[string]int, err error) {
	list, err := e.cs.CoreV1().Pods(e.ns).List(context.Background(), metav1.ListOptions{LabelSelector: "app=" + app})
	if err != nil {
		return 0, 0, nil, err
	}
	images = map[string]int{}
	for _, p := range list.Items {
		images[p.Spec.Containers[0].Image]++ // terminating ones too
		if p.DeletionTimestamp != nil || p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed {
			continue
		}
		live++
		for _, c := range p.Status.Conditions {
			if c.Type == corev1.PodReady && c.Status == corev1.ConditionTrue {
				ready++
			}
		}
	}
	return live, ready, images, nil
}

// sampler records pod counts of app every 20 ms until stopped.
type sampler struct {
	stop    chan struct{}
	done    sync.WaitGroup
	minLive int
	maxLive int
	minRdy  int
	samples int
	mixed   int // samples with pods of more than one image
	errs    []error
}

func (e *env) sample(app string) *sampler {
	s := &sampler{stop: make(chan struct{}), minLive: 1 << 30, minRdy: 1 << 30}
	s.done.Add(1)
	go func() {
		defer s.done.Done()
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for {
			live, ready, images, err := e.pods(app)
			if err != nil {
				s.errs = append(s.errs, err)
			} else {
				s.samples++
				s.minLive, s.maxLive, s.minRdy = min(s.minLive, live), max(s.maxLive, live), min(s.minRdy, ready)
				if len(images) > 1 {
					s.mixed++
				}
			}
			select {
			case <-s.stop:
				return
			case <-tick.C:
			}
		}
	}()
	return s
}

func (s *sampler) finish() *sampler {
	close(s.stop)
	s.done.Wait()
	return s
}

// condition returns d's condition of type t, or nil.
func condition(d *appsv1.Deployment, t appsv1.DeploymentConditionType) *appsv1.DeploymentCondition {
	for i := range d.Status.Conditions {
		if d.Status.Conditions[i].Type == t {
			return &d.Status.Conditions[i]
		}
	}
	return nil
}
