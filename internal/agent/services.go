package agent

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/berth-dev/berth/internal/agent/runtime"
	"github.com/berth-dev/berth/internal/atomicfile"
	"github.com/berth-dev/berth/internal/dns"
	"github.com/berth-dev/berth/internal/nodeapi"
	"github.com/berth-dev/berth/internal/proxy"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/informers"
)

// dnsService is the cluster DNS Service the API server bootstraps.
const dnsService = "kube-system/kube-dns"

// ServicesConfig turns on the agent's service proxy and cluster DNS.
type ServicesConfig struct {
	// NodeIPs are the addresses NodePort and LoadBalancer ports listen on
	// (default: the node's InternalIP and 127.0.0.1).
	NodeIPs []string
	// AddressLabel, when set, is the label of the loopback addresses the
	// ClusterIPs are assigned as (root only; proxy.LoopbackAddresses); the
	// proxy then serves ClusterIPs and the DNS server answers on the
	// kube-dns ClusterIP. Empty: NodePorts and LoadBalancers only, and no
	// cluster DNS.
	AddressLabel string
	// Domain is the cluster domain (default cluster.local).
	Domain string
}

// services is the running proxy and DNS.
type services struct {
	mu sync.Mutex
	// nameserver is the kube-dns ClusterIP once the DNS server answers on
	// it ("" until then, or without cluster DNS).
	nameserver string
	domain     string
}

// startServices runs the proxy (and the DNS server) until ctx is done;
// it returns once the caches are synced and the DNS server listens (or
// DNS is off), so that pods started afterwards get the nameserver.
func (a *Agent) startServices(ctx context.Context, wg *sync.WaitGroup, sc *ServicesConfig) error {
	factory := informers.NewSharedInformerFactory(a.cfg.Client, 0)
	nodeIPs := sc.NodeIPs
	if len(nodeIPs) == 0 {
		nodeIPs = []string{a.ip}
		if a.ip != "127.0.0.1" {
			nodeIPs = append(nodeIPs, "127.0.0.1")
		}
	}
	m := proxy.NewMetrics()
	if err := m.Register(a.metrics); err != nil {
		return fmt.Errorf("agent: proxy metrics: %w", err)
	}
	cfg := proxy.Config{Informers: factory, NodeIPs: nodeIPs, Metrics: m, Recorder: a.recorder, Logger: a.log,
		Local: map[string]bool{dnsService: true}}
	if sc.AddressLabel != "" {
		cfg.ClusterIPs = &proxy.LoopbackAddresses{Label: sc.AddressLabel}
	}
	p := proxy.New(cfg)
	a.proxy.Store(p)
	svcLister, sliceLister := factory.Core().V1().Services().Lister(), factory.Discovery().V1().EndpointSlices().Lister()
	wg.Add(1)
	go func() {
		defer wg.Done()
		defer factory.Shutdown()
		if err := p.Run(ctx); err != nil && ctx.Err() == nil {
			a.log.Error("service proxy stopped", "err", err)
		}
	}()
	a.svc = &services{domain: sc.Domain}
	if a.svc.domain == "" {
		a.svc.domain = dns.DefaultDomain
	}
	if sc.AddressLabel == "" {
		return nil
	}
	// Cluster DNS on the kube-dns ClusterIP, once the proxy assigned it.
	// Pods wait for this (their resolv.conf names it), so not for long.
	deadline := time.Now().Add(10 * time.Second)
	var ip string
	for {
		factory.Start(ctx.Done())
		if svc, err := svcLister.Services("kube-system").Get("kube-dns"); err == nil && net.ParseIP(svc.Spec.ClusterIP) != nil && p.Syncs() > 0 {
			ip = svc.Spec.ClusterIP
			break
		}
		if time.Now().After(deadline) {
			a.log.Warn("no cluster DNS: the kube-dns Service or its address did not appear in 10s")
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
	srv, err := dns.New(dns.Config{Services: svcLister, EndpointSlices: sliceLister, Domain: a.svc.domain, Logger: a.log})
	if err != nil {
		return fmt.Errorf("agent: %w", err)
	}
	addr := net.JoinHostPort(ip, "53")
	var pc net.PacketConn
	var ln net.Listener
	for {
		pc, ln, err = listenDNS(addr)
		if err == nil {
			break
		}
		if errors.Is(err, syscall.EADDRINUSE) {
			// Another agent on this machine answers there already.
			a.log.Info("cluster DNS is served by another process on this machine", "addr", addr)
			a.svc.mu.Lock()
			a.svc.nameserver = ip
			a.svc.mu.Unlock()
			return nil
		}
		if time.Now().After(deadline) {
			a.log.Warn("no cluster DNS: cannot listen", "addr", addr, "err", err)
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		if err := srv.Serve(ctx, pc, ln); err != nil {
			a.log.Error("cluster DNS stopped", "err", err)
		}
	}()
	a.svc.mu.Lock()
	a.svc.nameserver = ip
	a.svc.mu.Unlock()
	a.log.Info("cluster DNS serving", "addr", addr)
	return nil
}

func listenDNS(addr string) (net.PacketConn, net.Listener, error) {
	pc, err := net.ListenPacket("udp", addr)
	if err != nil {
		return nil, nil, err
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		pc.Close()
		return nil, nil, err
	}
	return pc, ln, nil
}

// resolvConfMount is the mount of the pod's resolv.conf over
// /etc/resolv.conf when the pod uses the cluster DNS (dnsPolicy
// ClusterFirst, or ClusterFirstWithHostNet, or None with a dnsConfig);
// ok is false when the container keeps the node's.
func (a *Agent) resolvConfMount(pod *corev1.Pod) (m runtime.Mount, ok bool, err error) {
	nameserver, domain := "", dns.DefaultDomain
	if a.svc != nil {
		a.svc.mu.Lock()
		nameserver, domain = a.svc.nameserver, a.svc.domain
		a.svc.mu.Unlock()
	}
	var body string
	switch pod.Spec.DNSPolicy {
	case corev1.DNSDefault:
		return m, false, nil
	case corev1.DNSNone:
		body = customResolvConf(pod.Spec.DNSConfig, nil, nil, nil)
	case corev1.DNSClusterFirstWithHostNet, corev1.DNSClusterFirst, "":
		if nameserver == "" || (pod.Spec.HostNetwork && pod.Spec.DNSPolicy != corev1.DNSClusterFirstWithHostNet) {
			return m, false, nil
		}
		search := []string{pod.Namespace + ".svc." + domain, "svc." + domain, domain}
		body = customResolvConf(pod.Spec.DNSConfig, []string{nameserver}, search, []string{"ndots:5"})
	default:
		return m, false, nil
	}
	path, err := a.resolvConfFile(body)
	if err != nil {
		return m, false, err
	}
	return runtime.Mount{HostPath: path, ContainerPath: "/etc/resolv.conf", ReadOnly: true}, true, nil
}

// resolvConfDir, under the data directory, holds the resolv.conf files
// the containers see: one per content, named by its hash, mounted
// read-only. Pods with the same DNS settings (all pods of a namespace,
// mostly) share one file, written once, where a file and a directory per
// pod were created on every container start: on ext4 each file creation
// costs tens to hundreds of µs of CPU, more without a journal.
const resolvConfDir = "resolv"

// resolvConfFile returns the file in resolvConfDir holding body, writing
// it (a temporary file renamed into place) unless it is there already.
func (a *Agent) resolvConfFile(body string) (string, error) {
	sum := sha256.Sum256([]byte(body))
	path := filepath.Join(a.cfg.DataDir, resolvConfDir, hex.EncodeToString(sum[:12])+".conf")
	if _, ok := a.resolvConfs.Load(path); ok {
		return path, nil
	}
	if b, err := os.ReadFile(path); err != nil || string(b) != body {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			return "", fmt.Errorf("resolv.conf: %w", err)
		}
		if err := atomicfile.Write(path, []byte(body), 0o644); err != nil {
			return "", fmt.Errorf("resolv.conf: %w", err)
		}
	}
	a.resolvConfs.Store(path, struct{}{})
	return path, nil
}

// customResolvConf merges the pod's dnsConfig into the given nameservers,
// search domains and options, as the kubelet does.
func customResolvConf(c *corev1.PodDNSConfig, nameservers, search, options []string) string {
	if c != nil {
		nameservers = append(nameservers, c.Nameservers...)
		search = append(search, c.Searches...)
		for _, o := range c.Options {
			opt := o.Name
			if o.Value != nil {
				opt += ":" + *o.Value
			}
			options = append(options, opt)
		}
	}
	var b strings.Builder
	if len(search) > 0 {
		fmt.Fprintf(&b, "search %s\n", strings.Join(search, " "))
	}
	for _, ns := range nameservers {
		fmt.Fprintf(&b, "nameserver %s\n", ns)
	}
	if len(options) > 0 {
		fmt.Fprintf(&b, "options %s\n", strings.Join(options, " "))
	}
	return b.String()
}

// ServiceMetrics returns the service proxy's cumulative counts per
// Service and endpoint (the endpoint's backend); without the proxy, none.
func (a *Agent) ServiceMetrics() nodeapi.ServiceMetrics {
	p := a.proxy.Load()
	if p == nil {
		return nodeapi.ServiceMetrics{Timestamp: a.now(), Services: []nodeapi.ServiceCount{}}
	}
	c := p.Counts()
	return serviceMetrics(c, a.now())
}

// serviceMetrics converts the proxy's counts into the endpoint's document.
func serviceMetrics(c proxy.Counts, now time.Time) nodeapi.ServiceMetrics {
	out := nodeapi.ServiceMetrics{Timestamp: now, StartTime: c.Since, Services: make([]nodeapi.ServiceCount, 0, len(c.Services))}
	for _, s := range c.Services {
		sc := nodeapi.ServiceCount{Namespace: s.Namespace, Name: s.Name, Requests: s.Requests, Connections: s.Connections}
		for _, e := range s.Endpoints {
			sc.Endpoints = append(sc.Endpoints, nodeapi.EndpointCount{IP: e.IP, Port: e.Port, Requests: e.Requests, Connections: e.Connections})
		}
		out.Services = append(out.Services, sc)
	}
	return out
}
