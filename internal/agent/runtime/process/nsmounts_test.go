package process

import (
	"slices"
	"testing"
)

func TestNamespaceHolders(t *testing.T) {
	const base = `22 1 0:21 / / rw,relatime shared:1 - ext4 /dev/vda rw
23 22 0:22 / /proc rw shared:2 - proc proc rw
24 22 0:23 / /run rw shared:3 - tmpfs tmpfs rw
`
	tests := []struct {
		name string
		info string
		want []string
	}{
		{"no namespace mounts", base, nil},
		{"ip netns directory", base + `30 24 0:23 /netns /run/netns rw shared:5 - tmpfs tmpfs rw
31 30 0:4 net:[4026532288] /run/netns/a rw shared:6 - nsfs nsfs rw
32 30 0:4 net:[4026532289] /run/netns/b rw shared:6 - nsfs nsfs rw
`, []string{"/run/netns"}},
		{"agent directory in a shared parent (two copies per pod)", base + `40 24 0:23 /berth/netns /run/berth/netns rw shared:7 - tmpfs tmpfs rw
41 40 0:23 /berth/netns/n1 /run/berth/netns/n1 rw shared:7 - tmpfs tmpfs rw
42 41 0:4 net:[4026532300] /run/berth/netns/n1/x rw shared:8 - nsfs nsfs rw
43 40 0:4 net:[4026532300] /run/berth/netns/n1/x rw shared:8 - nsfs nsfs rw
`, []string{"/run/berth/netns"}},
		{"directory that holds other mounts too", base + `50 24 0:30 / /run/mixed rw - tmpfs tmpfs rw
51 50 0:4 net:[4026532301] /run/mixed/ns rw - nsfs nsfs rw
52 50 0:31 / /run/mixed/data rw - ext4 /dev/vdb rw
`, []string{"/run/mixed/ns"}},
		{"namespace file bind-mounted straight under the root mount", base + `60 22 0:4 net:[4026532302] /netfile rw - nsfs nsfs rw
`, []string{"/netfile"}},
		{"stacked directory mounts at one path", base + `70 24 0:23 /netns /run/netns rw shared:5 - tmpfs tmpfs rw
71 70 0:23 /netns /run/netns rw shared:5 - tmpfs tmpfs rw
72 71 0:4 net:[4026532303] /run/netns/c rw - nsfs nsfs rw
`, []string{"/run/netns", "/run/netns"}},
		{"escaped path", base + `80 24 0:4 net:[4026532304] /run/a\040b rw - nsfs nsfs rw
`, []string{"/run/a b"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := namespaceHolders(parseMountInfo(tc.info)); !slices.Equal(got, tc.want) {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}
