package apiserver

import (
	"net/http"
	"runtime"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// metrics are the API server's Prometheus metrics, in a registry of its own
// so several servers can live in one process (tests).
type metrics struct {
	reg          *prometheus.Registry
	requests     *prometheus.CounterVec
	latency      *prometheus.HistogramVec
	inflight     prometheus.Gauge
	unauthorized prometheus.Counter
}

func newMetrics() *metrics {
	m := &metrics{
		reg: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "apiserver_request_total", Help: "API requests by verb, resource and HTTP code.",
		}, []string{"verb", "resource", "code"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "apiserver_request_duration_seconds", Help: "API request latency by verb and resource (watches excluded).",
			Buckets: []float64{0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5},
		}, []string{"verb", "resource"}),
		inflight: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "apiserver_current_inflight_requests", Help: "Requests being served, watches included.",
		}),
		unauthorized: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "apiserver_unauthorized_requests_total", Help: "Requests rejected with 401.",
		}),
	}
	m.reg.MustRegister(m.requests, m.latency, m.inflight, m.unauthorized,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

func (m *metrics) handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{})
}

// observe starts timing one request; call the result with the HTTP code.
func (m *metrics) observe(verb, resource string) func(code int) {
	start := time.Now()
	m.inflight.Inc()
	return func(code int) {
		m.inflight.Dec()
		m.requests.WithLabelValues(verb, resource, strconv.Itoa(code)).Inc()
		if verb != "watch" {
			m.latency.WithLabelValues(verb, resource).Observe(time.Since(start).Seconds())
		}
	}
}

// instrument wraps a non-resource handler with metrics.
func (s *Server) instrument(name string, h http.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		done := s.metrics.observe("get", name)
		rec := &statusRecorder{ResponseWriter: w, code: http.StatusOK}
		h(rec, r)
		done(rec.code)
	})
}

func goVersion() string { return runtime.Version() }

func platform() string { return runtime.GOOS + "/" + runtime.GOARCH }

// Registerer is the registry behind /metrics; other components of the
// process (controllers, scheduler) add their metrics to it.
func (s *Server) Registerer() prometheus.Registerer { return s.metrics.reg }
