package endpoint

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/berth-dev/berth/internal/agent/runtime"
	"github.com/berth-dev/berth/internal/nodeapi"
	"github.com/berth-dev/berth/internal/pki"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// Backend is what the agent answers with. Its errors are Kubernetes status
// errors (apierrors) where the caller did something wrong; others are
// reported as internal errors.
type Backend interface {
	// ContainerLogs writes a container's log to w; previous selects the
	// instance before the current one. It returns a status error before
	// writing anything when the container cannot be found.
	ContainerLogs(ctx context.Context, namespace, pod, container string, previous bool, opts runtime.LogOptions, w io.Writer) error
	// Exec runs cmd in the container and returns its exit code.
	Exec(ctx context.Context, namespace, pod, container string, cmd []string, stdin io.Reader, stdout, stderr io.Writer) (int, error)
	// ResourceMetrics returns the usage figures; when the latest are
	// older than maxAge (> 0) it reads them anew first, waiting for a
	// reading in progress rather than starting a second one.
	ResourceMetrics(ctx context.Context, maxAge time.Duration) nodeapi.ResourceMetrics
	// ServiceMetrics returns the service proxy's cumulative counts (no
	// Services when the agent runs no proxy).
	ServiceMetrics() nodeapi.ServiceMetrics
}

// Config configures a Server.
type Config struct {
	// Backend answers the requests.
	Backend Backend
	// CAPEM is the cluster CA; callers' client certificates must be
	// signed by it.
	CAPEM []byte
	// Certificate is the serving certificate (e.g. pki.SelfSigned).
	Certificate tls.Certificate
	// Metrics, when set, answers nodeapi.MetricsPath (the agent's
	// Prometheus metrics, e.g. the service proxy's).
	Metrics http.Handler
	// Logger receives what the endpoint logs (default slog.Default()).
	Logger *slog.Logger
}

// Server is the agent's HTTPS endpoint.
type Server struct {
	cfg  Config
	log  *slog.Logger
	http *http.Server
	ln   net.Listener
}

// Listen validates cfg and listens on addr (":10250"; port 0 picks a free
// one); Serve then answers requests.
func Listen(addr string, cfg Config) (*Server, error) {
	if cfg.Backend == nil {
		return nil, errors.New("endpoint: a backend is required")
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(cfg.CAPEM) {
		return nil, errors.New("endpoint: the cluster CA certificate is missing or not PEM")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("endpoint: listen on %s: %w", addr, err)
	}
	s := &Server{cfg: cfg, log: cfg.Logger.With("component", "agent-endpoint"), ln: ln}
	s.http = &http.Server{
		Handler:           s.Handler(),
		ReadHeaderTimeout: 30 * time.Second,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelDebug),
		TLSConfig: &tls.Config{
			Certificates: []tls.Certificate{cfg.Certificate},
			ClientAuth:   tls.RequireAndVerifyClientCert,
			ClientCAs:    pool,
			MinVersion:   tls.VersionTLS12,
			NextProtos:   []string{"http/1.1"},
		},
	}
	return s, nil
}

// Port is the port the endpoint listens on.
func (s *Server) Port() int { return s.ln.Addr().(*net.TCPAddr).Port }

// Serve answers requests until ctx is done, then closes the listener and
// open connections (streams in progress end).
func (s *Server) Serve(ctx context.Context) error {
	done := make(chan struct{})
	defer close(done)
	go func() {
		select {
		case <-ctx.Done():
			_ = s.http.Close()
		case <-done:
		}
	}()
	if err := s.http.ServeTLS(s.ln, "", ""); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("endpoint: %w", err)
	}
	return nil
}

// Handler routes the endpoint's paths; it checks the caller's certificate
// name (the TLS layer has verified the chain).
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc(nodeapi.HealthzPath, func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "ok") })
	mux.HandleFunc(nodeapi.ResourceMetricsPath, s.serveMetrics)
	mux.HandleFunc(nodeapi.ServiceMetricsPath, s.serveServiceMetrics)
	mux.HandleFunc(nodeapi.ContainerLogsPrefix, s.serveLogs)
	mux.HandleFunc(nodeapi.ExecPrefix, s.serveExec)
	if s.cfg.Metrics != nil {
		mux.Handle(nodeapi.MetricsPath, s.cfg.Metrics)
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.TLS == nil || len(r.TLS.PeerCertificates) == 0 || r.TLS.PeerCertificates[0].Subject.CommonName != pki.AgentClientName {
			writeStatus(w, apierrors.NewForbidden(nodeGR, r.URL.Path, errors.New("only the API server may call the agent")))
			return
		}
		mux.ServeHTTP(w, r)
	})
}

func (s *Server) serveMetrics(w http.ResponseWriter, r *http.Request) {
	var maxAge time.Duration
	if v := r.URL.Query().Get(nodeapi.MaxAgeParam); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d < 0 {
			writeStatus(w, apierrors.NewBadRequest(fmt.Sprintf("%s=%q: not a non-negative duration such as 1s or 15s", nodeapi.MaxAgeParam, v)))
			return
		}
		maxAge = max(d, nodeapi.MinMaxAge)
	}
	m := s.cfg.Backend.ResourceMetrics(r.Context(), maxAge)
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(m)
}

func (s *Server) serveServiceMetrics(w http.ResponseWriter, _ *http.Request) {
	m := s.cfg.Backend.ServiceMetrics()
	if m.Services == nil {
		m.Services = []nodeapi.ServiceCount{}
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(m)
}

// containerOf splits <prefix><namespace>/<pod>/<container>.
func containerOf(prefix string, u *url.URL) (ns, pod, container string, err error) {
	rest := strings.TrimPrefix(u.EscapedPath(), prefix)
	parts := strings.Split(rest, "/")
	if len(parts) != 3 {
		return "", "", "", apierrors.NewBadRequest(fmt.Sprintf("want %s<namespace>/<pod>/<container>, got %s", prefix, u.Path))
	}
	out := make([]string, 3)
	for i, p := range parts {
		if out[i], err = url.PathUnescape(p); err != nil || out[i] == "" {
			return "", "", "", apierrors.NewBadRequest(fmt.Sprintf("bad path element %q in %s", p, u.Path))
		}
	}
	return out[0], out[1], out[2], nil
}

// writeStatus writes err as a metav1.Status document.
func writeStatus(w http.ResponseWriter, err error) {
	var st apierrors.APIStatus
	if !errors.As(err, &st) {
		st = apierrors.NewInternalError(err)
	}
	status := st.Status()
	status.Kind, status.APIVersion = "Status", "v1"
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(int(status.Code))
	_ = json.NewEncoder(w).Encode(&status)
}

// nodeGR names what a Forbidden error is about.
var nodeGR = schema.GroupResource{Resource: "nodes/proxy"}
