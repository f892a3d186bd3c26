package proxy

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"time"

	"github.com/berth-dev/berth/internal/proxy/lb"
)

// HTTPHandler returns the handler of an HTTP-mode listener: each request
// goes to an endpoint of port() over pooled connections of transport
// (nil: a transport tuned for many small requests).
func (f *Forwarder) HTTPHandler(port func() *Port, transport *http.Transport) http.Handler {
	if transport == nil {
		transport = &http.Transport{
			DialContext:           f.dial,
			MaxIdleConns:          1024,
			MaxIdleConnsPerHost:   256,
			IdleConnTimeout:       90 * time.Second,
			ResponseHeaderTimeout: 0,
			ExpectContinueTimeout: time.Second,
			ForceAttemptHTTP2:     false,
		}
	}
	return &httpProxy{f: f, port: port, rp: &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.Out.URL.Scheme = "http"
			pr.Out.URL.Host = "endpoint" // chosen per attempt by the transport
			pr.SetXForwarded()
			pr.Out.Host = pr.In.Host
		},
		Transport: &balancingTransport{f: f, base: transport},
		// Default flushing: streamed answers (no Content-Length,
		// text/event-stream) are flushed at once anyway.
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			code := http.StatusBadGateway
			if errors.Is(err, lb.ErrNoEndpoints) {
				code = http.StatusServiceUnavailable
			}
			http.Error(w, http.StatusText(code)+": "+err.Error(), code)
		},
	}}
}

type httpProxy struct {
	f    *Forwarder
	port func() *Port
	rp   *httputil.ReverseProxy
}

type portKey struct{}

func (h *httpProxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p := h.port()
	if p == nil || p.Balancer == nil {
		http.Error(w, "service unavailable", http.StatusServiceUnavailable)
		return
	}
	h.rp.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), portKey{}, p)))
}

// balancingTransport sends each request to an endpoint of the request's
// Port, retrying on another endpoint when the connection failed and the
// request can be sent again.
type balancingTransport struct {
	f    *Forwarder
	base *http.Transport
}

func (t *balancingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	p, _ := req.Context().Value(portKey{}).(*Port)
	if p == nil {
		return nil, errors.New("proxy: request without a service port")
	}
	m := t.f.Metrics
	ip := lastForwardedFor(req)
	var tried triedSet
	var lastErr error
	for attempt := range maxAttempts {
		pick, err := p.Balancer.Pick(ip, tried.has)
		if err != nil {
			m.failures.WithLabelValues(p.Service, "no_endpoints").Inc()
			if lastErr != nil {
				return nil, lastErr
			}
			return nil, err
		}
		out := req
		if attempt > 0 {
			out = req.Clone(req.Context())
		}
		out.URL.Host = pick.Addr()
		inflight := m.inflight.WithLabelValues(p.Service, pick.Addr())
		inflight.Inc()
		start := time.Now()
		resp, err := t.base.RoundTrip(out)
		if err != nil {
			inflight.Dec()
			if isDialError(err) {
				pick.Done(lb.ConnectFailed, 0)
				m.failures.WithLabelValues(p.Service, "connect").Inc()
				tried, lastErr = append(tried, pick.Addr()), err
				if retryable(req) {
					continue
				}
				return nil, err
			}
			pick.Done(lb.Failed, 0)
			m.failures.WithLabelValues(p.Service, "upstream").Inc()
			return nil, err
		}
		ttfb := time.Since(start)
		m.latency.WithLabelValues(p.Service).Observe(ttfb.Seconds())
		m.request(p.Service, pick.Addr(), resp.StatusCode)
		if resp.StatusCode == http.StatusSwitchingProtocols {
			// An upgraded connection: the body is the connection, which
			// the reverse proxy needs as it is.
			inflight.Dec()
			pick.Done(lb.Success, ttfb)
			return resp, nil
		}
		resp.Body = &doneBody{ReadCloser: resp.Body, done: func(n int64) {
			inflight.Dec()
			m.bytes.WithLabelValues(p.Service, "out").Add(float64(n))
			pick.Done(lb.Success, ttfb)
		}}
		return resp, nil
	}
	return nil, lastErr
}

// lastForwardedFor is the client address the reverse proxy appended to
// X-Forwarded-For (the last element, which a client cannot forge).
func lastForwardedFor(req *http.Request) string {
	v := req.Header.Get("X-Forwarded-For")
	for i := len(v) - 1; i >= 0; i-- {
		if v[i] == ',' || v[i] == ' ' {
			return v[i+1:]
		}
	}
	return v
}

// retryable reports whether req may be sent again: an idempotent method
// and no body.
func retryable(req *http.Request) bool {
	switch req.Method {
	case http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodTrace, http.MethodPut, http.MethodDelete:
	default:
		return false
	}
	return req.Body == nil || req.Body == http.NoBody
}

// isDialError reports whether err happened while connecting (nothing of
// the request was sent).
func isDialError(err error) bool {
	var op *net.OpError
	return errors.As(err, &op) && op.Op == "dial"
}

// doneBody calls done once, with the bytes read, when the body is closed.
type doneBody struct {
	io.ReadCloser
	n    int64
	done func(n int64)
}

func (b *doneBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	b.n += int64(n)
	return n, err
}

func (b *doneBody) Close() error {
	err := b.ReadCloser.Close()
	if b.done != nil {
		b.done(b.n)
		b.done = nil
	}
	return err
}
