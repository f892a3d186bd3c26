package agent_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/berth-dev/berth/internal/agent"
	"github.com/berth-dev/berth/internal/agent/runtime"
	"github.com/berth-dev/berth/internal/agent/runtime/mock"
	"github.com/berth-dev/berth/internal/testutil/testenv"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// imageDriver is the mock driver with images: present ones, and pulls
// that succeed for images in pullable (with the credentials it names).
type imageDriver struct {
	*mock.Driver
	mu       sync.Mutex
	present  map[string]bool
	pullable map[string]string // image -> required "user:password" ("" anonymous)
	pulls    []string
}

func (d *imageDriver) ImagePresent(_ context.Context, ref string) (bool, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.present[ref], nil
}

func (d *imageDriver) PullImage(_ context.Context, ref string, auth *runtime.RegistryAuth, _ func(string)) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.pulls = append(d.pulls, ref)
	need, ok := d.pullable[ref]
	if !ok {
		return fmt.Errorf("manifest for %s not found", ref)
	}
	if need != "" && (auth == nil || auth.Username+":"+auth.Password != need) {
		return errors.New("unauthorized: authentication required")
	}
	d.present[ref] = true
	return nil
}

func (d *imageDriver) pulled(ref string) int {
	d.mu.Lock()
	defer d.mu.Unlock()
	n := 0
	for _, p := range d.pulls {
		if p == ref {
			n++
		}
	}
	return n
}

func waitingReason(p *corev1.Pod) string {
	if len(p.Status.ContainerStatuses) == 0 || p.Status.ContainerStatuses[0].State.Waiting == nil {
		return ""
	}
	return p.Status.ContainerStatuses[0].State.Waiting.Reason
}

func TestImagePullPolicies(t *testing.T) {
	cs := env(t)
	drv := &imageDriver{Driver: mock.New(), present: map[string]bool{"local:1": true, "my-web-app": true},
		pullable: map[string]string{"registry.test/app:1": "", "registry.test/private:1": "alice:pw"}}
	startAgent(t, cs, nil, func(c *agent.Config) { c.Driver = drv })
	ctx := context.Background()
	img := func(image string, policy corev1.PullPolicy) func(*corev1.Pod) {
		return func(p *corev1.Pod) {
			p.Spec.Containers[0].Image, p.Spec.Containers[0].ImagePullPolicy = image, policy
		}
	}
	secret := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "regcred", Namespace: "default"}, Type: corev1.SecretTypeDockerConfigJson,
		Data: map[string][]byte{corev1.DockerConfigJsonKey: []byte(`{"auths":{"registry.test":{"username":"alice","password":"pw"}}}`)}}
	if _, err := cs.CoreV1().Secrets("default").Create(ctx, secret, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	create(t, cs, pod("present", corev1.RestartPolicyAlways, img("local:1", corev1.PullIfNotPresent)))
	create(t, cs, pod("pulled", corev1.RestartPolicyAlways, img("registry.test/app:1", corev1.PullIfNotPresent)))
	create(t, cs, pod("private", corev1.RestartPolicyAlways, img("registry.test/private:1", corev1.PullIfNotPresent), func(p *corev1.Pod) {
		p.Spec.ImagePullSecrets = []corev1.LocalObjectReference{{Name: "regcred"}}
	}))
	create(t, cs, pod("local-always", corev1.RestartPolicyAlways, img("my-web-app", corev1.PullAlways)))
	create(t, cs, pod("never", corev1.RestartPolicyAlways, img("absent:1", corev1.PullNever)))
	create(t, cs, pod("wrong", corev1.RestartPolicyAlways, img("registry.test/typo:1", corev1.PullIfNotPresent)))
	for _, name := range []string{"present", "pulled", "private", "local-always"} {
		waitPod(t, cs, name, "running", running)
	}
	if drv.pulled("local:1") != 0 || drv.pulled("registry.test/app:1") != 1 || drv.pulled("my-web-app") != 1 {
		t.Errorf("pulls %v: want none of the present IfNotPresent image, one of each other", drv.pulls)
	}
	waitPod(t, cs, "never", "ErrImageNeverPull", func(p *corev1.Pod) error {
		if r := waitingReason(p); r != "ErrImageNeverPull" {
			return fmt.Errorf("waiting reason %q", r)
		}
		return nil
	})
	// A wrong image: ErrImagePull, then ImagePullBackOff while backing off.
	seen := map[string]bool{}
	testenv.Eventually(t, 20*time.Second, "wrong image: ErrImagePull then ImagePullBackOff", func() error {
		p, err := cs.CoreV1().Pods("default").Get(ctx, "wrong", metav1.GetOptions{})
		if err != nil {
			return err
		}
		seen[waitingReason(p)] = true
		if !seen["ErrImagePull"] && !seen["ImagePullBackOff"] {
			return fmt.Errorf("reasons seen %v", seen)
		}
		if !seen["ImagePullBackOff"] {
			return fmt.Errorf("reasons seen %v", seen)
		}
		return nil
	})
	// Events are written asynchronously.
	testenv.Eventually(t, 15*time.Second, "the kubelet's image events", func() error {
		events, err := cs.CoreV1().Events("default").List(ctx, metav1.ListOptions{})
		if err != nil {
			return err
		}
		var reasons []string
		for _, e := range events.Items {
			reasons = append(reasons, e.InvolvedObject.Name+":"+e.Reason)
		}
		all := strings.Join(reasons, " ")
		for _, want := range []string{"pulled:Pulling", "pulled:Pulled", "local-always:PullFailedUsingLocal", "wrong:Failed", "never:ErrImageNeverPull", "present:Pulled"} {
			if !strings.Contains(all, want) {
				return fmt.Errorf("event %s missing; events: %s", want, all)
			}
		}
		return nil
	})
}
