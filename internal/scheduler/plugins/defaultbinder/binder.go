package defaultbinder

import (
	"context"
	"fmt"

	"github.com/berth-dev/berth/internal/scheduler/framework"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// Name is the plugin's name.
const Name = "DefaultBinder"

// Plugin posts a Binding for the pod.
type Plugin struct {
	client kubernetes.Interface
}

// New returns a binder using client.
func New(client kubernetes.Interface) *Plugin { return &Plugin{client: client} }

// Name returns Name.
func (p *Plugin) Name() string { return Name }

// Bind creates the pod's Binding to nodeName (with the pod's UID as a
// precondition, so a re-created pod of the same name is not bound).
func (p *Plugin) Bind(ctx context.Context, _ *framework.CycleState, pod *corev1.Pod, nodeName string) *framework.Status {
	b := &corev1.Binding{
		ObjectMeta: metav1.ObjectMeta{Namespace: pod.Namespace, Name: pod.Name, UID: pod.UID},
		Target:     corev1.ObjectReference{Kind: "Node", Name: nodeName},
	}
	if err := p.client.CoreV1().Pods(pod.Namespace).Bind(ctx, b, metav1.CreateOptions{}); err != nil {
		return framework.AsStatus(fmt.Errorf("bind %s/%s to %s: %w", pod.Namespace, pod.Name, nodeName, err))
	}
	return nil
}
