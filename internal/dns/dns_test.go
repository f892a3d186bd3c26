package dns

import (
	"context"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	mdns "github.com/miekg/dns"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	corelisters "k8s.io/client-go/listers/core/v1"
	discoverylisters "k8s.io/client-go/listers/discovery/v1"
	"k8s.io/client-go/tools/cache"
)

// serve runs a Server over objs with upstream on loopback; it returns its
// address.
func serve(t *testing.T, upstream string, objs ...any) string {
	t.Helper()
	svcIdx := cache.NewIndexer(cache.MetaNamespaceKeyFunc, cache.Indexers{cache.NamespaceIndex: cache.MetaNamespaceIndexFunc})
	sliceIdx := cache.NewIndexer(cache.MetaNamespaceKeyFunc, cache.Indexers{cache.NamespaceIndex: cache.MetaNamespaceIndexFunc})
	for _, o := range objs {
		switch o.(type) {
		case *corev1.Service:
			_ = svcIdx.Add(o)
		case *discoveryv1.EndpointSlice:
			_ = sliceIdx.Add(o)
		}
	}
	s, err := New(Config{Services: corelisters.NewServiceLister(svcIdx), EndpointSlices: discoverylisters.NewEndpointSliceLister(sliceIdx), Upstreams: []string{upstream}})
	if err != nil {
		t.Fatal(err)
	}
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", pc.LocalAddr().String())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx, pc, ln) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	})
	return pc.LocalAddr().String()
}

// fakeUpstream answers every A query with 192.0.2.1.
func fakeUpstream(t *testing.T) string {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &mdns.Server{PacketConn: pc, Handler: mdns.HandlerFunc(func(w mdns.ResponseWriter, r *mdns.Msg) {
		m := new(mdns.Msg)
		m.SetReply(r)
		m.Answer = append(m.Answer, &mdns.A{Hdr: mdns.RR_Header{Name: r.Question[0].Name, Rrtype: mdns.TypeA, Class: mdns.ClassINET, Ttl: 60}, A: net.IPv4(192, 0, 2, 1)})
		_ = w.WriteMsg(m)
	})}
	go func() { _ = srv.ActivateAndServe() }()
	t.Cleanup(func() { _ = srv.Shutdown() })
	return pc.LocalAddr().String()
}

func TestServer(t *testing.T) {
	ready, notReady := true, false
	web := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "default"},
		Spec: corev1.ServiceSpec{ClusterIP: "10.43.0.20", Ports: []corev1.ServicePort{{Name: "http", Protocol: corev1.ProtocolTCP, Port: 80}}}}
	db := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "db", Namespace: "data"},
		Spec: corev1.ServiceSpec{ClusterIP: corev1.ClusterIPNone, Ports: []corev1.ServicePort{{Name: "pg", Protocol: corev1.ProtocolTCP, Port: 5432}}}}
	dbSlice := &discoveryv1.EndpointSlice{ObjectMeta: metav1.ObjectMeta{Name: "db-1", Namespace: "data", Labels: map[string]string{discoveryv1.LabelServiceName: "db"}},
		AddressType: discoveryv1.AddressTypeIPv4,
		Endpoints: []discoveryv1.Endpoint{
			{Addresses: []string{"10.42.0.7"}, Conditions: discoveryv1.EndpointConditions{Ready: &ready}},
			{Addresses: []string{"10.42.0.5"}, Conditions: discoveryv1.EndpointConditions{Ready: &ready}},
			{Addresses: []string{"10.42.0.9"}, Conditions: discoveryv1.EndpointConditions{Ready: &notReady}},
		}}
	addr := serve(t, fakeUpstream(t), web, db, dbSlice)
	c := &mdns.Client{Timeout: 5 * time.Second}
	tests := []struct {
		name  string
		qtype uint16
		net   string
		rcode int
		want  []string // answers' data, in order
	}{
		{"web.default.svc.cluster.local.", mdns.TypeA, "udp", mdns.RcodeSuccess, []string{"10.43.0.20"}},
		{"WEB.Default.svc.cluster.local.", mdns.TypeA, "tcp", mdns.RcodeSuccess, []string{"10.43.0.20"}},
		{"db.data.svc.cluster.local.", mdns.TypeA, "udp", mdns.RcodeSuccess, []string{"10.42.0.5", "10.42.0.7"}},
		{"_http._tcp.web.default.svc.cluster.local.", mdns.TypeSRV, "udp", mdns.RcodeSuccess, []string{"0 100 80 web.default.svc.cluster.local."}},
		{"_http._udp.web.default.svc.cluster.local.", mdns.TypeSRV, "udp", mdns.RcodeNameError, nil},
		{"web.default.svc.cluster.local.", mdns.TypeAAAA, "udp", mdns.RcodeSuccess, nil},
		{"nope.default.svc.cluster.local.", mdns.TypeA, "udp", mdns.RcodeNameError, nil},
		{"web.other.svc.cluster.local.", mdns.TypeA, "udp", mdns.RcodeNameError, nil},
		{"svc.cluster.local.", mdns.TypeA, "udp", mdns.RcodeSuccess, nil},
		{"example.com.", mdns.TypeA, "udp", mdns.RcodeSuccess, []string{"192.0.2.1"}},
	}
	for _, tc := range tests {
		t.Run(tc.name+"/"+mdns.TypeToString[tc.qtype], func(t *testing.T) {
			m := new(mdns.Msg)
			m.SetQuestion(tc.name, tc.qtype)
			cl := *c
			cl.Net = tc.net
			resp, _, err := cl.Exchange(m, addr)
			if err != nil {
				t.Fatal(err)
			}
			if resp.Rcode != tc.rcode {
				t.Fatalf("rcode %s, want %s", mdns.RcodeToString[resp.Rcode], mdns.RcodeToString[tc.rcode])
			}
			var got []string
			for _, rr := range resp.Answer {
				f := strings.Fields(rr.String())
				got = append(got, strings.Join(f[4:], " "))
			}
			if strings.Join(got, ",") != strings.Join(tc.want, ",") {
				t.Fatalf("answers %q, want %q", got, tc.want)
			}
		})
	}
}

func TestResolvConfAndHostResolvers(t *testing.T) {
	if got := ResolvConf("10.42.0.1", "shop", ""); got != "search shop.svc.cluster.local svc.cluster.local cluster.local\nnameserver 10.42.0.1\noptions ndots:5\n" {
		t.Errorf("resolv.conf %q", got)
	}
	f := t.TempDir() + "/resolv.conf"
	if err := os.WriteFile(f, []byte("# comment\nnameserver 192.0.2.53\nnameserver bogus\nsearch example.com\nnameserver 2001:db8::53\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(HostResolvers(f), ","); got != "192.0.2.53:53,[2001:db8::53]:53" {
		t.Errorf("resolvers %q", got)
	}
}
