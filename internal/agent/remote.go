package agent

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/berth-dev/berth/internal/agent/endpoint"
	"github.com/berth-dev/berth/internal/agent/runtime"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// podView is what the endpoint may read of a pod while its sync worker
// changes the pod's state: a copy published after every sync.
type podView struct {
	containers map[string]containerView
	sandboxID  string
}

// containerView is one container's published state.
type containerView struct {
	id, lastID, waitReason string
	running                bool
	started                time.Time
}

// publish copies ps for the endpoint (called by the pod's sync worker).
func (a *Agent) publish(key string, ps *podState) {
	v := podView{containers: make(map[string]containerView, len(ps.containers))}
	if ps.sandbox != nil {
		v.sandboxID = ps.sandbox.ID
	}
	for name, cs := range ps.containers {
		cv := containerView{id: cs.id, waitReason: cs.waitReason, running: cs.id != "" && cs.status.State == runtime.StateRunning,
			started: cs.status.StartedAt}
		if cs.last != nil {
			cv.lastID = cs.last.ID
		}
		v.containers[name] = cv
	}
	a.mu.Lock()
	if a.state[key] == ps {
		a.views[key] = v
	}
	a.mu.Unlock()
}

var _ endpoint.Backend = (*Agent)(nil)

var podsGR = schema.GroupResource{Resource: "pods"}

// container finds the ID of a container of a pod on this node (previous:
// the instance before the current one), or a status error saying why
// there is none, in the words kubectl users know from the kubelet.
func (a *Agent) container(namespace, pod, container string, previous bool) (string, error) {
	key := namespace + "/" + pod
	a.mu.Lock()
	v, ok := a.views[key]
	a.mu.Unlock()
	if !ok {
		return "", apierrors.NewNotFound(podsGR, fmt.Sprintf("%s (not running on node %s)", key, a.cfg.NodeName))
	}
	cv, ok := v.containers[container]
	if !ok {
		p, err := a.pods.Pods(namespace).Get(pod)
		if err == nil && !hasContainer(p, container) {
			return "", apierrors.NewBadRequest(fmt.Sprintf("container %s is not valid for pod %s", container, pod))
		}
	}
	if previous {
		if cv.lastID == "" {
			return "", apierrors.NewBadRequest(fmt.Sprintf("previous terminated container %q in pod %q not found", container, pod))
		}
		return cv.lastID, nil
	}
	if cv.id == "" {
		reason := cv.waitReason
		if reason == "" {
			reason = "ContainerCreating"
		}
		return "", apierrors.NewBadRequest(fmt.Sprintf("container %q in pod %q is waiting to start: %s", container, pod, reason))
	}
	return cv.id, nil
}

func hasContainer(p *corev1.Pod, name string) bool {
	for _, list := range [][]corev1.Container{p.Spec.InitContainers, p.Spec.Containers} {
		for _, c := range list {
			if c.Name == name {
				return true
			}
		}
	}
	return false
}

// ContainerLogs writes a container's log (the endpoint's backend).
func (a *Agent) ContainerLogs(ctx context.Context, namespace, pod, container string, previous bool, opts runtime.LogOptions, w io.Writer) error {
	id, err := a.container(namespace, pod, container, previous)
	if err != nil {
		return err
	}
	if err := a.cfg.Driver.Logs(ctx, id, opts, w); err != nil {
		if errors.Is(err, runtime.ErrNotFound) {
			return apierrors.NewNotFound(podsGR, fmt.Sprintf("%s/%s: the log of container %s is gone", namespace, pod, container))
		}
		return err
	}
	return nil
}

// Exec runs cmd in a running container (the endpoint's backend).
func (a *Agent) Exec(ctx context.Context, namespace, pod, container string, cmd []string, stdin io.Reader, stdout, stderr io.Writer) (int, error) {
	id, err := a.container(namespace, pod, container, false)
	if err != nil {
		return 0, err
	}
	ex, ok := a.cfg.Driver.(runtime.Execer)
	if !ok {
		return 0, apierrors.NewBadRequest(fmt.Sprintf("the %s driver cannot run commands in containers", a.cfg.Driver.Name()))
	}
	a.mu.Lock()
	running := a.views[namespace+"/"+pod].containers[container].running
	a.mu.Unlock()
	if !running {
		return 0, apierrors.NewBadRequest(fmt.Sprintf("container %q in pod %q is not running", container, pod))
	}
	if stdin == nil {
		stdin = eofReader{}
	}
	if stdout == nil {
		stdout = io.Discard
	}
	if stderr == nil {
		stderr = io.Discard
	}
	return ex.Exec(ctx, id, cmd, stdin, stdout, stderr)
}

// eofReader is an empty stdin.
type eofReader struct{}

func (eofReader) Read([]byte) (int, error) { return 0, io.EOF }
