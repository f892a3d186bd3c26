package deployment

import (
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/util/intstr"
)

func TestComputeHash(t *testing.T) {
	base := testTemplate("nginx:1.27")
	// Pinned: a change here renames every ReplicaSet of every Deployment
	// on upgrade (and starts a rollout), so it must be deliberate.
	const golden = "96cccc8787"
	if got := ComputeHash(&base, nil); got != golden {
		t.Errorf("hash of the reference template = %q, want %q", got, golden)
	}
	reordered := base.DeepCopy()
	reordered.Labels = map[string]string{}
	reordered.Labels["app"] = "web"
	if ComputeHash(reordered, nil) != ComputeHash(&base, nil) {
		t.Error("hash depends on map construction")
	}
	mem := func(q string) *corev1.PodTemplateSpec {
		t := base.DeepCopy()
		t.Spec.Containers[0].Resources.Limits = corev1.ResourceList{corev1.ResourceMemory: resource.MustParse(q)}
		return t
	}
	if ComputeHash(mem("1Gi"), nil) != ComputeHash(mem("1Gi"), nil) {
		t.Error("hash of equal templates differs")
	}
	other := base.DeepCopy()
	other.Spec.Containers[0].Image = "nginx:1.28"
	restarted := base.DeepCopy()
	restarted.Annotations = map[string]string{RestartedAtAnnotation: "2025-01-01T00:00:00Z"}
	seen := map[string]string{}
	for name, h := range map[string]string{
		"base":        ComputeHash(&base, nil),
		"image":       ComputeHash(other, nil),
		"restartedAt": ComputeHash(restarted, nil),
		"collision 0": ComputeHash(&base, ptr(int32(0))),
		"collision 1": ComputeHash(&base, ptr(int32(1))),
	} {
		if prev, dup := seen[h]; dup {
			t.Errorf("%s and %s hash alike (%s)", name, prev, h)
		}
		seen[h] = name
		if h == "" || strings.Trim(h, safeAlphabet) != "" {
			t.Errorf("%s: hash %q has characters outside %q", name, h, safeAlphabet)
		}
	}
}

func TestEqualIgnoreHash(t *testing.T) {
	a := testTemplate("v1")
	b := testTemplate("v1")
	b.Labels[HashLabel] = "abc"
	if !EqualIgnoreHash(&a, &b) {
		t.Error("templates differing only in the hash label are not equal")
	}
	b.Labels["tier"] = "x"
	if EqualIgnoreHash(&a, &b) || EqualIgnoreHash(&b, &a) {
		t.Error("templates with different labels are equal")
	}
	delete(b.Labels, "tier")
	b.Labels["app"] = "other"
	if EqualIgnoreHash(&a, &b) || EqualIgnoreHash(&b, &a) {
		t.Error("templates with different label values are equal")
	}
	b.Labels["app"] = "web"
	b.Annotations = map[string]string{}
	a.Annotations = nil
	if !EqualIgnoreHash(&a, &b) {
		t.Error("nil and empty annotations differ")
	}
	c := testTemplate("v2")
	if EqualIgnoreHash(&a, &c) {
		t.Error("templates with different images are equal")
	}
	if _, ok := b.Labels[HashLabel]; !ok {
		t.Error("EqualIgnoreHash modified its argument")
	}
}

func TestFindNewReplicaSet(t *testing.T) {
	d := rollingDeployment(3, intstr.FromInt32(1), intstr.FromInt32(0))
	v1 := testRS(d, "v1", 3, 3, 0, 1)
	v2old := testRS(d, "v2", 0, 0, 5, 2)
	v2old.Name = "web-older"
	v2new := testRS(d, "v2", 0, 0, 10, 3)
	tests := []struct {
		name string
		rss  []*appsv1.ReplicaSet
		want *appsv1.ReplicaSet
	}{
		{"none", nil, nil},
		{"only old", []*appsv1.ReplicaSet{v1}, nil},
		{"match", []*appsv1.ReplicaSet{v1, v2new}, v2new},
		{"oldest of two matches", []*appsv1.ReplicaSet{v2new, v1, v2old}, v2old},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, old := SplitReplicaSets(d, tt.rss)
			if got != tt.want {
				t.Fatalf("new = %v, want %v", got, tt.want)
			}
			if len(old)+btoi(got != nil) != len(tt.rss) {
				t.Errorf("old = %d ReplicaSets, want %d", len(old), len(tt.rss)-btoi(got != nil))
			}
			for _, o := range old {
				if o == got {
					t.Error("new ReplicaSet listed as old")
				}
			}
		})
	}
}
