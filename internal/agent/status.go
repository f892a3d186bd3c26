package agent

import (
	"github.com/berth-dev/berth/internal/agent/runtime"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// podStatus computes the pod's status from what the agent knows, keeping
// condition transition times that did not change.
func (a *Agent) podStatus(pod *corev1.Pod, ps *podState) corev1.PodStatus {
	st := corev1.PodStatus{
		HostIP: a.ip, HostIPs: []corev1.HostIP{{IP: a.ip}},
		StartTime: &ps.startTime, QOSClass: pod.Status.QOSClass, NominatedNodeName: pod.Status.NominatedNodeName,
	}
	if ps.rejectReason != "" {
		st.Phase, st.Reason, st.Message = corev1.PodFailed, ps.rejectReason, ps.rejectMessage
		st.Conditions = keepTimes(pod.Status.Conditions, []corev1.PodCondition{{Type: corev1.PodScheduled, Status: corev1.ConditionTrue}})
		return st
	}
	if ps.sandbox != nil {
		ip := a.podIP(ps)
		st.PodIP, st.PodIPs = ip, []corev1.PodIP{{IP: ip}}
	}
	st.InitContainerStatuses = a.containerStatuses(pod.Spec.InitContainers, ps, true)
	st.ContainerStatuses = a.containerStatuses(pod.Spec.Containers, ps, false)
	st.Phase = phase(pod, ps, st.ContainerStatuses)
	allReady := len(st.ContainerStatuses) > 0
	for _, cs := range st.ContainerStatuses {
		allReady = allReady && cs.Ready
	}
	if st.Phase != corev1.PodRunning {
		allReady = false
	}
	b := func(ok bool) corev1.ConditionStatus {
		if ok {
			return corev1.ConditionTrue
		}
		return corev1.ConditionFalse
	}
	conds := []corev1.PodCondition{
		{Type: corev1.PodReadyToStartContainers, Status: b(ps.sandbox != nil)},
		{Type: corev1.PodInitialized, Status: b(ps.initDone)},
		{Type: corev1.ContainersReady, Status: b(allReady)},
		{Type: corev1.PodReady, Status: b(allReady)},
		{Type: corev1.PodScheduled, Status: corev1.ConditionTrue},
	}
	if !allReady {
		for i := range conds[2:4] {
			conds[2+i].Reason = "ContainersNotReady"
		}
	}
	st.Conditions = keepTimes(pod.Status.Conditions, conds)
	return st
}

// keepTimes sets transition times: the old one where the status did not
// change, now otherwise.
func keepTimes(old, cur []corev1.PodCondition) []corev1.PodCondition {
	now := metav1.Now()
	for i := range cur {
		cur[i].LastTransitionTime = now
		for _, o := range old {
			if o.Type == cur[i].Type && o.Status == cur[i].Status {
				cur[i].LastTransitionTime = o.LastTransitionTime
			}
		}
	}
	return cur
}

// phase derives the pod phase like the kubelet.
func phase(pod *corev1.Pod, ps *podState, statuses []corev1.ContainerStatus) corev1.PodPhase {
	if !ps.initDone {
		if ps.final {
			return corev1.PodFailed
		}
		return corev1.PodPending
	}
	running, waiting, succeeded, failed := 0, 0, 0, 0
	for _, cs := range statuses {
		switch {
		case cs.State.Running != nil:
			running++
		case cs.State.Terminated != nil:
			if cs.State.Terminated.ExitCode == 0 {
				succeeded++
			} else {
				failed++
			}
		case cs.State.Waiting != nil:
			if cs.LastTerminationState.Terminated != nil {
				running++ // restarting: still Running
			} else {
				waiting++
			}
		}
	}
	switch {
	case waiting > 0:
		return corev1.PodPending
	case running > 0:
		return corev1.PodRunning
	case failed > 0 && pod.Spec.RestartPolicy == corev1.RestartPolicyNever:
		return corev1.PodFailed
	case succeeded > 0 && failed == 0 && pod.Spec.RestartPolicy != corev1.RestartPolicyAlways:
		return corev1.PodSucceeded
	case failed > 0 && pod.Spec.RestartPolicy == corev1.RestartPolicyOnFailure:
		return corev1.PodRunning
	case pod.Spec.RestartPolicy == corev1.RestartPolicyAlways:
		return corev1.PodRunning
	}
	return corev1.PodPending
}

// containerStatuses reports the given containers.
func (a *Agent) containerStatuses(specs []corev1.Container, ps *podState, init bool) []corev1.ContainerStatus {
	if len(specs) == 0 {
		return nil
	}
	out := make([]corev1.ContainerStatus, 0, len(specs))
	for _, c := range specs {
		s := corev1.ContainerStatus{Name: c.Name, Image: c.Image}
		cs := ps.containers[c.Name]
		if cs == nil || cs.id == "" {
			reason, msg := "ContainerCreating", ""
			if init {
				reason = "PodInitializing"
			}
			if cs != nil && cs.waitReason != "" {
				reason, msg = cs.waitReason, cs.waitMessage
			}
			s.State.Waiting = &corev1.ContainerStateWaiting{Reason: reason, Message: msg}
			out = append(out, s)
			continue
		}
		s.ContainerID = a.cfg.Driver.Name() + "://" + cs.id
		s.RestartCount = int32(cs.restarts)
		if cs.last != nil {
			s.LastTerminationState.Terminated = terminated(cs.last)
		}
		switch {
		case cs.waitReason != "":
			s.State.Waiting = &corev1.ContainerStateWaiting{Reason: cs.waitReason, Message: cs.waitMessage}
			if cs.status.State == runtime.StateExited {
				// The exit that led to the back-off is the last state.
				s.LastTerminationState.Terminated = terminated(&cs.status)
			}
		case cs.status.State == runtime.StateRunning:
			s.State.Running = &corev1.ContainerStateRunning{StartedAt: metav1.NewTime(cs.status.StartedAt)}
			started := true
			s.Started = &started
			s.Ready = cs.ready && !init
		case cs.status.State == runtime.StateExited:
			s.State.Terminated = terminated(&cs.status)
			started := false
			s.Started = &started
		default:
			s.State.Waiting = &corev1.ContainerStateWaiting{Reason: "ContainerCreating"}
		}
		out = append(out, s)
	}
	return out
}

func terminated(st *runtime.ContainerStatus) *corev1.ContainerStateTerminated {
	return &corev1.ContainerStateTerminated{
		ExitCode: int32(st.ExitCode), Reason: st.Reason, Message: st.Message,
		StartedAt: metav1.NewTime(st.StartedAt), FinishedAt: metav1.NewTime(st.FinishedAt), ContainerID: st.ID,
	}
}
