package dns

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"sort"
	"strings"
	"sync"
	"time"

	mdns "github.com/miekg/dns"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	"k8s.io/apimachinery/pkg/labels"
	corelisters "k8s.io/client-go/listers/core/v1"
	discoverylisters "k8s.io/client-go/listers/discovery/v1"
)

// DefaultDomain is the cluster domain.
const DefaultDomain = "cluster.local"

// ttl of the answers, in seconds (as CoreDNS's kubernetes plugin).
const ttl = 5

// Config configures a Server.
type Config struct {
	// Services and EndpointSlices are read for the answers.
	Services       corelisters.ServiceLister
	EndpointSlices discoverylisters.EndpointSliceLister
	// Domain is the cluster domain (default DefaultDomain).
	Domain string
	// Upstreams are host:port of the resolvers other names go to (default:
	// the nameservers of /etc/resolv.conf).
	Upstreams []string
	// Logger receives what the server logs (default slog.Default()).
	Logger *slog.Logger
}

// Server answers DNS queries over UDP and TCP.
type Server struct {
	cfg    Config
	log    *slog.Logger
	client *mdns.Client
}

// New validates cfg and returns a Server.
func New(cfg Config) (*Server, error) {
	if cfg.Services == nil || cfg.EndpointSlices == nil {
		return nil, errors.New("dns: Services and EndpointSlices listers are required")
	}
	if cfg.Domain == "" {
		cfg.Domain = DefaultDomain
	}
	cfg.Domain = strings.Trim(strings.ToLower(cfg.Domain), ".")
	if cfg.Upstreams == nil {
		cfg.Upstreams = HostResolvers("/etc/resolv.conf")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	return &Server{cfg: cfg, log: cfg.Logger.With("component", "dns"), client: &mdns.Client{Timeout: 2 * time.Second}}, nil
}

// HostResolvers reads the nameservers of a resolv.conf file as host:53.
func HostResolvers(path string) []string {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil
	}
	var out []string
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) >= 2 && f[0] == "nameserver" {
			if _, err := netip.ParseAddr(f[1]); err == nil {
				out = append(out, net.JoinHostPort(f[1], "53"))
			}
		}
	}
	return out
}

// ResolvConf is the resolv.conf of a pod in namespace ns using nameserver.
func ResolvConf(nameserver, ns, domain string) string {
	if domain == "" {
		domain = DefaultDomain
	}
	return fmt.Sprintf("search %s.svc.%s svc.%s %s\nnameserver %s\noptions ndots:5\n", ns, domain, domain, domain, nameserver)
}

// ListenAndServe answers on addr (UDP and TCP) until ctx is done.
func (s *Server) ListenAndServe(ctx context.Context, addr string) error {
	pc, err := net.ListenPacket("udp", addr)
	if err != nil {
		return fmt.Errorf("dns: %w", err)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		pc.Close()
		return fmt.Errorf("dns: %w", err)
	}
	return s.Serve(ctx, pc, ln)
}

// Serve answers on pc and ln until ctx is done; it closes them.
func (s *Server) Serve(ctx context.Context, pc net.PacketConn, ln net.Listener) error {
	udp := &mdns.Server{PacketConn: pc, Handler: s}
	tcp := &mdns.Server{Listener: ln, Handler: s}
	var wg sync.WaitGroup
	errc := make(chan error, 2)
	for _, srv := range []*mdns.Server{udp, tcp} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := srv.ActivateAndServe(); err != nil && ctx.Err() == nil {
				errc <- err
			}
		}()
	}
	select {
	case <-ctx.Done():
	case err := <-errc:
		_ = udp.Shutdown()
		_ = tcp.Shutdown()
		wg.Wait()
		return fmt.Errorf("dns: %w", err)
	}
	_ = udp.Shutdown()
	_ = tcp.Shutdown()
	wg.Wait()
	return nil
}

// ServeDNS answers one query.
func (s *Server) ServeDNS(w mdns.ResponseWriter, req *mdns.Msg) {
	if len(req.Question) != 1 {
		m := new(mdns.Msg)
		m.SetRcode(req, mdns.RcodeFormatError)
		_ = w.WriteMsg(m)
		return
	}
	q := req.Question[0]
	name := strings.ToLower(q.Name)
	if !mdns.IsSubDomain(s.cfg.Domain+".", name) {
		s.forward(w, req)
		return
	}
	m := new(mdns.Msg)
	m.SetReply(req)
	m.Authoritative = true
	answers, exists := s.resolve(name, q.Qtype)
	switch {
	case len(answers) > 0:
		m.Answer = answers
	case !exists:
		m.Rcode = mdns.RcodeNameError
	}
	_ = w.WriteMsg(m)
}

// forward relays a query to the first upstream that answers.
func (s *Server) forward(w mdns.ResponseWriter, req *mdns.Msg) {
	network := "udp"
	if _, ok := w.RemoteAddr().(*net.TCPAddr); ok {
		network = "tcp"
	}
	c := *s.client
	c.Net = network
	for _, up := range s.cfg.Upstreams {
		resp, _, err := c.Exchange(req, up)
		if err == nil && resp != nil {
			_ = w.WriteMsg(resp)
			return
		}
		s.log.Debug("upstream failed", "upstream", up, "err", err)
	}
	m := new(mdns.Msg)
	m.SetRcode(req, mdns.RcodeServerFailure)
	_ = w.WriteMsg(m)
}

// resolve answers a name in the cluster domain; exists reports whether the
// name exists at all (for NXDOMAIN versus an empty answer).
func (s *Server) resolve(name string, qtype uint16) (answers []mdns.RR, exists bool) {
	rel := strings.TrimSuffix(strings.TrimSuffix(name, "."+s.cfg.Domain+"."), ".")
	labelsOf := strings.Split(rel, ".")
	// <svc>.<ns>.svc  or  _<port>._<proto>.<svc>.<ns>.svc
	n := len(labelsOf)
	if n < 3 || labelsOf[n-1] != "svc" {
		// svc.<domain>, <ns>.svc.<domain> and the domain itself exist.
		return nil, rel == "svc" || (n == 2 && labelsOf[1] == "svc") || name == s.cfg.Domain+"."
	}
	svcName, ns := labelsOf[n-3], labelsOf[n-2]
	svc, err := s.cfg.Services.Services(ns).Get(svcName)
	if err != nil || svc.Spec.Type == corev1.ServiceTypeExternalName {
		return nil, false
	}
	svcFQDN := fmt.Sprintf("%s.%s.svc.%s.", svcName, ns, s.cfg.Domain)
	switch n {
	case 3:
		if qtype != mdns.TypeA && qtype != mdns.TypeANY {
			return nil, true
		}
		for _, ip := range s.addresses(svc) {
			answers = append(answers, &mdns.A{Hdr: mdns.RR_Header{Name: name, Rrtype: mdns.TypeA, Class: mdns.ClassINET, Ttl: ttl}, A: ip.AsSlice()})
		}
		return answers, true
	case 5:
		portLabel, protoLabel := labelsOf[0], labelsOf[1]
		if !strings.HasPrefix(portLabel, "_") || !strings.HasPrefix(protoLabel, "_") {
			return nil, false
		}
		for _, sp := range svc.Spec.Ports {
			proto := strings.ToLower(string(sp.Protocol))
			if proto == "" {
				proto = "tcp"
			}
			if sp.Name == "" || "_"+sp.Name != portLabel || "_"+proto != protoLabel {
				continue
			}
			if qtype != mdns.TypeSRV && qtype != mdns.TypeANY {
				return nil, true
			}
			answers = append(answers, &mdns.SRV{Hdr: mdns.RR_Header{Name: name, Rrtype: mdns.TypeSRV, Class: mdns.ClassINET, Ttl: ttl},
				Priority: 0, Weight: 100, Port: uint16(sp.Port), Target: svcFQDN})
			return answers, true
		}
	}
	return nil, false
}

// addresses are the A records of a Service: its ClusterIP, or the ready
// endpoints of a headless one.
func (s *Server) addresses(svc *corev1.Service) []netip.Addr {
	if ip, err := netip.ParseAddr(svc.Spec.ClusterIP); err == nil && ip.Is4() {
		return []netip.Addr{ip}
	}
	if svc.Spec.ClusterIP != corev1.ClusterIPNone {
		return nil
	}
	slices, err := s.cfg.EndpointSlices.EndpointSlices(svc.Namespace).List(labels.SelectorFromSet(labels.Set{discoveryv1.LabelServiceName: svc.Name}))
	if err != nil {
		return nil
	}
	seen := map[netip.Addr]bool{}
	var out []netip.Addr
	for _, sl := range slices {
		if sl.AddressType != discoveryv1.AddressTypeIPv4 {
			continue
		}
		for _, e := range sl.Endpoints {
			if e.Conditions.Ready != nil && !*e.Conditions.Ready {
				continue
			}
			for _, a := range e.Addresses {
				if ip, err := netip.ParseAddr(a); err == nil && !seen[ip] {
					seen[ip] = true
					out = append(out, ip)
				}
			}
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Less(out[j]) })
	return out
}
