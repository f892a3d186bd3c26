package apiserver

import (
	"fmt"
	"net/http"
	"runtime/debug"
	"strings"

	"github.com/berth-dev/berth/internal/apiserver/registry"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// request is one parsed resource request.
type request struct {
	verb      string // get list watch create update patch delete deletecollection
	res       *registry.Resource
	namespace string
	name      string
	sub       string // subresource: status, scale, binding
	subpath   string // the path after nodes/<name>/proxy
	w         http.ResponseWriter
	r         *http.Request
}

func (q *request) gr() schema.GroupResource {
	return schema.GroupResource{Group: q.res.GroupVersion.Group, Resource: q.res.Resource}
}

// parseRequest splits /api/v1/... and /apis/<group>/<version>/... paths into
// a request. ok=false with err=nil means "not a resource path" (discovery).
func (s *Server) parseRequest(w http.ResponseWriter, r *http.Request) (*request, bool, error) {
	parts := splitPath(r.URL.Path)
	var gv schema.GroupVersion
	switch {
	case len(parts) >= 2 && parts[0] == "api":
		gv, parts = schema.GroupVersion{Version: parts[1]}, parts[2:]
	case len(parts) >= 3 && parts[0] == "apis":
		gv, parts = schema.GroupVersion{Group: parts[1], Version: parts[2]}, parts[3:]
	default:
		return nil, false, nil
	}
	if len(parts) == 0 {
		return nil, false, nil
	}
	watch := false
	if parts[0] == "watch" {
		watch, parts = true, parts[1:]
		if len(parts) == 0 {
			return nil, false, apierrors.NewNotFound(schema.GroupResource{}, "watch")
		}
	}
	q := &request{w: w, r: r}
	if parts[0] == "namespaces" && len(parts) >= 3 && !isNamespaceSub(parts) {
		q.namespace, parts = parts[1], parts[2:]
	}
	res, ok := s.byPath[gv.WithResource(parts[0])]
	if !ok {
		return nil, true, apierrors.NewNotFound(schema.GroupResource{Group: gv.Group, Resource: parts[0]}, "")
	}
	q.res = res
	if len(parts) > 1 {
		q.name = parts[1]
	}
	if len(parts) > 2 {
		q.sub = parts[2]
	}
	if q.sub == "proxy" && len(parts) > 3 {
		q.subpath, parts = "/"+strings.Join(parts[3:], "/"), parts[:3]
	}
	if len(parts) > 3 || (q.sub != "" && !contains(res.Subresources, q.sub)) {
		return nil, true, apierrors.NewNotFound(q.gr(), q.name)
	}
	if res.Namespaced && q.namespace == "" && q.name != "" {
		return nil, true, apierrors.NewNotFound(q.gr(), q.name)
	}
	if !res.Namespaced && q.namespace != "" {
		return nil, true, apierrors.NewNotFound(q.gr(), q.name)
	}
	if r.URL.Query().Get("watch") == "true" || r.URL.Query().Get("watch") == "1" {
		watch = true
	}
	q.verb = verbFor(r.Method, q.name != "", watch)
	if q.verb == "" {
		return nil, true, apierrors.NewMethodNotSupported(q.gr(), r.Method)
	}
	return q, true, nil
}

// isNamespaceSub reports whether /namespaces/<name>/<x> addresses a
// subresource of the namespace itself rather than a namespaced resource.
func isNamespaceSub(parts []string) bool {
	return len(parts) == 3 && (parts[2] == "status" || parts[2] == "finalize")
}

func splitPath(p string) []string {
	var out []string
	for _, s := range strings.Split(p, "/") {
		if s != "" {
			out = append(out, s)
		}
	}
	return out
}

func verbFor(method string, named, watch bool) string {
	switch method {
	case http.MethodGet, http.MethodHead:
		switch {
		case watch:
			return "watch"
		case named:
			return "get"
		}
		return "list"
	case http.MethodPost:
		return "create"
	case http.MethodPut:
		if named {
			return "update"
		}
	case http.MethodPatch:
		if named {
			return "patch"
		}
	case http.MethodDelete:
		if named {
			return "delete"
		}
		return "deletecollection"
	}
	return ""
}

// serveAPI handles everything under /api/ and /apis/.
func (s *Server) serveAPI(w http.ResponseWriter, r *http.Request) {
	if s.cfg.AgentTLS != nil && (r.URL.Path == "/apis/"+metricsGV.Group || strings.HasPrefix(r.URL.Path, "/apis/"+metricsGV.Group+"/")) {
		s.instrument("metrics.k8s.io", s.serveResourceMetrics).ServeHTTP(w, r)
		return
	}
	if s.cfg.AgentTLS != nil && (r.URL.Path == "/apis/"+customMetricsGroup || strings.HasPrefix(r.URL.Path, "/apis/"+customMetricsGroup+"/")) {
		s.instrument(customMetricsGroup, s.serveCustomMetrics).ServeHTTP(w, r)
		return
	}
	q, ok, err := s.parseRequest(w, r)
	if !ok && err == nil {
		s.instrument("discovery", s.serveDiscovery).ServeHTTP(w, r)
		return
	}
	resource, verb := "unknown", "unknown"
	if q != nil {
		resource, verb = q.res.Resource, q.verb
		if q.sub != "" {
			resource += "/" + q.sub
		}
	}
	done := s.metrics.observe(verb, resource)
	rec := &statusRecorder{ResponseWriter: w, code: http.StatusOK}
	defer func() { done(rec.code) }()
	defer func() {
		// A bug must cost one request, not the server: log it with the stack.
		if p := recover(); p != nil {
			if p == http.ErrAbortHandler {
				panic(p)
			}
			s.log.Error("panic serving request", "method", r.Method, "path", r.URL.Path, "panic", p, "stack", string(debug.Stack()))
			rec.code = http.StatusInternalServerError
			s.writeError(rec, r, apierrors.NewInternalError(fmt.Errorf("internal error while serving %s %s", r.Method, r.URL.Path)))
		}
	}()
	if err != nil {
		s.writeError(rec, r, err)
		return
	}
	q.w = rec
	if r.ContentLength > s.cfg.MaxBodyBytes {
		s.writeError(rec, r, apierrors.NewRequestEntityTooLargeError(
			"request body is larger than the limit of "+itoa(s.cfg.MaxBodyBytes)+" bytes"))
		return
	}
	if err := s.dispatch(q); err != nil {
		s.writeError(rec, r, err)
	}
}

func (s *Server) dispatch(q *request) error {
	switch q.sub {
	case "scale":
		return s.serveScale(q)
	case "binding":
		if q.verb != "create" {
			return apierrors.NewMethodNotSupported(q.gr(), q.r.Method)
		}
		return s.bind(q)
	case "log":
		return s.serveLog(q)
	case "exec":
		return s.serveExec(q)
	case "proxy":
		return s.serveNodeProxy(q)
	}
	switch q.verb {
	case "get":
		return s.get(q)
	case "list":
		return s.list(q)
	case "watch":
		return s.watch(q)
	case "create":
		if q.name != "" && q.sub == "" {
			return apierrors.NewMethodNotSupported(q.gr(), "POST on a named object")
		}
		return s.create(q)
	case "update":
		return s.update(q)
	case "patch":
		return s.patch(q)
	case "delete":
		if q.sub != "" {
			return apierrors.NewMethodNotSupported(q.gr(), "DELETE on a subresource")
		}
		return s.delete(q)
	case "deletecollection":
		return s.deleteCollection(q)
	}
	return apierrors.NewMethodNotSupported(q.gr(), q.r.Method)
}

// statusRecorder remembers the status code written, for metrics. It passes
// Flush and Hijack through so watches and streams keep working.
type statusRecorder struct {
	http.ResponseWriter
	code int
}

func (s *statusRecorder) WriteHeader(code int) {
	s.code = code
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusRecorder) Flush() {
	if f, ok := s.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

func (s *statusRecorder) Unwrap() http.ResponseWriter { return s.ResponseWriter }
