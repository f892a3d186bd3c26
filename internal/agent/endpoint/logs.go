package endpoint

import (
	"net/http"
	"sync"
	"time"

	"github.com/berth-dev/berth/internal/nodeapi"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
)

// serveLogs answers GET /containerLogs/<ns>/<pod>/<container>.
func (s *Server) serveLogs(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet {
		writeStatus(w, apierrors.NewMethodNotSupported(nodeGR, r.Method))
		return
	}
	ns, pod, container, err := containerOf(nodeapi.ContainerLogsPrefix, r.URL)
	if err != nil {
		writeStatus(w, err)
		return
	}
	opts, previous, err := nodeapi.LogOptionsFromQuery(r.URL.Query(), time.Now())
	if err != nil {
		writeStatus(w, err)
		return
	}
	fw := &flushWriter{w: w}
	err = s.cfg.Backend.ContainerLogs(r.Context(), ns, pod, container, previous, opts, fw)
	if err != nil && !fw.started() {
		writeStatus(w, err)
		return
	}
	if err != nil && r.Context().Err() == nil {
		s.log.Debug("log stream ended", "pod", ns+"/"+pod, "container", container, "err", err)
	}
}

// flushWriter flushes after every write so that followed logs stream.
type flushWriter struct {
	mu    sync.Mutex
	w     http.ResponseWriter
	wrote bool
}

func (f *flushWriter) Write(p []byte) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.wrote {
		f.w.Header().Set("Content-Type", "text/plain")
		f.w.WriteHeader(http.StatusOK)
		f.wrote = true
	}
	n, err := f.w.Write(p)
	if fl, ok := f.w.(http.Flusher); ok {
		fl.Flush()
	}
	return n, err
}

func (f *flushWriter) started() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.wrote
}
