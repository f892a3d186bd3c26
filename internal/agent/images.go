package agent

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/berth-dev/berth/internal/agent/runtime"
	corev1 "k8s.io/api/core/v1"
)

// Image pull back-off, as the kubelet's: 10 s doubling to 5 min.
const (
	pullBackoffInitial = 10 * time.Second
	pullBackoffMax     = 5 * time.Minute
)

// pullBackoff remembers failed pulls per pod and image.
type pullBackoff struct {
	mu sync.Mutex
	m  map[string]pullState // by pod UID + "/" + image
}

type pullState struct {
	delay time.Duration
	next  time.Time
}

func (b *pullBackoff) get(key string) pullState {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.m[key]
}

// fail records a failed pull at now and returns the delay before the next.
func (b *pullBackoff) fail(key string, now time.Time) time.Duration {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.m == nil {
		b.m = map[string]pullState{}
	}
	s := b.m[key]
	if s.delay == 0 {
		s.delay = pullBackoffInitial
	} else {
		s.delay = min(2*s.delay, pullBackoffMax)
	}
	s.next = now.Add(s.delay)
	b.m[key] = s
	return s.delay
}

func (b *pullBackoff) reset(key string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	delete(b.m, key)
}

// forgetPod drops the pod's entries.
func (b *pullBackoff) forgetPod(uid string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for k := range b.m {
		if strings.HasPrefix(k, uid+"/") {
			delete(b.m, k)
		}
	}
}

// pullPolicy is c's image pull policy, defaulted as Kubernetes does
// (Always for :latest or no tag, else IfNotPresent).
func pullPolicy(c *corev1.Container) corev1.PullPolicy {
	if c.ImagePullPolicy != "" {
		return c.ImagePullPolicy
	}
	ref := c.Image
	if i := strings.Index(ref, "@"); i >= 0 {
		return corev1.PullIfNotPresent
	}
	last := ref[strings.LastIndex(ref, "/")+1:]
	if _, tag, ok := strings.Cut(last, ":"); !ok || tag == "latest" {
		return corev1.PullAlways
	}
	return corev1.PullIfNotPresent
}

// imageWait explains why a container cannot start yet for want of its
// image.
type imageWait struct {
	reason, message string
	retry           time.Duration
}

// ensureImage makes c's image present as its pull policy says, with events
// like the kubelet's (Pulling, Pulled, Failed, BackOff, ErrImageNeverPull).
// nil means the container may start. Drivers without images (the process
// driver) always may.
func (a *Agent) ensureImage(ctx context.Context, pod *corev1.Pod, c *corev1.Container) *imageWait {
	im, ok := a.cfg.Driver.(runtime.ImageManager)
	if !ok || c.Image == "" {
		return nil
	}
	policy := pullPolicy(c)
	present, err := im.ImagePresent(ctx, c.Image)
	if err != nil {
		return &imageWait{reason: "ErrImageInspect", message: fmt.Sprintf("Failed to inspect image %q: %v", c.Image, err), retry: pullBackoffInitial}
	}
	switch {
	case policy == corev1.PullNever && !present:
		msg := fmt.Sprintf("Container image %q is not present with pull policy of Never", c.Image)
		a.recorder.Event(pod, corev1.EventTypeWarning, "ErrImageNeverPull", msg)
		return &imageWait{reason: "ErrImageNeverPull", message: msg, retry: pullBackoffInitial}
	case policy == corev1.PullNever || (policy == corev1.PullIfNotPresent && present):
		a.recorder.Eventf(pod, corev1.EventTypeNormal, "Pulled", "Container image %q already present on machine", c.Image)
		return nil
	}
	key := string(pod.UID) + "/" + c.Image
	now := a.now()
	if st := a.pulls.get(key); now.Before(st.next) {
		msg := fmt.Sprintf("Back-off pulling image %q", c.Image)
		a.recorder.Event(pod, corev1.EventTypeNormal, "BackOff", msg)
		return &imageWait{reason: "ImagePullBackOff", message: msg, retry: st.next.Sub(now)}
	}
	auth, err := a.pullAuth(ctx, pod, c.Image)
	if err != nil {
		a.recorder.Eventf(pod, corev1.EventTypeWarning, "FailedToRetrieveImagePullSecret", "Unable to retrieve some image pull secrets; attempting to pull the image may not succeed: %v", err)
	}
	a.recorder.Eventf(pod, corev1.EventTypeNormal, "Pulling", "Pulling image %q", c.Image)
	start := time.Now()
	err = im.PullImage(ctx, c.Image, auth, func(string) {})
	if err == nil {
		a.pulls.reset(key)
		a.recorder.Eventf(pod, corev1.EventTypeNormal, "Pulled", "Successfully pulled image %q in %s", c.Image, time.Since(start).Round(time.Millisecond))
		return nil
	}
	if ctx.Err() != nil {
		return &imageWait{reason: "ErrImagePull", message: ctx.Err().Error(), retry: pullBackoffInitial}
	}
	if present {
		// Berth's deliberate difference: on a machine without a registry
		// an Always pull fails, and the local image is what the user built.
		a.recorder.Eventf(pod, corev1.EventTypeWarning, "PullFailedUsingLocal",
			"Failed to pull image %q: %v; running the image present on the node", c.Image, err)
		return nil
	}
	delay := a.pulls.fail(key, now)
	msg := fmt.Sprintf("Failed to pull image %q: %v", c.Image, err)
	a.recorder.Event(pod, corev1.EventTypeWarning, "Failed", msg)
	a.recorder.Event(pod, corev1.EventTypeWarning, "Failed", "Error: ErrImagePull")
	return &imageWait{reason: "ErrImagePull", message: msg, retry: delay}
}

// pullAuth finds credentials for image in the pod's imagePullSecrets; a
// secret that cannot be read or parsed is reported, the others still used.
func (a *Agent) pullAuth(ctx context.Context, pod *corev1.Pod, image string) (*runtime.RegistryAuth, error) {
	var creds []registryCred
	var errs []error
	for _, ref := range pod.Spec.ImagePullSecrets {
		s, err := a.src.secret(ctx, pod.Namespace, ref.Name)
		if err != nil {
			errs = append(errs, fmt.Errorf("secret %s/%s: %w", pod.Namespace, ref.Name, err))
			continue
		}
		cs, err := parsePullSecret(s)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		creds = append(creds, cs...)
	}
	c := credentialFor(image, creds)
	if c == nil {
		return nil, errors.Join(errs...)
	}
	return &runtime.RegistryAuth{Username: c.Username, Password: c.Password, IdentityToken: c.IdentityToken, ServerAddress: c.Server}, errors.Join(errs...)
}
