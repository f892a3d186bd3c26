package queue

import (
	"slices"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Helpers shared by the policy tests; the pt prefix keeps them apart from
// other tests of the package.

// ptT0 is a realistic creation time, Unix seconds.
const ptT0 int64 = 1_700_000_000

// ptOpt modifies a test pod.
type ptOpt func(*QueuedPod)

// ptQP returns a queued pod ns/name with Seq seq, created at ptT0+createdOff
// seconds.
func ptQP(ns, name string, createdOff int64, seq uint64, opts ...ptOpt) *QueuedPod {
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{
			Namespace:         ns,
			Name:              name,
			CreationTimestamp: metav1.Unix(ptT0+createdOff, 0),
		},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c"}}},
	}
	qp := &QueuedPod{Pod: pod, Key: ns + "/" + name, Seq: seq, Added: time.Unix(ptT0+1000, 0)}
	for _, o := range opts {
		o(qp)
	}
	return qp
}

// ptClone returns a deep copy of qp (a new pod object) with opts applied,
// as an informer update would deliver it.
func ptClone(qp *QueuedPod, opts ...ptOpt) *QueuedPod {
	c := *qp
	c.Pod = qp.Pod.DeepCopy()
	for _, o := range opts {
		o(&c)
	}
	return &c
}

func ptPrio(p int32) ptOpt {
	return func(qp *QueuedPod) { qp.Pod.Spec.Priority = &p }
}

func ptNoPrio() ptOpt {
	return func(qp *QueuedPod) { qp.Pod.Spec.Priority = nil }
}

// ptNanos sets the sub-second part of the creation time.
func ptNanos(ns int64) ptOpt {
	return func(qp *QueuedPod) {
		t := qp.Pod.CreationTimestamp.Time
		qp.Pod.CreationTimestamp = metav1.NewTime(time.Unix(t.Unix(), ns))
	}
}

// ptNoCreation clears the creation time; Added becomes ptT0+addedOff.
func ptNoCreation(addedOff int64) ptOpt {
	return func(qp *QueuedPod) {
		qp.Pod.CreationTimestamp = metav1.Time{}
		qp.Added = time.Unix(ptT0+addedOff, 0)
	}
}

// ptDur sets the expected-duration annotation.
func ptDur(v string) ptOpt {
	return func(qp *QueuedPod) {
		if qp.Pod.Annotations == nil {
			qp.Pod.Annotations = map[string]string{}
		}
		qp.Pod.Annotations[ExpectedDurationAnnotation] = v
	}
}

func ptNoDur() ptOpt {
	return func(qp *QueuedPod) { delete(qp.Pod.Annotations, ExpectedDurationAnnotation) }
}

func ptLabel(k, v string) ptOpt {
	return func(qp *QueuedPod) {
		if qp.Pod.Labels == nil {
			qp.Pod.Labels = map[string]string{}
		}
		qp.Pod.Labels[k] = v
	}
}

func ptNoLabel(k string) ptOpt {
	return func(qp *QueuedPod) { delete(qp.Pod.Labels, k) }
}

// ptReq sets the first container's cpu and memory requests ("" = none).
func ptReq(cpu, mem string) ptOpt {
	return func(qp *QueuedPod) {
		rl := corev1.ResourceList{}
		if cpu != "" {
			rl[corev1.ResourceCPU] = resource.MustParse(cpu)
		}
		if mem != "" {
			rl[corev1.ResourceMemory] = resource.MustParse(mem)
		}
		qp.Pod.Spec.Containers[0].Resources.Requests = rl
	}
}

// ptStep is one operation of a table test, applied after the case's pods
// were pushed.
type ptStep struct {
	op   string     // "push", "pop", "update", "delete"
	qp   *QueuedPod // push, update
	key  string     // delete; pop: the expected key ("" = nil)
	ok   bool       // update, delete: the expected result
	lenN int        // the expected Len after the step
}

func ptPush(qp *QueuedPod, lenN int) ptStep { return ptStep{op: "push", qp: qp, lenN: lenN} }
func ptPop(want string, lenN int) ptStep    { return ptStep{op: "pop", key: want, lenN: lenN} }
func ptUpdate(qp *QueuedPod, ok bool, lenN int) ptStep {
	return ptStep{op: "update", qp: qp, ok: ok, lenN: lenN}
}
func ptDelete(key string, ok bool, lenN int) ptStep {
	return ptStep{op: "delete", key: key, ok: ok, lenN: lenN}
}

// ptCase is a table test of a policy: push pods in order, apply steps,
// then the remaining pods must pop in the order want.
type ptCase struct {
	name  string
	pods  []*QueuedPod
	steps []ptStep
	want  []string
}

// ptRun runs cases against policies made by newPolicy.
func ptRun(t *testing.T, newPolicy func() Policy, cases []ptCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := newPolicy()
			for i, qp := range tc.pods {
				p.Push(qp)
				if got := p.Len(); got != i+1 {
					t.Fatalf("Len after push %d = %d", i+1, got)
				}
			}
			for i, s := range tc.steps {
				switch s.op {
				case "push":
					p.Push(s.qp)
				case "pop":
					got := ""
					if qp := p.Pop(); qp != nil {
						got = qp.Key
					}
					if got != s.key {
						t.Fatalf("step %d: Pop = %q, want %q", i, got, s.key)
					}
				case "update":
					if got := p.Update(s.qp); got != s.ok {
						t.Fatalf("step %d: Update(%s) = %v, want %v", i, s.qp.Key, got, s.ok)
					}
				case "delete":
					if got := p.Delete(s.key); got != s.ok {
						t.Fatalf("step %d: Delete(%s) = %v, want %v", i, s.key, got, s.ok)
					}
				default:
					t.Fatalf("step %d: bad op %q", i, s.op)
				}
				if got := p.Len(); got != s.lenN {
					t.Fatalf("step %d (%s): Len = %d, want %d", i, s.op, got, s.lenN)
				}
			}
			got := ptDrain(p)
			if !slices.Equal(got, tc.want) {
				t.Errorf("order = %v\nwant    %v", got, tc.want)
			}
			if p.Len() != 0 || p.Pop() != nil {
				t.Errorf("after draining: Len = %d, Pop not nil", p.Len())
			}
		})
	}
}

// ptDrain pops all pods, returning their keys.
func ptDrain(p Policy) []string {
	var keys []string
	for qp := p.Pop(); qp != nil; qp = p.Pop() {
		keys = append(keys, qp.Key)
	}
	return keys
}
