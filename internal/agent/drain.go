package agent

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/util/retry"
)

// AnnotationCordonedByAgent on a Node says that its agent cordoned it
// while draining on exit (Config.DrainOnExit); the agent's next start
// uncordons the node and removes the annotation. A node cordoned by anyone
// else has no such annotation and stays cordoned.
const AnnotationCordonedByAgent = "berth.io/cordoned-by-agent"

const (
	// drainSetupTimeout bounds cordoning the node and the first listing
	// of its pods.
	drainSetupTimeout = 30 * time.Second
	// drainMargin is added to the longest grace period of the node's pods
	// to bound the wait for them to be gone.
	drainMargin = 30 * time.Second
	// drainPoll is how often the node's pods are listed while draining.
	drainPoll = 250 * time.Millisecond
)

// cordonForDrain marks n unschedulable and records that the agent did so;
// it reports whether n changed. A node that is already unschedulable (an
// administrator cordoned it, or an earlier drain whose annotation is still
// there) is left as it is.
func cordonForDrain(n *corev1.Node) bool {
	if n.Spec.Unschedulable {
		return false
	}
	n.Spec.Unschedulable = true
	if n.Annotations == nil {
		n.Annotations = map[string]string{}
	}
	n.Annotations[AnnotationCordonedByAgent] = "true"
	return true
}

// uncordonAfterDrain undoes cordonForDrain at the agent's start: a node
// carrying AnnotationCordonedByAgent becomes schedulable again and loses
// the annotation. It reports whether n changed; a node without the
// annotation (schedulable, or cordoned by someone else) is left as it is.
func uncordonAfterDrain(n *corev1.Node) bool {
	if _, ok := n.Annotations[AnnotationCordonedByAgent]; !ok {
		return false
	}
	delete(n.Annotations, AnnotationCordonedByAgent)
	n.Spec.Unschedulable = false
	return true
}

// deletionGrace is how long the agent gives a pod's containers to stop
// once the pod is deleted: the deletion's grace period, else the pod's
// terminationGracePeriodSeconds, else 30 s.
func deletionGrace(pod *corev1.Pod) time.Duration {
	switch {
	case pod.DeletionGracePeriodSeconds != nil:
		return time.Duration(*pod.DeletionGracePeriodSeconds) * time.Second
	case pod.Spec.TerminationGracePeriodSeconds != nil:
		return time.Duration(*pod.Spec.TerminationGracePeriodSeconds) * time.Second
	}
	return time.Duration(corev1.DefaultTerminationGracePeriodSeconds) * time.Second
}

// drainOnExit runs when the agent stops with Config.DrainOnExit, after its
// pod workers ended (ctx, the run's context, is done by then; the drain
// runs on a context of its own). It cordons the node (see cordonForDrain),
// deletes every pod bound to it through the API with its grace period,
// so that their controllers replace them on other nodes, stops their
// containers and removes their sandboxes as the normal deletion path does
// (teardown, then the deletion with grace period 0), and returns once no
// pod is left on the node. The node's Lease is renewed meanwhile. The
// wait is bounded by the longest grace period of the pods plus
// drainMargin; pods left then are reported in the error.
func (a *Agent) drainOnExit(ctx context.Context) error {
	base := context.WithoutCancel(ctx)
	start := time.Now()
	setup, cancelSetup := context.WithTimeout(base, drainSetupTimeout)
	defer cancelSetup()
	cordoned, err := a.cordon(setup)
	if err != nil {
		return fmt.Errorf("agent: drain: cordon node %s: %w", a.cfg.NodeName, err)
	}
	pods, err := a.podsOnNode(setup)
	if err != nil {
		return fmt.Errorf("agent: drain: list the pods of node %s: %w", a.cfg.NodeName, err)
	}
	longest := time.Duration(0)
	for i := range pods {
		longest = max(longest, deletionGrace(&pods[i]))
	}
	a.log.Info("draining the node before the agent stops", "cordoned", cordoned, "pods", len(pods), "bound", longest+drainMargin)

	drainCtx, cancel := context.WithTimeout(base, longest+drainMargin)
	defer cancel()
	var hb sync.WaitGroup
	hbCtx, stopHeartbeat := context.WithCancel(drainCtx)
	hb.Add(1)
	go func() { defer hb.Done(); a.heartbeat(hbCtx, a.cfg.StatusInterval) }()
	defer func() { stopHeartbeat(); hb.Wait() }()

	left, err := a.drainPods(drainCtx)
	if err != nil {
		return fmt.Errorf("agent: drain: %d pods still on node %s after %v (%v): %w", len(left), a.cfg.NodeName,
			time.Since(start).Round(time.Second), left, err)
	}
	a.log.Info("node drained", "took", time.Since(start).Round(time.Millisecond))
	return nil
}

// cordon applies cordonForDrain to the node, retrying on conflicts; it
// reports whether this call cordoned it.
func (a *Agent) cordon(ctx context.Context) (bool, error) {
	nodes := a.cfg.Client.CoreV1().Nodes()
	cordoned := false
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		n, err := nodes.Get(ctx, a.cfg.NodeName, metav1.GetOptions{})
		if err != nil {
			return err
		}
		if cordoned = cordonForDrain(n); !cordoned {
			return nil
		}
		_, err = nodes.Update(ctx, n, metav1.UpdateOptions{})
		return err
	})
	return cordoned && err == nil, err
}

// podsOnNode lists the pods bound to this node from the API (the pod
// informer has stopped with the run).
func (a *Agent) podsOnNode(ctx context.Context) ([]corev1.Pod, error) {
	list, err := a.cfg.Client.CoreV1().Pods(metav1.NamespaceAll).List(ctx, metav1.ListOptions{
		FieldSelector: fields.OneTermEqualSelector("spec.nodeName", a.cfg.NodeName).String()})
	if err != nil {
		return nil, err
	}
	return list.Items, nil
}

// drainPods deletes the node's pods and finishes their deletions until a
// listing finds none, or ctx ends; it returns the pods left (by key).
// Every pod (and every pod the agent knows that the API no longer has) is
// terminated by a goroutine of its own, so that grace periods overlap;
// all have ended when it returns. Only this goroutine decides which pod
// state is torn down, each once.
func (a *Agent) drainPods(ctx context.Context) (left []string, err error) {
	var wg sync.WaitGroup
	defer wg.Wait()
	// terminating holds the pods whose deletion a goroutine finishes; one
	// that fails removes its pod, which the next listing then retries.
	var tmu sync.Mutex
	terminating := map[types.UID]bool{}
	handled := map[*podState]bool{}
	// claim returns the agent's state of the pod with key and uid (nil
	// if it has none, or none with that uid) and marks it handled.
	claim := func(key string, uid types.UID) *podState {
		a.mu.Lock()
		defer a.mu.Unlock()
		ps := a.state[key]
		if ps == nil || ps.uid != uid || handled[ps] {
			return nil
		}
		handled[ps] = true
		return ps
	}
	tick := time.NewTicker(drainPoll)
	defer tick.Stop()
	for {
		pods, lerr := a.podsOnNode(ctx)
		if lerr != nil {
			a.log.Warn("drain: cannot list the node's pods", "err", lerr)
		} else {
			listed := map[string]types.UID{}
			left = left[:0]
			for i := range pods {
				pod := &pods[i]
				key := pod.Namespace + "/" + pod.Name
				listed[key] = pod.UID
				left = append(left, key)
				switch {
				case pod.DeletionTimestamp == nil:
					// Deleted with its own grace period; the next
					// listing shows the deletion.
					if err := a.cfg.Client.CoreV1().Pods(pod.Namespace).Delete(ctx, pod.Name,
						metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &pod.UID}}); err != nil &&
						!apierrors.IsNotFound(err) && !apierrors.IsConflict(err) {
						a.log.Warn("drain: cannot delete pod", "pod", key, "err", err)
					}
				default:
					tmu.Lock()
					busy := terminating[pod.UID]
					terminating[pod.UID] = true
					tmu.Unlock()
					if busy {
						continue
					}
					ps := claim(key, pod.UID)
					wg.Add(1)
					go func() {
						defer wg.Done()
						if err := a.finishDeletion(ctx, key, pod, ps); err != nil {
							a.log.Warn("drain: cannot complete the deletion of pod", "pod", key, "err", err)
							tmu.Lock()
							delete(terminating, pod.UID)
							tmu.Unlock()
						}
					}()
				}
			}
			// Pods gone from the API (finished pods go at once when
			// deleted) or replaced by a pod with another UID may still
			// have a sandbox: removed at once, as sync does.
			for _, g := range a.unlisted(listed, handled) {
				wg.Add(1)
				go func() {
					defer wg.Done()
					a.teardown(ctx, g.ps, 0)
					a.forget(g.key, g.ps)
				}()
			}
			if len(pods) == 0 {
				return nil, nil
			}
			sort.Strings(left)
		}
		select {
		case <-ctx.Done():
			return left, ctx.Err()
		case <-tick.C:
		}
	}
}

// keyedState is the agent's state of one pod, with the pod's key.
type keyedState struct {
	key string
	ps  *podState
}

// unlisted returns the pod states not yet handled whose pod is not in
// listed (by key and UID), and marks them handled.
func (a *Agent) unlisted(listed map[string]types.UID, handled map[*podState]bool) []keyedState {
	a.mu.Lock()
	defer a.mu.Unlock()
	var out []keyedState
	for key, ps := range a.state {
		if uid, ok := listed[key]; (ok && uid == ps.uid) || handled[ps] {
			continue
		}
		handled[ps] = true
		out = append(out, keyedState{key, ps})
	}
	return out
}

// finishDeletion is the agent's part of a pod's graceful deletion, as in
// sync: stop the containers of ps (the agent's state of the pod, nil if it
// has none) within the grace period, remove the sandbox, then delete the
// pod with grace period 0. A pod already gone is no error.
func (a *Agent) finishDeletion(ctx context.Context, key string, pod *corev1.Pod, ps *podState) error {
	if ps != nil {
		a.teardown(ctx, ps, deletionGrace(pod))
		a.forget(key, ps)
	}
	zero := int64(0)
	err := a.cfg.Client.CoreV1().Pods(pod.Namespace).Delete(ctx, pod.Name, metav1.DeleteOptions{GracePeriodSeconds: &zero,
		Preconditions: &metav1.Preconditions{UID: &pod.UID}})
	if apierrors.IsNotFound(err) || apierrors.IsConflict(err) {
		return nil
	}
	return err
}
