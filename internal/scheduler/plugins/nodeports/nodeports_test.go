package nodeports

import (
	"context"
	"slices"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/berth-dev/berth/internal/nodeapi"
	"github.com/berth-dev/berth/internal/scheduler/framework"
)

// port is a container port with a host port.
func port(ip string, proto corev1.Protocol, hostPort int32) corev1.ContainerPort {
	return corev1.ContainerPort{ContainerPort: 8080, HostIP: ip, Protocol: proto, HostPort: hostPort}
}

// pod returns a pod whose one container has ports.
func pod(name string, ports ...corev1.ContainerPort) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default"},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Ports: ports}}},
	}
}

// node returns the info of a node running one pod that uses ports.
func node(ports ...corev1.ContainerPort) *framework.NodeInfo {
	ni := framework.NewNodeInfo(&corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "n1"}})
	ni.AddPod(framework.NewPodInfo(pod("existing", ports...)))
	return ni
}

func TestPreFilterSkipsPodsWithoutPorts(t *testing.T) {
	if st := New().PreFilter(context.Background(), framework.NewCycleState(), pod("none"), nil); !st.IsSkip() {
		t.Errorf("PreFilter code = %v, want Skip", st.Code())
	}
	// Container ports matter on nodes whose pods share the host network.
	if st := New().PreFilter(context.Background(), framework.NewCycleState(), pod("cp", corev1.ContainerPort{ContainerPort: 80}), nil); !st.IsSuccess() {
		t.Errorf("PreFilter code = %v for a pod with a container port, want Success", st.Code())
	}
}

func TestContainerPortsAreHostPortsOnHostNetworkNodes(t *testing.T) {
	const tcp, udp = corev1.ProtocolTCP, corev1.ProtocolUDP
	cport := func(p int32, proto corev1.Protocol) corev1.ContainerPort {
		return corev1.ContainerPort{ContainerPort: p, Protocol: proto}
	}
	tests := []struct {
		name        string
		hostNetwork bool
		used, want  corev1.ContainerPort
		conflict    bool
	}{
		{name: "same container port, host network", hostNetwork: true, used: cport(3000, tcp), want: cport(3000, tcp), conflict: true},
		{name: "default protocol, host network", hostNetwork: true, used: cport(3000, ""), want: cport(3000, tcp), conflict: true},
		{name: "other port, host network", hostNetwork: true, used: cport(3000, tcp), want: cport(3001, tcp)},
		{name: "other protocol, host network", hostNetwork: true, used: cport(53, udp), want: cport(53, tcp)},
		{name: "host port against container port, host network", hostNetwork: true, used: port("", tcp, 3000), want: cport(3000, tcp), conflict: true},
		{name: "same container port, pod network", used: cport(3000, tcp), want: cport(3000, tcp)},
	}
	ctx := context.Background()
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			n := node(tc.used)
			if tc.hostNetwork {
				n.Node.Labels = map[string]string{nodeapi.LabelPodNetwork: nodeapi.PodNetworkHost}
			}
			p, pl, state := pod("new", tc.want), New(), framework.NewCycleState()
			if st := pl.PreFilter(ctx, state, p, nil); !st.IsSuccess() {
				t.Fatalf("PreFilter: %v", st.Code())
			}
			st := pl.Filter(ctx, state, p, n)
			if got := st.Code() == framework.Unschedulable; got != tc.conflict {
				t.Errorf("Filter: code %v, want conflict=%v", st.Code(), tc.conflict)
			}
		})
	}
}

func TestFilter(t *testing.T) {
	const tcp, udp = corev1.ProtocolTCP, corev1.ProtocolUDP
	tests := []struct {
		name     string
		used     []corev1.ContainerPort
		want     []corev1.ContainerPort
		conflict bool
	}{
		{name: "free node", want: []corev1.ContainerPort{port("", tcp, 80)}},
		{name: "other port", used: []corev1.ContainerPort{port("", tcp, 8080)}, want: []corev1.ContainerPort{port("", tcp, 80)}},
		{name: "other protocol", used: []corev1.ContainerPort{port("", udp, 80)}, want: []corev1.ContainerPort{port("", tcp, 80)}},
		{name: "same port, both any address", used: []corev1.ContainerPort{port("", tcp, 80)}, want: []corev1.ContainerPort{port("", tcp, 80)}, conflict: true},
		{name: "default protocol is TCP", used: []corev1.ContainerPort{port("", "", 80)}, want: []corev1.ContainerPort{port("", tcp, 80)}, conflict: true},
		{name: "used on 0.0.0.0, wanted on an address", used: []corev1.ContainerPort{port("0.0.0.0", tcp, 80)}, want: []corev1.ContainerPort{port("10.0.0.1", tcp, 80)}, conflict: true},
		{name: "used on an address, wanted on 0.0.0.0", used: []corev1.ContainerPort{port("10.0.0.1", tcp, 80)}, want: []corev1.ContainerPort{port("0.0.0.0", tcp, 80)}, conflict: true},
		{name: "used on an address, wanted on any", used: []corev1.ContainerPort{port("10.0.0.1", tcp, 80)}, want: []corev1.ContainerPort{port("", tcp, 80)}, conflict: true},
		{name: "used on any, wanted on an address", used: []corev1.ContainerPort{port("", tcp, 80)}, want: []corev1.ContainerPort{port("10.0.0.1", tcp, 80)}, conflict: true},
		{name: "same address", used: []corev1.ContainerPort{port("10.0.0.1", tcp, 80)}, want: []corev1.ContainerPort{port("10.0.0.1", tcp, 80)}, conflict: true},
		{name: "different addresses", used: []corev1.ContainerPort{port("10.0.0.1", tcp, 80)}, want: []corev1.ContainerPort{port("10.0.0.2", tcp, 80)}},
		{name: "different addresses and protocol on any", used: []corev1.ContainerPort{port("10.0.0.1", tcp, 80), port("", udp, 80)}, want: []corev1.ContainerPort{port("10.0.0.2", tcp, 80)}},
		{
			name:     "second of several ports taken",
			used:     []corev1.ContainerPort{port("", tcp, 443), port("", udp, 53)},
			want:     []corev1.ContainerPort{port("", tcp, 80), port("", udp, 53)},
			conflict: true,
		},
	}
	ctx := context.Background()
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p, n, pl := pod("new", tc.want...), node(tc.used...), New()
			state := framework.NewCycleState()
			if st := pl.PreFilter(ctx, state, p, []*framework.NodeInfo{n}); !st.IsSuccess() {
				t.Fatalf("PreFilter: code %v", st.Code())
			}
			st := pl.Filter(ctx, state, p, n)
			if !tc.conflict {
				if !st.IsSuccess() {
					t.Fatalf("Filter: %v %q, want success", st.Code(), st.Message())
				}
				return
			}
			if st.Code() != framework.Unschedulable {
				t.Errorf("code = %v, want Unschedulable", st.Code())
			}
			if want := []string{"node(s) didn't have free ports for the requested pod ports"}; !slices.Equal(st.Reasons(), want) {
				t.Errorf("reasons = %q, want %q", st.Reasons(), want)
			}
		})
	}
}

func TestFilterWithoutPreFilter(t *testing.T) {
	p := pod("new", port("", corev1.ProtocolTCP, 80))
	if st := New().Filter(context.Background(), framework.NewCycleState(), p, node()); st.Code() != framework.Error {
		t.Fatalf("code = %v, want Error", st.Code())
	}
}

func TestFilterDoesNotAllocate(t *testing.T) {
	ctx := context.Background()
	p := pod("new", port("", corev1.ProtocolTCP, 80))
	n := node(port("", corev1.ProtocolTCP, 443), port("10.0.0.1", corev1.ProtocolUDP, 80))
	pl := New()
	state := framework.NewCycleState()
	pl.PreFilter(ctx, state, p, nil)
	if allocs := testing.AllocsPerRun(100, func() { pl.Filter(ctx, state, p, n) }); allocs != 0 {
		t.Errorf("Filter allocates %v times per call, want 0", allocs)
	}
}
