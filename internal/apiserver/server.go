package apiserver

import (
	"context"
	"crypto/tls"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/pprof"
	"net/netip"
	"strings"
	"sync/atomic"
	"time"

	"github.com/berth-dev/berth/internal/apiserver/registry"
	"github.com/berth-dev/berth/internal/store"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// DefaultMaxBodyBytes is the largest request body accepted (3 MiB, as in
// Kubernetes); larger bodies get 413.
const DefaultMaxBodyBytes = 3 << 20

// DefaultEventTTL is Config.EventTTL's default: an hour, as Kubernetes'.
const DefaultEventTTL = time.Hour

// ttlOf is how long the objects of res live after their last write (0:
// for ever).
func (s *Server) ttlOf(res *registry.Resource) time.Duration {
	if res.Expiring {
		return s.cfg.EventTTL
	}
	return 0
}

// Config configures a Server.
type Config struct {
	// Store is the etcd store that holds every object.
	Store *store.Store
	// Resources are the served resources; registry.All() when nil.
	Resources []*registry.Resource
	// Tokens maps bearer tokens to the user names they authenticate.
	Tokens map[string]string
	// ServiceCIDR is the range ClusterIPs are allocated from.
	ServiceCIDR netip.Prefix
	// NodePortMin and NodePortMax bound allocated node ports (inclusive).
	NodePortMin, NodePortMax int
	// MaxBodyBytes caps request bodies; DefaultMaxBodyBytes when zero.
	MaxBodyBytes int64
	// Version is reported by /version.
	Version string
	// Logger receives the server's logs.
	Logger *slog.Logger
	// Ready reports whether the server may answer /readyz with 200.
	Ready func() bool
	// EventTTL is how long an event is kept after its last write
	// (DefaultEventTTL when zero), as kube-apiserver's --event-ttl: etcd
	// deletes it through a lease. It applies to the resources marked
	// registry.Resource.Expiring.
	EventTTL time.Duration
	// AgentTLS is the TLS configuration for node agents' endpoints, with
	// the API server's client certificate (pki.LoadOrCreateAgentClient);
	// each agent's serving certificate is checked against the fingerprint
	// its Node publishes (nodeapi.CertAnnotation). Without it pod logs,
	// exec, metrics.k8s.io and custom.metrics.k8s.io are unavailable.
	AgentTLS *tls.Config
}

// Server is the HTTP API server. Create it with New.
type Server struct {
	cfg     Config
	store   *store.Store
	log     *slog.Logger
	metrics *metrics
	alloc   *allocator
	// namespaces caches recently seen Active namespaces for creates.
	namespaces namespaceCache
	priorities priorityClasses
	// resMetrics are the agents' latest resource metrics.
	resMetrics metricsStore
	// svcRates are the service proxies' traffic rates.
	svcRates serviceRates
	// scrapeEvery is the current scrape interval (a time.Duration; 0
	// before the first pass).
	scrapeEvery atomic.Int64
	// agents caches a transport per node agent.
	agents agentTransports
	// decodedObjs shares decoded stored objects between requests and
	// watches (decoded.go).
	decodedObjs decodedCache

	// byPath finds a resource by group, version and plural name.
	byPath map[schema.GroupVersionResource]*registry.Resource
	// storage finds the resource whose type objects are stored as, by group
	// and resource name.
	storage map[schema.GroupResource]*registry.Resource
	groups  []groupVersions
	mux     *http.ServeMux
}

type groupVersions struct {
	group    string
	versions []string // preferred first
}

// New returns a Server for cfg.
func New(cfg Config) (*Server, error) {
	if cfg.Store == nil {
		return nil, fmt.Errorf("apiserver: Config.Store is required")
	}
	if cfg.Resources == nil {
		cfg.Resources = registry.All()
	}
	if cfg.MaxBodyBytes == 0 {
		cfg.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if !cfg.ServiceCIDR.IsValid() {
		cfg.ServiceCIDR = netip.MustParsePrefix("10.43.0.0/16")
	}
	if cfg.NodePortMin == 0 {
		cfg.NodePortMin, cfg.NodePortMax = 30000, 32767
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Version == "" {
		cfg.Version = "v0.0.0-dev"
	}
	if cfg.EventTTL == 0 {
		cfg.EventTTL = DefaultEventTTL
	}
	if cfg.EventTTL < time.Second {
		return nil, fmt.Errorf("apiserver: event TTL %v is shorter than a second", cfg.EventTTL)
	}
	s := &Server{
		cfg:     cfg,
		store:   cfg.Store,
		log:     cfg.Logger,
		metrics: newMetrics(),
		byPath:  map[schema.GroupVersionResource]*registry.Resource{},
		storage: map[schema.GroupResource]*registry.Resource{},
	}
	s.alloc = &allocator{store: cfg.Store, cidr: cfg.ServiceCIDR, portMin: cfg.NodePortMin, portMax: cfg.NodePortMax}
	seen := map[string]int{}
	for _, r := range cfg.Resources {
		gv := r.GroupVersion
		s.byPath[gv.WithResource(r.Resource)] = r
		if r.StorageResource == "" {
			s.storage[schema.GroupResource{Group: gv.Group, Resource: r.Resource}] = r
		}
		i, ok := seen[gv.Group]
		if !ok {
			i = len(s.groups)
			seen[gv.Group] = i
			s.groups = append(s.groups, groupVersions{group: gv.Group})
		}
		if !contains(s.groups[i].versions, gv.Version) {
			s.groups[i].versions = append(s.groups[i].versions, gv.Version)
		}
	}
	s.routes()
	return s, nil
}

func contains(list []string, v string) bool {
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
}

// Handler returns the root HTTP handler (authentication included).
func (s *Server) Handler() http.Handler { return s.mux }

// Bootstrap creates the namespaces every cluster has (default, kube-system,
// kube-public, kube-node-lease) and the cluster DNS Service when they are
// missing.
func (s *Server) Bootstrap(ctx context.Context) error {
	for _, ns := range []string{"default", "kube-system", "kube-public", "kube-node-lease"} {
		if err := s.ensureNamespace(ctx, ns); err != nil {
			return fmt.Errorf("apiserver: bootstrap namespace %s: %w", ns, err)
		}
	}
	if err := s.ensureDNSService(ctx); err != nil {
		return fmt.Errorf("apiserver: bootstrap service kube-system/%s: %w", DNSServiceName, err)
	}
	return nil
}

// DNSServiceName is the Service (in kube-system) whose ClusterIP pods use
// as their nameserver; every node agent's DNS server answers on it.
const DNSServiceName = "kube-dns"

// ensureDNSService creates the kube-dns Service, with the tenth address of
// the service CIDR as its ClusterIP (10.43.0.10 by default, as
// Kubernetes distributions do) unless a Service already took it.
func (s *Server) ensureDNSService(ctx context.Context) error {
	res := s.storage[schema.GroupResource{Resource: "services"}]
	if res == nil {
		return nil
	}
	ip := s.cfg.ServiceCIDR.Masked().Addr()
	for range 10 {
		ip = ip.Next()
	}
	svc := func(clusterIP string) *corev1.Service {
		return &corev1.Service{
			ObjectMeta: metav1.ObjectMeta{Name: DNSServiceName, Namespace: "kube-system",
				Labels: map[string]string{"k8s-app": "kube-dns", "kubernetes.io/name": "CoreDNS"}},
			Spec: corev1.ServiceSpec{ClusterIP: clusterIP, Ports: []corev1.ServicePort{
				{Name: "dns", Protocol: corev1.ProtocolUDP, Port: 53},
				{Name: "dns-tcp", Protocol: corev1.ProtocolTCP, Port: 53},
			}},
		}
	}
	_, err := s.createObject(ctx, res, "kube-system", svc(ip.String()), false)
	if apierrors.IsAlreadyExists(err) {
		return nil
	}
	if apierrors.IsInvalid(err) || apierrors.IsConflict(err) {
		// The address is taken: any other will do.
		_, err = s.createObject(ctx, res, "kube-system", svc(""), false)
		if apierrors.IsAlreadyExists(err) {
			return nil
		}
	}
	return err
}

func (s *Server) routes() {
	mux := http.NewServeMux()
	public := func(h http.HandlerFunc) http.Handler { return s.instrument("health", h) }
	mux.Handle("/healthz", public(s.serveHealth))
	mux.Handle("/livez", public(s.serveHealth))
	mux.Handle("/readyz", public(s.serveReady))
	mux.Handle("/version", public(s.serveVersion))
	mux.Handle("/metrics", s.authenticate(s.metrics.handler()))
	mux.Handle("/debug/pprof/", s.authenticate(http.HandlerFunc(pprof.Index)))
	mux.Handle("/debug/pprof/profile", s.authenticate(http.HandlerFunc(pprof.Profile)))
	mux.Handle("/debug/pprof/trace", s.authenticate(http.HandlerFunc(pprof.Trace)))
	mux.Handle("/openapi/", s.authenticate(s.instrument("openapi", s.serveOpenAPI)))
	mux.Handle("/api", s.authenticate(s.instrument("discovery", s.serveLegacyRoot)))
	mux.Handle("/apis", s.authenticate(s.instrument("discovery", s.serveGroupsRoot)))
	mux.Handle("/api/", s.authenticate(http.HandlerFunc(s.serveAPI)))
	mux.Handle("/apis/", s.authenticate(http.HandlerFunc(s.serveAPI)))
	s.mux = mux
}

func (s *Server) serveHealth(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	_, _ = w.Write([]byte("ok"))
}

func (s *Server) serveReady(w http.ResponseWriter, r *http.Request) {
	ready := s.cfg.Ready == nil || s.cfg.Ready()
	if ready {
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		defer cancel()
		if _, err := s.store.CurrentRevision(ctx); err != nil {
			ready = false
		}
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	if !ready {
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = w.Write([]byte("not ready"))
		return
	}
	_, _ = w.Write([]byte("ok"))
}

func (s *Server) serveVersion(w http.ResponseWriter, r *http.Request) {
	v := strings.TrimPrefix(s.cfg.Version, "v")
	major, minor := "1", "37"
	writeJSON(w, http.StatusOK, map[string]string{
		"major": major, "minor": minor, "gitVersion": "v1.37.0-berth+" + v,
		"gitCommit": "", "gitTreeState": "clean", "buildDate": "", "goVersion": goVersion(),
		"compiler": "gc", "platform": platform(),
	})
}
