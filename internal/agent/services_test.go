package agent

import (
	"os"
	"path/filepath"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

func TestResolvConfSharedByContent(t *testing.T) {
	a := &Agent{cfg: Config{DataDir: t.TempDir()}, svc: &services{nameserver: "10.43.0.10", domain: "cluster.local"}}
	pod := func(ns, name string, policy corev1.DNSPolicy, cfg *corev1.PodDNSConfig) *corev1.Pod {
		return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, UID: types.UID("uid-" + name)},
			Spec: corev1.PodSpec{DNSPolicy: policy, DNSConfig: cfg}}
	}
	tests := []struct {
		name   string
		pod    *corev1.Pod
		want   string // "" : no mount
		sameAs string // earlier case whose file this one shares
	}{
		{name: "first", pod: pod("shop", "a", corev1.DNSClusterFirst, nil),
			want: "search shop.svc.cluster.local svc.cluster.local cluster.local\nnameserver 10.43.0.10\noptions ndots:5\n"},
		{name: "same namespace", pod: pod("shop", "b", "", nil),
			want: "search shop.svc.cluster.local svc.cluster.local cluster.local\nnameserver 10.43.0.10\noptions ndots:5\n", sameAs: "first"},
		{name: "other namespace", pod: pod("ops", "c", corev1.DNSClusterFirst, nil),
			want: "search ops.svc.cluster.local svc.cluster.local cluster.local\nnameserver 10.43.0.10\noptions ndots:5\n"},
		{name: "none with dnsConfig", pod: pod("shop", "d", corev1.DNSNone, &corev1.PodDNSConfig{Nameservers: []string{"1.1.1.1"}}),
			want: "nameserver 1.1.1.1\n"},
		{name: "default policy keeps the node's", pod: pod("shop", "e", corev1.DNSDefault, nil)},
	}
	paths := map[string]string{}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m, ok, err := a.resolvConfMount(tc.pod)
			if err != nil {
				t.Fatal(err)
			}
			if ok != (tc.want != "") {
				t.Fatalf("mount = %v, want %v", ok, tc.want != "")
			}
			if !ok {
				return
			}
			if m.ContainerPath != "/etc/resolv.conf" || !m.ReadOnly {
				t.Errorf("mount %+v: want read-only at /etc/resolv.conf", m)
			}
			b, err := os.ReadFile(m.HostPath)
			if err != nil || string(b) != tc.want {
				t.Errorf("content %q, %v; want %q", b, err, tc.want)
			}
			paths[tc.name] = m.HostPath
			if tc.sameAs != "" && paths[tc.sameAs] != m.HostPath {
				t.Errorf("file %s, want the one of %q (%s)", m.HostPath, tc.sameAs, paths[tc.sameAs])
			}
		})
	}
	entries, err := os.ReadDir(filepath.Join(a.cfg.DataDir, resolvConfDir))
	if err != nil || len(entries) != 3 {
		t.Errorf("%s holds %d files (%v), want 3: one per content", resolvConfDir, len(entries), err)
	}

	// A file that changed on disk (or was cut short) is written again once
	// by a new agent.
	p := paths["first"]
	if err := os.WriteFile(p, []byte("nameserver 9.9.9.9\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	b2 := &Agent{cfg: a.cfg, svc: a.svc}
	if _, _, err := b2.resolvConfMount(tests[0].pod); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(p); string(b) != tests[0].want {
		t.Errorf("after a new agent's first use: %q, want %q", b, tests[0].want)
	}
}
