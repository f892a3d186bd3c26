package registry

import (
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestPodTable(t *testing.T) {
	now := metav1.Now()
	ago := metav1.NewTime(time.Now().Add(-5 * time.Minute))
	running := corev1.ContainerState{Running: &corev1.ContainerStateRunning{}}
	tests := []struct {
		name               string
		pod                corev1.Pod
		ready, status      string
		restarts           interface{}
		ip, node           string
		initContainers     int
		deletionTimestamps bool
	}{
		{name: "pending", pod: corev1.Pod{Status: corev1.PodStatus{Phase: corev1.PodPending}},
			ready: "0/1", status: "Pending", restarts: int64(0), ip: "<none>", node: "<none>"},
		{name: "running", pod: corev1.Pod{
			Spec: corev1.PodSpec{NodeName: "node-a"},
			Status: corev1.PodStatus{Phase: corev1.PodRunning, PodIP: "10.1.0.5", ContainerStatuses: []corev1.ContainerStatus{
				{Name: "app", Ready: true, State: running},
			}}},
			ready: "1/1", status: "Running", restarts: int64(0), ip: "10.1.0.5", node: "node-a"},
		{name: "crashloop", pod: corev1.Pod{Status: corev1.PodStatus{Phase: corev1.PodRunning, ContainerStatuses: []corev1.ContainerStatus{{
			Name: "app", RestartCount: 4,
			State:                corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "CrashLoopBackOff"}},
			LastTerminationState: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: 1, FinishedAt: ago}},
		}}}},
			ready: "0/1", status: "CrashLoopBackOff", restarts: "4 (5m ago)", ip: "<none>", node: "<none>"},
		{name: "completed", pod: corev1.Pod{Status: corev1.PodStatus{Phase: corev1.PodSucceeded, ContainerStatuses: []corev1.ContainerStatus{{
			Name: "app", State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{Reason: "Completed"}},
		}}}},
			ready: "0/1", status: "Completed", restarts: int64(0), ip: "<none>", node: "<none>"},
		{name: "creating", pod: corev1.Pod{Status: corev1.PodStatus{Phase: corev1.PodPending, ContainerStatuses: []corev1.ContainerStatus{{
			Name: "app", State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "ContainerCreating"}},
		}}}},
			ready: "0/1", status: "ContainerCreating", restarts: int64(0), ip: "<none>", node: "<none>"},
		{name: "init", initContainers: 1, pod: corev1.Pod{Status: corev1.PodStatus{Phase: corev1.PodPending,
			InitContainerStatuses: []corev1.ContainerStatus{{Name: "init", State: running}},
			ContainerStatuses: []corev1.ContainerStatus{{
				Name: "app", State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "PodInitializing"}},
			}}}},
			ready: "0/1", status: "Init:0/1", restarts: int64(0), ip: "<none>", node: "<none>"},
		{name: "terminating", deletionTimestamps: true, pod: corev1.Pod{Status: corev1.PodStatus{Phase: corev1.PodRunning,
			ContainerStatuses: []corev1.ContainerStatus{{Name: "app", Ready: true, State: running}}}},
			ready: "1/1", status: "Terminating", restarts: int64(0), ip: "<none>", node: "<none>"},
		{name: "exit code", pod: corev1.Pod{Status: corev1.PodStatus{Phase: corev1.PodFailed, ContainerStatuses: []corev1.ContainerStatus{{
			Name: "app", State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: 2}},
		}}}},
			ready: "0/1", status: "ExitCode:2", restarts: int64(0), ip: "<none>", node: "<none>"},
	}
	table := byName(t, "v1", "pods").Strategy.Table
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			pod := tc.pod
			pod.Name = "web"
			pod.CreationTimestamp = ago
			pod.Spec.Containers = []corev1.Container{{Name: "app"}}
			for i := 0; i < tc.initContainers; i++ {
				pod.Spec.InitContainers = append(pod.Spec.InitContainers, corev1.Container{Name: "init"})
			}
			if tc.deletionTimestamps {
				pod.DeletionTimestamp = &now
			}
			row := table.Row(&pod)
			want := []interface{}{"web", tc.ready, tc.status, tc.restarts, "5m", tc.ip, tc.node, "<none>", "<none>"}
			for i := range want {
				if row[i] != want[i] {
					t.Errorf("cell %d (%s) = %#v, want %#v", i, table.Columns[i].Name, row[i], want[i])
				}
			}
		})
	}
}
