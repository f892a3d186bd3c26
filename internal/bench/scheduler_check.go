package bench

import (
	"context"
	"fmt"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// placement summarises where the benchmark's pods were bound.
type placement struct {
	// nodesUsed is how many nodes hold at least one benchmark pod.
	nodesUsed int
	// maxPerNode is the most benchmark pods on one node.
	maxPerNode int
}

// maxExamples bounds the offenders a failed check names.
const maxExamples = 3

// checkPlacement verifies, from LISTs of every node and every pod of the
// cluster, that each of the want benchmark pods in namespace ns is bound
// to a node that exists, to the node the watch first reported (watched,
// by pod index), and that no node holds more than its allocatable cpu,
// memory or pod count — counting every non-terminal pod bound to it, not
// only the benchmark's.
func checkPlacement(nodes []corev1.Node, pods []corev1.Pod, ns string, want int, watched []string) (placement, error) {
	type usage struct{ cpuMilli, memBytes, pods int64 }
	alloc := make(map[string]corev1.ResourceList, len(nodes))
	for _, n := range nodes {
		alloc[n.Name] = n.Status.Allocatable
	}
	used := make(map[string]*usage, len(nodes))
	benchOn := map[string]int{}
	var listed, unbound, unknown, moved int
	var unboundEx, unknownEx, movedEx []string
	for i := range pods {
		p := &pods[i]
		if p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed {
			continue // terminal pods hold no resources
		}
		idx, ok := schedulerPodIndex(p.Name, want)
		bench := ok && p.Namespace == ns
		if bench {
			listed++
		}
		node := p.Spec.NodeName
		switch {
		case node == "" && bench:
			unbound++
			unboundEx = appendExample(unboundEx, p.Name)
			continue
		case node == "":
			continue
		}
		if _, ok := alloc[node]; !ok {
			if bench {
				unknown++
				unknownEx = appendExample(unknownEx, p.Name+" on "+node)
			}
			continue
		}
		if bench && idx < len(watched) && watched[idx] != node {
			moved++
			movedEx = appendExample(movedEx, fmt.Sprintf("%s on %s, first seen on %q", p.Name, node, watched[idx]))
		}
		u := used[node]
		if u == nil {
			u = &usage{}
			used[node] = u
		}
		cpu, mem := podRequests(p)
		u.cpuMilli += cpu
		u.memBytes += mem
		u.pods++
		if bench {
			benchOn[node]++
		}
	}

	var over []string
	for node, u := range used {
		a := alloc[node]
		var why []string
		if c := a.Cpu().MilliValue(); u.cpuMilli > c {
			why = append(why, fmt.Sprintf("cpu %dm > %dm", u.cpuMilli, c))
		}
		if m := a.Memory().Value(); u.memBytes > m {
			why = append(why, fmt.Sprintf("memory %d > %d bytes", u.memBytes, m))
		}
		if n := a.Pods().Value(); u.pods > n {
			why = append(why, fmt.Sprintf("%d pods > %d", u.pods, n))
		}
		if len(why) > 0 {
			over = append(over, node+": "+strings.Join(why, ", "))
		}
	}
	slices.Sort(over)

	var problems []string
	if listed != want {
		problems = append(problems, fmt.Sprintf("the LIST returned %d of the %d benchmark pods", listed, want))
	}
	if unbound > 0 {
		problems = append(problems, fmt.Sprintf("%d pods are not bound (%s)", unbound, strings.Join(unboundEx, "; ")))
	}
	if unknown > 0 {
		problems = append(problems, fmt.Sprintf("%d pods are bound to nodes that do not exist (%s)", unknown, strings.Join(unknownEx, "; ")))
	}
	if moved > 0 {
		problems = append(problems, fmt.Sprintf("%d pods are bound to another node than the watch first reported (%s)", moved, strings.Join(movedEx, "; ")))
	}
	if len(over) > 0 {
		problems = append(problems, fmt.Sprintf("%d nodes are overcommitted (%s)", len(over), strings.Join(over[:min(len(over), maxExamples)], "; ")))
	}
	if len(problems) > 0 {
		return placement{}, fmt.Errorf("bench: placement check failed: %s", strings.Join(problems, "; "))
	}
	p := placement{nodesUsed: len(benchOn)}
	for _, n := range benchOn {
		p.maxPerNode = max(p.maxPerNode, n)
	}
	return p, nil
}

// appendExample appends s unless maxExamples are already kept.
func appendExample(xs []string, s string) []string {
	if len(xs) < maxExamples {
		xs = append(xs, s)
	}
	return xs
}

// podRequests is the cpu (millicores) and memory (bytes) the scheduler
// accounts for a pod: the sum of its containers' requests or the largest
// init container's, whichever is larger, plus the pod overhead.
func podRequests(p *corev1.Pod) (cpuMilli, memBytes int64) {
	for _, c := range p.Spec.Containers {
		cpuMilli += c.Resources.Requests.Cpu().MilliValue()
		memBytes += c.Resources.Requests.Memory().Value()
	}
	for _, c := range p.Spec.InitContainers {
		cpuMilli = max(cpuMilli, c.Resources.Requests.Cpu().MilliValue())
		memBytes = max(memBytes, c.Resources.Requests.Memory().Value())
	}
	if p.Spec.Overhead != nil {
		cpuMilli += p.Spec.Overhead.Cpu().MilliValue()
		memBytes += p.Spec.Overhead.Memory().Value()
	}
	return cpuMilli, memBytes
}

// listNodes returns every node, with paged LISTs.
func listNodes(ctx context.Context, cs kubernetes.Interface) ([]corev1.Node, error) {
	var out []corev1.Node
	opts := metav1.ListOptions{Limit: countPage}
	for {
		l, err := cs.CoreV1().Nodes().List(ctx, opts)
		if err != nil {
			return nil, fmt.Errorf("bench: list nodes: %w", err)
		}
		out = append(out, l.Items...)
		if opts.Continue = l.Continue; opts.Continue == "" {
			return out, nil
		}
	}
}

// listPods returns every pod of namespace ns ("" for all namespaces), with
// paged LISTs.
func listPods(ctx context.Context, cs kubernetes.Interface, ns string) ([]corev1.Pod, error) {
	var out []corev1.Pod
	opts := metav1.ListOptions{Limit: countPage}
	for {
		l, err := cs.CoreV1().Pods(ns).List(ctx, opts)
		if err != nil {
			return nil, fmt.Errorf("bench: list pods: %w", err)
		}
		out = append(out, l.Items...)
		if opts.Continue = l.Continue; opts.Continue == "" {
			return out, nil
		}
	}
}
