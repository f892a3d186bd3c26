package proxy

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/berth-dev/berth/internal/controller"
	"github.com/berth-dev/berth/internal/proxy/lb"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/informers"
	corelisters "k8s.io/client-go/listers/core/v1"
	discoverylisters "k8s.io/client-go/listers/discovery/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"
)

// Annotations the proxy reads (validated by the API server; see
// docs/annotations.md).
const (
	AnnotationLBPolicy      = "berth.io/lb-policy"
	AnnotationLBMode        = "berth.io/lb-mode"
	AnnotationProxyProtocol = "berth.io/proxy-protocol"
	AnnotationLBWeight      = "berth.io/lb-weight"
)

// AddressAssigner puts the ClusterIPs the proxy listens on onto the node
// (a dummy interface), so that binding to them works and traffic to them
// is delivered locally.
type AddressAssigner interface {
	// Sync makes ips exactly the assigned addresses.
	Sync(ctx context.Context, ips []netip.Addr) error
}

// Config configures a Proxier.
type Config struct {
	// Informers provides Services, EndpointSlices and Pods (for weights);
	// Run starts it and waits for its caches.
	Informers informers.SharedInformerFactory
	// Local names Services ("namespace/name") the agent serves itself
	// (the cluster DNS): their ClusterIPs are assigned, but not listened
	// on by the proxy.
	Local map[string]bool
	// NodeIPs are the addresses NodePort and LoadBalancer ports listen on
	// (e.g. the node's InternalIP and 127.0.0.1).
	NodeIPs []string
	// ClusterIPs assigns ClusterIPs and listens on them; nil skips
	// ClusterIPs (without root).
	ClusterIPs AddressAssigner
	// Metrics receives the forwarding figures (default: fresh, unregistered).
	Metrics *Metrics
	// Recorder reports ports that cannot be bound, on their Service.
	Recorder record.EventRecorder
	// Logger receives logs (default slog.Default()).
	Logger *slog.Logger
}

// Proxier keeps one listener per Service address and port, forwarding to
// the Service's ready endpoints.
type Proxier struct {
	cfg    Config
	log    *slog.Logger
	fwd    *Forwarder
	svcs   corelisters.ServiceLister
	slices discoverylisters.EndpointSliceLister
	pods   corelisters.PodLister

	mu        sync.Mutex
	listeners map[listenerKey]*listener
	balancers map[string]*balancerEntry
	// failed remembers listeners that could not bind, so the event is sent once.
	failed map[listenerKey]string
	synced atomic.Int64
}

// listenerKey identifies a listening socket.
type listenerKey struct {
	proto corev1.Protocol
	addr  string // ip:port
	mode  string // tcp listeners: ModeTCP or ModeHTTP
}

type listener struct {
	port   atomic.Pointer[Port]
	cancel context.CancelFunc
	done   chan struct{}
}

type balancerEntry struct {
	b       *lb.Balancer
	policy  string
	timeout time.Duration // affinity (0: none)
}

// New returns a Proxier; Run starts it.
func New(cfg Config) *Proxier {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Metrics == nil {
		cfg.Metrics = NewMetrics()
	}
	log := cfg.Logger.With("component", "proxy")
	return &Proxier{cfg: cfg, log: log, fwd: &Forwarder{Metrics: cfg.Metrics, Logger: log},
		listeners: map[listenerKey]*listener{}, balancers: map[string]*balancerEntry{}, failed: map[listenerKey]string{}}
}

// Run watches Services, EndpointSlices and Pods and keeps the listeners in
// step until ctx is done; then it closes them.
func (p *Proxier) Run(ctx context.Context) error {
	factory := p.cfg.Informers
	if factory == nil {
		return errors.New("proxy: Config.Informers is required")
	}
	svcInf, sliceInf := factory.Core().V1().Services(), factory.Discovery().V1().EndpointSlices()
	podInf := factory.Core().V1().Pods()
	// Only the weight annotation of pods matters: keep nothing else.
	if err := podInf.Informer().SetTransform(func(obj any) (any, error) {
		pod, ok := obj.(*corev1.Pod)
		if !ok {
			return obj, nil
		}
		slim := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: pod.Name, Namespace: pod.Namespace, UID: pod.UID, ResourceVersion: pod.ResourceVersion}}
		if w, ok := pod.Annotations[AnnotationLBWeight]; ok {
			slim.Annotations = map[string]string{AnnotationLBWeight: w}
		}
		return slim, nil
	}); err != nil {
		return fmt.Errorf("proxy: %w", err)
	}
	p.svcs, p.slices, p.pods = svcInf.Lister(), sliceInf.Lister(), podInf.Lister()
	q := controller.NewQueue("proxy", p.log, p.sync)
	all := cache.ResourceEventHandlerFuncs{
		AddFunc:    func(any) { q.Add("all") },
		UpdateFunc: func(any, any) { q.Add("all") },
		DeleteFunc: func(any) { q.Add("all") },
	}
	for _, inf := range []cache.SharedIndexInformer{svcInf.Informer(), sliceInf.Informer()} {
		if _, err := inf.AddEventHandler(all); err != nil {
			return fmt.Errorf("proxy: %w", err)
		}
	}
	// A pod matters only through its weight: every other pod change (most
	// of them status updates) would cost a full sync for nothing.
	if _, err := podInf.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc: func(obj any) {
			if _, ok := weightAnnotation(obj); ok {
				q.Add("all")
			}
		},
		UpdateFunc: func(old, cur any) {
			if weightChanged(old, cur) {
				q.Add("all")
			}
		},
		DeleteFunc: func(obj any) {
			if _, ok := weightAnnotation(obj); ok {
				q.Add("all")
			}
		},
	}); err != nil {
		return fmt.Errorf("proxy: %w", err)
	}
	factory.Start(ctx.Done())
	for typ, ok := range factory.WaitForCacheSync(ctx.Done()) {
		if !ok {
			return fmt.Errorf("proxy: informer for %v did not sync", typ)
		}
	}
	q.Add("all")
	q.Run(ctx, 1)
	p.closeAll()
	return nil
}

// weightAnnotation returns a pod's weight annotation; a deleted pod whose
// last state is unknown counts as having one (a sync decides).
func weightAnnotation(obj any) (string, bool) {
	switch o := obj.(type) {
	case *corev1.Pod:
		w, ok := o.Annotations[AnnotationLBWeight]
		return w, ok
	case cache.DeletedFinalStateUnknown:
		if pod, ok := o.Obj.(*corev1.Pod); ok {
			w, ok := pod.Annotations[AnnotationLBWeight]
			return w, ok
		}
		return "", true
	}
	return "", false
}

// weightChanged tells whether a pod update changed its weight annotation.
func weightChanged(old, cur any) bool {
	o, ook := weightAnnotation(old)
	c, cok := weightAnnotation(cur)
	return o != c || ook != cok
}

// Syncs is how many times the listeners were reconciled (tests).
func (p *Proxier) Syncs() int64 { return p.synced.Load() }

// Counts returns a snapshot of the cumulative requests and connections
// forwarded per Service and endpoint (Metrics.Counts).
func (p *Proxier) Counts() Counts { return p.cfg.Metrics.Counts() }

// want is one desired listener.
type want struct {
	port *Port
	svc  *corev1.Service
}

// sync reconciles every listener with the Services.
func (p *Proxier) sync(ctx context.Context, _ string) error {
	svcs, err := p.svcs.List(labels.Everything())
	if err != nil {
		return err
	}
	sort.Slice(svcs, func(i, j int) bool { return svcs[i].Namespace+"/"+svcs[i].Name < svcs[j].Namespace+"/"+svcs[j].Name })
	desired := map[listenerKey]want{}
	usedBalancers := map[string]bool{}
	var clusterIPs []netip.Addr
	for _, svc := range svcs {
		if svc.Spec.Type == corev1.ServiceTypeExternalName {
			continue
		}
		policy, _ := lb.ParsePolicy(svc.Annotations[AnnotationLBPolicy]) // validated by the API
		mode := ModeTCP
		if svc.Annotations[AnnotationLBMode] == ModeHTTP {
			mode = ModeHTTP
		}
		var timeout time.Duration
		if svc.Spec.SessionAffinity == corev1.ServiceAffinityClientIP {
			timeout = 3 * time.Hour
			if c := svc.Spec.SessionAffinityConfig; c != nil && c.ClientIP != nil && c.ClientIP.TimeoutSeconds != nil {
				timeout = time.Duration(*c.ClientIP.TimeoutSeconds) * time.Second
			}
		}
		cip, cipErr := netip.ParseAddr(svc.Spec.ClusterIP)
		if p.cfg.Local[svc.Namespace+"/"+svc.Name] {
			if p.cfg.ClusterIPs != nil && cipErr == nil {
				clusterIPs = append(clusterIPs, cip)
			}
			continue
		}
		for _, sp := range svc.Spec.Ports {
			name := fmt.Sprintf("%s/%s:%s", svc.Namespace, svc.Name, portName(sp))
			bal := p.balancer(name, policy, timeout)
			usedBalancers[name] = true
			bal.Update(p.endpoints(svc, sp))
			proto := sp.Protocol
			if proto == "" {
				proto = corev1.ProtocolTCP
			}
			lmode := mode
			if proto != corev1.ProtocolTCP {
				lmode = ""
			}
			port := &Port{Service: name, Mode: mode, ProxyProtocol: svc.Annotations[AnnotationProxyProtocol] == "v2" && proto == corev1.ProtocolTCP, Balancer: bal}
			add := func(ip string, n int32) {
				if n > 0 {
					desired[listenerKey{proto: proto, addr: net.JoinHostPort(ip, strconv.Itoa(int(n))), mode: lmode}] = want{port: port, svc: svc}
				}
			}
			if p.cfg.ClusterIPs != nil && cipErr == nil {
				clusterIPs = append(clusterIPs, cip)
				add(cip.String(), sp.Port)
			}
			if svc.Spec.Type == corev1.ServiceTypeNodePort || svc.Spec.Type == corev1.ServiceTypeLoadBalancer {
				for _, ip := range p.cfg.NodeIPs {
					add(ip, sp.NodePort)
				}
			}
			if svc.Spec.Type == corev1.ServiceTypeLoadBalancer {
				for _, ip := range p.cfg.NodeIPs {
					add(ip, sp.Port)
				}
			}
		}
	}
	if p.cfg.ClusterIPs != nil {
		if err := p.cfg.ClusterIPs.Sync(ctx, uniqueAddrs(clusterIPs)); err != nil {
			p.log.Warn("cannot assign ClusterIPs", "err", err)
		}
	}
	retry := p.apply(ctx, desired)
	p.mu.Lock()
	for name := range p.balancers {
		if !usedBalancers[name] {
			delete(p.balancers, name)
			p.cfg.Metrics.Forget(name)
		}
	}
	p.mu.Unlock()
	p.synced.Add(1)
	if retry {
		return controller.RequeueAfter{Delay: 10 * time.Second}
	}
	return nil
}

func portName(sp corev1.ServicePort) string {
	if sp.Name != "" {
		return sp.Name
	}
	return strconv.Itoa(int(sp.Port))
}

func uniqueAddrs(in []netip.Addr) []netip.Addr {
	seen := map[netip.Addr]bool{}
	var out []netip.Addr
	for _, a := range in {
		if !seen[a] {
			seen[a] = true
			out = append(out, a)
		}
	}
	return out
}

// balancer returns the balancer of a Service port, new when its policy or
// affinity changed.
func (p *Proxier) balancer(name, policy string, timeout time.Duration) *lb.Balancer {
	p.mu.Lock()
	defer p.mu.Unlock()
	if e, ok := p.balancers[name]; ok && e.policy == policy && e.timeout == timeout {
		return e.b
	}
	b, err := lb.New(lb.Config{Policy: policy, Affinity: timeout > 0, AffinityTimeout: timeout})
	if err != nil { // the policy was parsed: cannot happen
		b, _ = lb.New(lb.Config{})
	}
	p.balancers[name] = &balancerEntry{b: b, policy: policy, timeout: timeout}
	return b
}

// endpoints are the ready endpoints of a Service port from its
// EndpointSlices (terminating ones are not ready: they only drain).
func (p *Proxier) endpoints(svc *corev1.Service, sp corev1.ServicePort) []lb.Endpoint {
	slices, err := p.slices.EndpointSlices(svc.Namespace).List(labels.SelectorFromSet(labels.Set{discoveryv1.LabelServiceName: svc.Name}))
	if err != nil {
		return nil
	}
	var out []lb.Endpoint
	for _, s := range slices {
		var port int32
		found := false
		for _, pp := range s.Ports {
			if pp.Port != nil && ptrOr(pp.Name, "") == sp.Name && (pp.Protocol == nil || *pp.Protocol == sp.Protocol || sp.Protocol == "") {
				port, found = *pp.Port, true
				break
			}
		}
		if !found {
			continue
		}
		for _, e := range s.Endpoints {
			if e.Conditions.Ready != nil && !*e.Conditions.Ready || len(e.Addresses) == 0 {
				continue
			}
			weight := 1
			if e.TargetRef != nil && e.TargetRef.Kind == "Pod" {
				if pod, err := p.pods.Pods(e.TargetRef.Namespace).Get(e.TargetRef.Name); err == nil {
					if w, err := lb.ParseWeight(pod.Annotations[AnnotationLBWeight]); err == nil {
						weight = w
					}
				}
			}
			out = append(out, lb.Endpoint{Addr: net.JoinHostPort(e.Addresses[0], strconv.Itoa(int(port))), Weight: weight})
		}
	}
	return out
}

func ptrOr[T any](p *T, def T) T {
	if p == nil {
		return def
	}
	return *p
}

// apply opens, updates and closes listeners; it reports whether some
// could not be opened (to be retried).
func (p *Proxier) apply(ctx context.Context, desired map[listenerKey]want) (retry bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for k, l := range p.listeners {
		if _, ok := desired[k]; !ok {
			l.cancel()
			<-l.done
			delete(p.listeners, k)
		}
	}
	for k := range p.failed {
		if _, ok := desired[k]; !ok {
			delete(p.failed, k)
		}
	}
	for k, w := range desired {
		if l, ok := p.listeners[k]; ok {
			l.port.Store(w.port)
			continue
		}
		l, err := p.open(ctx, k, w.port)
		if err != nil {
			retry = true
			msg := err.Error()
			if p.failed[k] != msg {
				p.failed[k] = msg
				p.log.Warn("cannot listen for a service", "service", w.port.Service, "addr", k.addr, "err", err)
				if p.cfg.Recorder != nil {
					p.cfg.Recorder.Eventf(w.svc, corev1.EventTypeWarning, "PortInUse", "Cannot serve %s %s on this node: %v", k.proto, k.addr, err)
				}
			}
			continue
		}
		delete(p.failed, k)
		p.listeners[k] = l
	}
	return retry
}

// open starts a listener for k.
func (p *Proxier) open(ctx context.Context, k listenerKey, port *Port) (*listener, error) {
	lctx, cancel := context.WithCancel(ctx)
	l := &listener{cancel: cancel, done: make(chan struct{})}
	l.port.Store(port)
	switch k.proto {
	case corev1.ProtocolTCP:
		ln, err := net.Listen("tcp", k.addr)
		if err != nil {
			cancel()
			return nil, err
		}
		go func() {
			defer close(l.done)
			if k.mode == ModeHTTP {
				_ = p.fwd.ServeHTTPMode(lctx, ln, l.port.Load)
				return
			}
			_ = p.fwd.ServeTCP(lctx, ln, l.port.Load)
		}()
	case corev1.ProtocolUDP:
		pc, err := net.ListenPacket("udp", k.addr)
		if err != nil {
			cancel()
			return nil, err
		}
		go func() {
			defer close(l.done)
			_ = p.fwd.ServeUDP(lctx, pc, l.port.Load)
		}()
	default:
		cancel()
		return nil, fmt.Errorf("protocol %s is not supported", k.proto)
	}
	return l, nil
}

// closeAll stops every listener.
func (p *Proxier) closeAll() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for k, l := range p.listeners {
		l.cancel()
		<-l.done
		delete(p.listeners, k)
	}
}

// Listening lists the addresses listened on, as "PROTO ip:port" (tests,
// debugging).
func (p *Proxier) Listening() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []string
	for k := range p.listeners {
		out = append(out, string(k.proto)+" "+k.addr)
	}
	sort.Strings(out)
	return out
}
