package agent

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strconv"
	"time"

	"github.com/berth-dev/berth/internal/agent/runtime"
	"github.com/berth-dev/berth/internal/controller"
	"github.com/berth-dev/berth/internal/scheduler/framework"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/cache"
)

// Crash-loop back-off, as the kubelet: the first restart is immediate, then
// 10 s doubling to 5 min; a container that ran 10 min resets it.
const (
	backoffInitial = 10 * time.Second
	backoffMax     = 5 * time.Minute
	backoffReset   = 10 * time.Minute
)

// ctrState is what the agent remembers of one container of a pod.
type ctrState struct {
	id       string
	status   runtime.ContainerStatus
	last     *runtime.ContainerStatus // the previous instance's final status
	restarts int
	backoff  time.Duration
	// next is the earliest restart time while backing off.
	next time.Time
	// waiting explains a container that is not running (reason, message).
	waitReason, waitMessage string
	// ready is the readiness (no readiness probe: running means ready).
	ready bool
	// watched is the ID a watcher goroutine waits on.
	watched string
	// probes are the probe workers of the current instance.
	probes *probeSet
}

// podState is what the agent remembers of one pod.
type podState struct {
	uid        types.UID
	sandbox    *runtime.Sandbox
	volumes    map[string]string
	containers map[string]*ctrState
	initDone   bool
	startTime  metav1.Time
	// final is set once the pod reached Succeeded or Failed.
	final bool
	// rejected is the admission failure (reason, message), if any.
	rejectReason, rejectMessage string
}

func (ps *podState) ctr(name string) *ctrState {
	c, ok := ps.containers[name]
	if !ok {
		c = &ctrState{}
		ps.containers[name] = c
	}
	return c
}

// sync brings one pod to its desired state and reports its status.
func (a *Agent) sync(ctx context.Context, key string) error {
	ns, name, err := cache.SplitMetaNamespaceKey(key)
	if err != nil {
		return nil
	}
	pod, err := a.pods.Pods(ns).Get(name)
	a.mu.Lock()
	ps := a.state[key]
	a.mu.Unlock()
	if apierrors.IsNotFound(err) || (err == nil && ps != nil && pod.UID != ps.uid) {
		if ps != nil {
			a.teardown(ctx, ps, 0)
			a.forget(key, ps)
		}
		if err != nil {
			return nil
		}
	} else if err != nil {
		return err
	}
	if pod.Spec.NodeName != a.cfg.NodeName {
		return nil
	}
	if ps == nil || ps.uid != pod.UID {
		ps = &podState{uid: pod.UID, containers: map[string]*ctrState{}, startTime: metav1.Now()}
		if pod.Status.StartTime != nil {
			ps.startTime = *pod.Status.StartTime
		}
		ps.final = pod.Status.Phase == corev1.PodSucceeded || pod.Status.Phase == corev1.PodFailed
		a.mu.Lock()
		a.state[key] = ps
		a.mu.Unlock()
		if !ps.final {
			if reason, msg := a.admit(pod); reason != "" {
				ps.rejectReason, ps.rejectMessage, ps.final = reason, msg, true
				a.recorder.Event(pod, corev1.EventTypeWarning, reason, msg)
			}
		}
	}
	if pod.DeletionTimestamp != nil {
		grace := time.Duration(30) * time.Second
		if pod.DeletionGracePeriodSeconds != nil {
			grace = time.Duration(*pod.DeletionGracePeriodSeconds) * time.Second
		}
		a.teardown(ctx, ps, grace)
		a.forget(key, ps)
		zero := int64(0)
		err := a.cfg.Client.CoreV1().Pods(ns).Delete(ctx, name, metav1.DeleteOptions{GracePeriodSeconds: &zero, Preconditions: &metav1.Preconditions{UID: &pod.UID}})
		if apierrors.IsNotFound(err) || apierrors.IsConflict(err) {
			return nil
		}
		return err
	}
	if ps.final {
		a.stopAll(ctx, ps, 0)
		return a.report(ctx, pod, ps)
	}
	requeue, err := a.run(ctx, pod, ps)
	if err != nil {
		a.log.Debug("pod sync", "pod", key, "err", err)
	}
	if rerr := a.report(ctx, pod, ps); rerr != nil {
		return rerr
	}
	if requeue > 0 {
		return controller.RequeueAfter{Delay: requeue}
	}
	return nil
}

// forget drops a pod's state (after teardown).
func (a *Agent) forget(key string, ps *podState) {
	a.pulls.forgetPod(string(ps.uid))
	a.mu.Lock()
	if a.state[key] == ps {
		delete(a.state, key)
		delete(a.views, key)
	}
	a.mu.Unlock()
}

// admit checks that the pod fits the node's allocatable resources next to
// the other admitted pods; it returns the rejection reason
// (OutOf<resource>) and message.
func (a *Agent) admit(pod *corev1.Pod) (string, string) {
	// The scheduler's accounting (init containers, sidecars, overhead),
	// so that agent and scheduler agree on what fits.
	used, _ := framework.PodRequests(pod)
	a.mu.Lock()
	for key, ps := range a.state {
		if ps.final || ps.uid == pod.UID {
			continue
		}
		ns, name, _ := cache.SplitMetaNamespaceKey(key)
		if other, err := a.pods.Pods(ns).Get(name); err == nil {
			req, _ := framework.PodRequests(other)
			used.Add(req)
		}
	}
	a.mu.Unlock()
	alloc := framework.NewResource(a.allocatable)
	for _, r := range []struct {
		name        corev1.ResourceName
		want, limit int64
		format      resource.Format
		milli       bool
	}{
		{corev1.ResourceCPU, used.MilliCPU, alloc.MilliCPU, resource.DecimalSI, true},
		{corev1.ResourceMemory, used.Memory, alloc.Memory, resource.BinarySI, false},
		{corev1.ResourceEphemeralStorage, used.EphemeralStorage, alloc.EphemeralStorage, resource.BinarySI, false},
	} {
		if _, has := a.allocatable[r.name]; !has || r.want <= r.limit {
			continue
		}
		q := resource.NewQuantity(r.want, r.format)
		if r.milli {
			q = resource.NewMilliQuantity(r.want, r.format)
		}
		allocQ := a.allocatable[r.name]
		return "OutOf" + string(r.name), fmt.Sprintf("Pod was rejected: Node didn't have enough resource: %s, requested: %s, capacity: %s", r.name, q.String(), allocQ.String())
	}
	return "", ""
}

// run starts what should run; it returns how soon to look again.
func (a *Agent) run(ctx context.Context, pod *corev1.Pod, ps *podState) (time.Duration, error) {
	if ps.sandbox == nil {
		sb, err := a.cfg.Driver.RunSandbox(ctx, a.sandboxSpec(pod))
		if err != nil {
			a.recorder.Eventf(pod, corev1.EventTypeWarning, "FailedCreatePodSandBox", "Failed to create pod sandbox: %v", err)
			return 5 * time.Second, err
		}
		ps.sandbox = &sb
	}
	if ps.volumes == nil {
		vols, err := prepareVolumes(ctx, a.src, pod, filepath.Join(a.cfg.DataDir, "pods", string(pod.UID), "volumes"))
		if err != nil {
			a.recorder.Eventf(pod, corev1.EventTypeWarning, "FailedMount", "Unable to prepare volumes: %v", err)
			for _, c := range pod.Spec.Containers {
				cs := ps.ctr(c.Name)
				cs.waitReason, cs.waitMessage = "ContainerCreating", err.Error()
			}
			return 10 * time.Second, err
		}
		ps.volumes = vols
	}
	a.refresh(ctx, ps)
	var requeue time.Duration
	soon := func(d time.Duration) {
		if d > 0 && (requeue == 0 || d < requeue) {
			requeue = d
		}
	}
	if !ps.initDone {
		for i := range pod.Spec.InitContainers {
			c := &pod.Spec.InitContainers[i]
			cs := ps.ctr(c.Name)
			if cs.id != "" && cs.status.State == runtime.StateExited && cs.status.ExitCode == 0 {
				continue
			}
			if cs.id != "" && cs.status.State == runtime.StateRunning {
				return 0, nil // wait for it
			}
			if cs.id != "" && cs.status.State == runtime.StateExited && pod.Spec.RestartPolicy == corev1.RestartPolicyNever {
				ps.final = true
				return 0, nil
			}
			d, err := a.startContainer(ctx, pod, ps, c)
			soon(d)
			return requeue, err
		}
		ps.initDone = true
	}
	var firstErr error
	for i := range pod.Spec.Containers {
		c := &pod.Spec.Containers[i]
		cs := ps.ctr(c.Name)
		if cs.id != "" && cs.status.State == runtime.StateRunning {
			continue
		}
		if cs.id != "" && cs.status.State == runtime.StateExited && !shouldRestart(pod.Spec.RestartPolicy, cs.status.ExitCode) {
			continue
		}
		d, err := a.startContainer(ctx, pod, ps, c)
		soon(d)
		if err != nil && firstErr == nil {
			firstErr = err
		}
	}
	if allDone(pod, ps) {
		ps.final = true
	}
	return requeue, firstErr
}

func shouldRestart(policy corev1.RestartPolicy, exitCode int) bool {
	switch policy {
	case corev1.RestartPolicyNever:
		return false
	case corev1.RestartPolicyOnFailure:
		return exitCode != 0
	}
	return true
}

// allDone reports whether every container exited and none will restart.
func allDone(pod *corev1.Pod, ps *podState) bool {
	for _, c := range pod.Spec.Containers {
		cs := ps.containers[c.Name]
		if cs == nil || cs.id == "" || cs.status.State != runtime.StateExited || shouldRestart(pod.Spec.RestartPolicy, cs.status.ExitCode) {
			return false
		}
	}
	return true
}

// startContainer (re)starts a container unless it is backing off; it
// returns how long until it may be tried again.
func (a *Agent) startContainer(ctx context.Context, pod *corev1.Pod, ps *podState, c *corev1.Container) (time.Duration, error) {
	cs := ps.ctr(c.Name)
	now := a.now()
	if cs.id != "" && cs.status.State == runtime.StateExited {
		// A restart: back off unless the container ran long enough.
		if !cs.status.StartedAt.IsZero() && cs.status.FinishedAt.Sub(cs.status.StartedAt) >= backoffReset {
			cs.backoff, cs.next = 0, time.Time{}
		}
		if now.Before(cs.next) {
			cs.waitReason = "CrashLoopBackOff"
			cs.waitMessage = fmt.Sprintf("back-off %s restarting failed container=%s pod=%s_%s(%s)", cs.backoff, c.Name, pod.Name, pod.Namespace, pod.UID)
			return cs.next.Sub(now), nil
		}
		if cs.backoff == 0 {
			cs.backoff = backoffInitial
		} else {
			cs.backoff = min(2*cs.backoff, backoffMax)
		}
		cs.next = now.Add(cs.backoff)
		// The exited instance is kept (for `kubectl logs --previous`);
		// the one before it goes.
		if cs.last != nil && cs.last.ID != "" {
			if err := a.cfg.Driver.Remove(ctx, cs.last.ID); err != nil && !errors.Is(err, runtime.ErrNotFound) {
				a.log.Debug("remove old container", "container", cs.last.ID, "err", err)
			}
		}
		final := cs.status
		cs.last = &final
		cs.restarts++
	}
	if w := a.ensureImage(ctx, pod, c); w != nil {
		cs.waitReason, cs.waitMessage = w.reason, w.message
		return w.retry, errors.New(w.message)
	}
	spec, err := a.containerSpec(ctx, pod, ps, c, cs.restarts)
	if err != nil {
		cs.waitReason, cs.waitMessage = "CreateContainerConfigError", err.Error()
		a.recorder.Eventf(pod, corev1.EventTypeWarning, "Failed", "Error: %v", err)
		return 10 * time.Second, err
	}
	id, err := a.cfg.Driver.CreateAndStart(ctx, spec)
	if err != nil {
		reason := "CreateContainerError"
		switch {
		case errors.Is(err, runtime.ErrNoCommand):
			reason = "CreateContainerConfigError"
		case errors.Is(err, runtime.ErrImageNotPresent):
			reason = "ErrImageNeverPull"
		}
		cs.waitReason, cs.waitMessage = reason, err.Error()
		a.recorder.Eventf(pod, corev1.EventTypeWarning, "Failed", "Error: %v", err)
		if id == "" {
			return max(cs.backoff, backoffInitial), err
		}
	} else {
		a.recorder.Eventf(pod, corev1.EventTypeNormal, "Started", "Started container %s", c.Name)
	}
	cs.id = id
	cs.waitReason, cs.waitMessage = "", ""
	if st, err := a.cfg.Driver.Inspect(ctx, id); err == nil {
		cs.status = st
	}
	if cs.status.State == runtime.StateRunning {
		a.startProbes(ctx, pod, ps, c, cs)
	}
	// Ready at once when nothing probes readiness (no second sync needed).
	cs.ready = cs.status.State == runtime.StateRunning && cs.probes.ready()
	a.watch(ctx, pod, cs)
	return 0, nil
}

// watch waits for the container to exit, then re-syncs the pod.
func (a *Agent) watch(ctx context.Context, pod *corev1.Pod, cs *ctrState) {
	if cs.watched == cs.id {
		return
	}
	cs.watched = cs.id
	id := cs.id
	key, _ := cache.MetaNamespaceKeyFunc(pod)
	a.bg.Add(1)
	go func() {
		defer a.bg.Done()
		if _, err := a.cfg.Driver.Wait(ctx, id); err != nil && ctx.Err() != nil {
			return
		}
		a.queue.Add(key)
	}()
}

// refresh reads the current status of the pod's containers.
func (a *Agent) refresh(ctx context.Context, ps *podState) {
	for _, cs := range ps.containers {
		if cs.id == "" {
			continue
		}
		st, err := a.cfg.Driver.Inspect(ctx, cs.id)
		if err != nil {
			if errors.Is(err, runtime.ErrNotFound) {
				cs.status.State, cs.status.Reason, cs.status.ExitCode = runtime.StateExited, "Error", 137
			}
			continue
		}
		cs.status = st
		cs.ready = st.State == runtime.StateRunning && cs.probes.ready()
		if st.State != runtime.StateRunning {
			cs.probes.stop()
		}
	}
}

// sandboxSpec is the pod's sandbox request.
func (a *Agent) sandboxSpec(pod *corev1.Pod) runtime.SandboxSpec {
	var lim, req, mem int64
	for _, c := range pod.Spec.Containers {
		if q, ok := c.Resources.Limits[corev1.ResourceCPU]; ok {
			lim += q.MilliValue()
		}
		if q, ok := c.Resources.Requests[corev1.ResourceCPU]; ok {
			req += q.MilliValue()
		}
		if q, ok := c.Resources.Limits[corev1.ResourceMemory]; ok {
			mem += q.Value()
		}
	}
	// A pod-level limit applies only when every container has one.
	for _, c := range pod.Spec.Containers {
		if _, ok := c.Resources.Limits[corev1.ResourceCPU]; !ok {
			lim = 0
		}
		if _, ok := c.Resources.Limits[corev1.ResourceMemory]; !ok {
			mem = 0
		}
	}
	hostname := pod.Spec.Hostname
	if hostname == "" {
		hostname = pod.Name
	}
	return runtime.SandboxSpec{
		PodUID: string(pod.UID), Namespace: pod.Namespace, Name: pod.Name, Hostname: hostname, HostNetwork: pod.Spec.HostNetwork,
		CPUMilliLimit: lim, CPUMilliRequest: req, MemoryLimitBytes: mem,
		Labels: map[string]string{runtime.LabelPodUID: string(pod.UID), runtime.LabelPodName: pod.Name, runtime.LabelPodNamespace: pod.Namespace},
	}
}

// containerSpec resolves a container's env and mounts.
func (a *Agent) containerSpec(ctx context.Context, pod *corev1.Pod, ps *podState, c *corev1.Container, attempt int) (runtime.ContainerSpec, error) {
	env, err := containerEnv(ctx, a.src, pod, c, a.podIP(ps), a.ip)
	if err != nil {
		return runtime.ContainerSpec{}, err
	}
	mounts, err := containerMounts(c, ps.volumes)
	if err != nil {
		return runtime.ContainerSpec{}, err
	}
	if m, ok, err := a.resolvConfMount(pod); err != nil {
		return runtime.ContainerSpec{}, fmt.Errorf("resolv.conf: %w", err)
	} else if ok {
		mounts = append(mounts, m)
	}
	q := func(rl corev1.ResourceList, n corev1.ResourceName, milli bool) int64 {
		v, ok := rl[n]
		if !ok {
			return 0
		}
		if milli {
			return v.MilliValue()
		}
		return v.Value()
	}
	return runtime.ContainerSpec{
		SandboxID: ps.sandbox.ID, Name: c.Name, Image: c.Image, Command: c.Command, Args: c.Args, Env: env, WorkingDir: c.WorkingDir,
		Mounts: mounts, CPUMilliLimit: q(c.Resources.Limits, corev1.ResourceCPU, true), CPUMilliRequest: q(c.Resources.Requests, corev1.ResourceCPU, true),
		MemoryLimitBytes: q(c.Resources.Limits, corev1.ResourceMemory, false),
		Labels: map[string]string{runtime.LabelPodUID: string(pod.UID), runtime.LabelPodName: pod.Name, runtime.LabelPodNamespace: pod.Namespace,
			runtime.LabelContainer: c.Name, runtime.LabelAttempt: strconv.Itoa(attempt)},
	}, nil
}

// podIP is the pod's IP: the sandbox's, or the node's with host networking.
func (a *Agent) podIP(ps *podState) string {
	if ps.sandbox != nil && ps.sandbox.IP != "" && !ps.sandbox.HostNetwork {
		return ps.sandbox.IP
	}
	return a.ip
}

// stopAll stops the pod's running containers with grace.
func (a *Agent) stopAll(ctx context.Context, ps *podState, grace time.Duration) {
	for _, cs := range ps.containers {
		cs.probes.stop()
	}
	for name, cs := range ps.containers {
		if cs.id == "" || cs.status.State == runtime.StateExited {
			continue
		}
		if err := a.cfg.Driver.Stop(ctx, cs.id, grace); err != nil && !errors.Is(err, runtime.ErrNotFound) {
			a.log.Warn("cannot stop container", "container", name, "err", err)
		}
		if st, err := a.cfg.Driver.Inspect(ctx, cs.id); err == nil {
			cs.status = st
		}
	}
}

// teardown stops the containers and removes the sandbox.
func (a *Agent) teardown(ctx context.Context, ps *podState, grace time.Duration) {
	a.stopAll(ctx, ps, grace)
	if ps.sandbox != nil {
		if err := a.cfg.Driver.StopSandbox(ctx, ps.sandbox.ID); err != nil && !errors.Is(err, runtime.ErrNotFound) {
			a.log.Warn("cannot stop sandbox", "sandbox", ps.sandbox.ID, "err", err)
		}
		if err := a.cfg.Driver.RemoveSandbox(ctx, ps.sandbox.ID); err != nil && !errors.Is(err, runtime.ErrNotFound) {
			a.log.Warn("cannot remove sandbox", "sandbox", ps.sandbox.ID, "err", err)
		}
	}
}

// report writes the pod's status if it changed.
func (a *Agent) report(ctx context.Context, pod *corev1.Pod, ps *podState) error {
	a.publish(pod.Namespace+"/"+pod.Name, ps)
	st := a.podStatus(pod, ps)
	if equality.Semantic.DeepEqual(pod.Status, st) {
		return nil
	}
	p := pod.DeepCopy()
	p.Status = st
	_, err := a.cfg.Client.CoreV1().Pods(p.Namespace).UpdateStatus(ctx, p, metav1.UpdateOptions{})
	if apierrors.IsConflict(err) {
		return err // retried with the newer version
	}
	if apierrors.IsNotFound(err) {
		return nil
	}
	return err
}

// adopt re-adopts sandboxes and containers made before an agent restart
// and removes those of pods that no longer exist here.
func (a *Agent) adopt(ctx context.Context) error {
	sandboxes, err := a.cfg.Driver.ListSandboxes(ctx)
	if err != nil {
		return err
	}
	ctrs, err := a.cfg.Driver.ListContainers(ctx)
	if err != nil {
		return err
	}
	for i := range sandboxes {
		sb := sandboxes[i]
		key := sb.Labels[runtime.LabelPodNamespace] + "/" + sb.Labels[runtime.LabelPodName]
		pod, err := a.pods.Pods(sb.Labels[runtime.LabelPodNamespace]).Get(sb.Labels[runtime.LabelPodName])
		if err != nil || string(pod.UID) != sb.Labels[runtime.LabelPodUID] || pod.Spec.NodeName != a.cfg.NodeName {
			a.log.Info("removing a sandbox of a pod that is gone", "sandbox", sb.ID, "pod", key)
			_ = a.cfg.Driver.StopSandbox(ctx, sb.ID)
			_ = a.cfg.Driver.RemoveSandbox(ctx, sb.ID)
			continue
		}
		ps := &podState{uid: pod.UID, sandbox: &sb, containers: map[string]*ctrState{}, startTime: metav1.Now(), initDone: true}
		if pod.Status.StartTime != nil {
			ps.startTime = *pod.Status.StartTime
		}
		for _, cst := range pod.Status.ContainerStatuses {
			ps.ctr(cst.Name).restarts = int(cst.RestartCount)
		}
		for _, c := range ctrs {
			if c.SandboxID != sb.ID {
				continue
			}
			cs := ps.ctr(c.Name)
			switch {
			case cs.id == "" || c.CreatedAt.After(cs.status.CreatedAt):
				if cs.id != "" {
					prev := cs.status
					cs.last = &prev
				}
				cs.id, cs.status = c.ID, c
			case cs.last == nil || c.CreatedAt.After(cs.last.CreatedAt):
				prev := c
				cs.last = &prev
			}
		}
		for _, cs := range ps.containers {
			if cs.id != "" && cs.status.State == runtime.StateRunning {
				a.watch(ctx, pod, cs)
			}
		}
		a.mu.Lock()
		a.state[key] = ps
		a.mu.Unlock()
		a.publish(key, ps)
		a.log.Info("re-adopted pod", "pod", key, "containers", len(ps.containers))
	}
	return nil
}
