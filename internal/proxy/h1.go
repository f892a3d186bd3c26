package proxy

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/berth-dev/berth/internal/proxy/lb"
)

// The HTTP-mode listener (ServeHTTPMode) forwards the common HTTP/1.1
// exchange itself: one goroutine per client connection reads a request
// head in place from its buffer, writes it with the X-Forwarded-* headers
// to a pooled upstream connection, and copies the response back, the body
// as the endpoint framed it (Content-Length, chunked, or until close).
// Anything else (HTTP/1.0 clients, Upgrade, Expect, chunked or large
// request bodies, absolute-form targets, malformed heads) is handed, with
// the bytes read so far, to an http.Server running HTTPHandler, which
// serves the rest of that connection. ADR 0007 records why.

// Buffer sizes and limits of the HTTP-mode fast path.
const (
	// h1ClientBufSize is the client connection's read buffer: a request
	// is forwarded by the fast path only when its head and body fit.
	h1ClientBufSize = 8 << 10
	// h1UpstreamBufSize is an upstream connection's read buffer: a
	// response head must fit (else 502).
	h1UpstreamBufSize = 16 << 10
	// h1MaxResponseHead is the largest response head forwarded (as
	// http.Transport's default MaxResponseHeaderBytes would allow most).
	h1MaxResponseHead = 1 << 20
	// h1IdleTimeout bounds the wait for a client's next request head
	// (as the fallback server's ReadHeaderTimeout).
	h1IdleTimeout = time.Minute
	// h1UpstreamIdle is how long an idle upstream connection is kept.
	h1UpstreamIdle = 90 * time.Second
	// h1MaxIdlePerEndpoint caps the idle upstream connections per endpoint.
	h1MaxIdlePerEndpoint = 256
)

// ServeHTTPMode accepts connections on ln and forwards their HTTP requests
// to endpoints of port() (read per request), each request balanced anew,
// until ctx is done or ln is closed. When ctx is done it closes ln and the
// open connections, and returns once their goroutines ended.
func (f *Forwarder) ServeHTTPMode(ctx context.Context, ln net.Listener, port func() *Port) error {
	fb := newH1Fallback(f, ln.Addr(), port)
	pool := &upstreamPool{f: f, idle: map[string][]*upConn{}}
	jctx, stopJanitor := context.WithCancel(ctx)
	janitorDone := make(chan struct{})
	go func() {
		defer close(janitorDone)
		pool.janitor(jctx)
	}()
	err := f.serve(ctx, ln, func(c net.Conn) {
		h := &h1Conn{f: f, c: c, port: port, pool: pool, fb: fb, ip: clientIP(c.RemoteAddr())}
		h.run(ctx)
	})
	stopJanitor()
	<-janitorDone
	fb.close()
	pool.close()
	return err
}

// h1Conn is one client connection of an HTTP-mode listener.
type h1Conn struct {
	f    *Forwarder
	c    net.Conn
	ip   string
	port func() *Port
	pool *upstreamPool
	fb   *h1Fallback

	r *bufio.Reader
	w *bufio.Writer
	// cur is the upstream connection in use, closed with the client's on
	// shutdown.
	cur atomic.Pointer[upConn]
	// req and resp are the heads being forwarded (reused).
	req  reqHead
	resp respHead
	// metrics caches the handles per endpoint address.
	metrics map[string]*endpointMetrics
}

var (
	h1ReaderPool = sync.Pool{New: func() any { return bufio.NewReaderSize(nil, h1ClientBufSize) }}
	h1WriterPool = sync.Pool{New: func() any { return bufio.NewWriterSize(nil, h1ClientBufSize) }}
)

// run serves the connection until it ends or is handed to the fallback.
func (h *h1Conn) run(ctx context.Context) {
	h.r = h1ReaderPool.Get().(*bufio.Reader)
	h.r.Reset(h.c)
	h.w = h1WriterPool.Get().(*bufio.Writer)
	h.w.Reset(h.c)
	stop := context.AfterFunc(ctx, func() {
		h.c.Close()
		if uc := h.cur.Load(); uc != nil {
			uc.Close()
		}
	})
	handedOff := false
	defer func() {
		stop()
		h.w.Reset(nil)
		h1WriterPool.Put(h.w)
		if !handedOff {
			h.c.Close()
			h.r.Reset(nil)
			h1ReaderPool.Put(h.r)
		}
	}()
	for {
		if err := h.c.SetReadDeadline(time.Now().Add(h1IdleTimeout)); err != nil {
			return
		}
		head, total, err := h.peekRequest()
		if err != nil {
			if errors.Is(err, errH1Fallback) {
				// The fallback gets the connection with what it sent so far;
				// the reader stays with it.
				_ = h.c.SetReadDeadline(time.Time{})
				handedOff = h.fb.serve(&bufferedConn{Conn: h.c, r: h.r})
			}
			return
		}
		if err := h.c.SetReadDeadline(time.Time{}); err != nil {
			return
		}
		p := h.port()
		keep := h.forward(ctx, p, head)
		if _, err := h.r.Discard(total); err != nil || !keep {
			return
		}
	}
}

// errH1Fallback says a request is not for the fast path.
var errH1Fallback = errors.New("proxy: request for the fallback server")

// peekRequest waits for a whole request (head and body) in the read
// buffer and parses its head into h.req, consuming nothing. It returns
// the request (head and body) and its length; errH1Fallback when the fast
// path does not handle it.
func (h *h1Conn) peekRequest() (req []byte, total int, err error) {
	head, ok, err := peekHead(h.r)
	switch {
	case errors.Is(err, bufio.ErrBufferFull):
		return nil, 0, errH1Fallback
	case errors.Is(err, io.EOF) && h.r.Buffered() > 0:
		// A truncated head: the fallback answers it as it should.
		return nil, 0, errH1Fallback
	case err != nil:
		return nil, 0, err
	case !ok || !h.req.parse(head):
		return nil, 0, errH1Fallback
	}
	total = len(head) + int(h.req.contentLength)
	if total > h1ClientBufSize {
		return nil, 0, errH1Fallback
	}
	req, err = h.r.Peek(total)
	if err != nil {
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return nil, 0, errH1Fallback
		}
		return nil, 0, err
	}
	return req, total, nil
}

// peekHead waits until r's buffer holds a whole message head and returns
// it (up to and including the empty line), consuming nothing; ok is false
// when a line of it ends in a bare LF. bufio.ErrBufferFull: the head does
// not fit the buffer.
func peekHead(r *bufio.Reader) (head []byte, ok bool, err error) {
	for n := 0; ; {
		if _, err := r.Peek(n + 1); err != nil {
			return nil, false, err
		}
		b, _ := r.Peek(r.Buffered())
		if end, ok := headEnd(b); end > 0 {
			return b[:end], ok, nil
		}
		n = len(b)
	}
}

// headEnd finds the end of a message head in b (after its empty line; 0:
// not all there yet); ok is false when a line ends in a bare LF before
// it, which only the fallback server accepts.
func headEnd(b []byte) (end int, ok bool) {
	for i := 0; ; {
		j := bytes.IndexByte(b[i:], '\n')
		if j < 0 {
			return 0, true
		}
		j += i
		if j == 0 || b[j-1] != '\r' {
			return j + 1, false
		}
		if j >= 3 && b[j-2] == '\n' && b[j-3] == '\r' {
			return j + 1, true
		}
		i = j + 1
	}
}

// forward sends the request in req (head and body) to an endpoint of p
// and its answer to the client, retrying as HTTPHandler does. It reports
// whether the client connection can serve another request.
func (h *h1Conn) forward(ctx context.Context, p *Port, req []byte) (keep bool) {
	m := h.f.Metrics
	if p == nil || p.Balancer == nil {
		return h.writeError(http.StatusServiceUnavailable, "service unavailable")
	}
	var tried triedSet
	var lastErr error
	for range maxAttempts {
		pick, err := p.Balancer.Pick(h.ip, tried.has)
		if err != nil {
			m.failures.WithLabelValues(p.Service, "no_endpoints").Inc()
			if lastErr != nil {
				return h.writeError(http.StatusBadGateway, lastErr.Error())
			}
			return h.writeError(http.StatusServiceUnavailable, err.Error())
		}
		addr := pick.Addr()
		em := h.endpointMetrics(p.Service, addr)
		uc, reused := h.pool.get(addr)
		if uc == nil {
			if uc, err = h.pool.dial(ctx, addr); err != nil {
				pick.Done(lb.ConnectFailed, 0)
				m.failures.WithLabelValues(p.Service, "connect").Inc()
				tried, lastErr = append(tried, addr), err
				continue // nothing was sent: any request may go elsewhere
			}
		}
		em.inflight.Inc()
		keep, connectErr := h.exchange(ctx, uc, reused, pick, em, req)
		em.inflight.Dec()
		if connectErr != nil {
			pick.Done(lb.ConnectFailed, 0)
			m.failures.WithLabelValues(p.Service, "connect").Inc()
			tried, lastErr = append(tried, addr), connectErr
			continue
		}
		return keep
	}
	return h.writeError(http.StatusBadGateway, lastErr.Error())
}

// exchange sends req over uc and the response to the client. A reused
// connection the endpoint had closed is replaced by a new one when the
// request may be sent again. connectErr is a failed reconnection (nothing
// answered, the caller may try another endpoint); every other outcome is
// final and ends pick.
func (h *h1Conn) exchange(ctx context.Context, uc *upConn, reused bool, pick *lb.Pick, em *endpointMetrics, req []byte) (keep bool, connectErr error) {
	h.cur.Store(uc)
	defer h.cur.Store(nil)
	start := time.Now()
	resp := &h.resp
	var head []byte
	var err error
	for {
		head, err = h.roundTrip(uc, req, resp)
		if err == nil {
			break
		}
		stale := reused && !resp.informational && uc.r.Buffered() == 0 && h.req.idempotent() &&
			(errors.Is(err, io.EOF) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE))
		uc.Close()
		if !stale {
			em.failure("upstream")
			pick.Done(lb.Failed, 0)
			if resp.informational {
				return false, nil // the client has a partial answer
			}
			return h.writeError(http.StatusBadGateway, err.Error()), nil
		}
		// The endpoint had closed the idle connection: a new one.
		reused = false
		if uc, err = h.pool.dial(ctx, uc.addr); err != nil {
			return false, err
		}
		h.cur.Store(uc)
	}
	ttfb := time.Since(start)
	em.latency.Observe(ttfb.Seconds())
	em.request(resp.code)
	keep = !h.req.close && resp.body != bodyUntilClose
	if err := h.writeResponseHead(head, resp, keep); err != nil {
		uc.Close()
		pick.Done(lb.Success, ttfb)
		return false, nil
	}
	if _, err := uc.r.Discard(len(head)); err != nil {
		uc.Close()
		pick.Done(lb.Failed, 0)
		return false, nil
	}
	n, err := copyBody(h.w, uc.r, resp.body, resp.contentLength)
	em.bytesOut.Add(float64(n))
	if err == nil {
		err = h.w.Flush()
	}
	if err != nil {
		// Upstream or client failed mid-answer: neither connection is
		// usable.
		uc.Close()
		if errors.Is(err, errUpstream) {
			em.failure("upstream")
			pick.Done(lb.Failed, 0)
		} else {
			pick.Done(lb.Success, ttfb)
		}
		return false, nil
	}
	if resp.reusable && resp.body != bodyUntilClose {
		h.pool.put(uc)
	} else {
		uc.Close()
	}
	pick.Done(lb.Success, ttfb)
	return keep, nil
}

// roundTrip writes req to uc and reads the response head (forwarding
// informational answers to the client), which it returns unconsumed.
func (h *h1Conn) roundTrip(uc *upConn, req []byte, resp *respHead) ([]byte, error) {
	resp.informational = false // parse resets the rest, keeping its slices
	if err := h.req.writeTo(uc.w, req, h.ip); err != nil {
		return nil, err
	}
	if err := uc.w.Flush(); err != nil {
		return nil, err
	}
	for {
		head, err := uc.peekHead()
		if err != nil {
			return nil, err
		}
		if !resp.parse(head, h.req.head) {
			return nil, errors.New("malformed response head")
		}
		if !resp.interim {
			return head, nil
		}
		if resp.code == http.StatusSwitchingProtocols {
			return nil, errors.New("unexpected 101 Switching Protocols")
		}
		// 100 Continue, 103 Early Hints: passed on as they are.
		resp.informational = true
		if err := h.writeResponseHead(head, resp, true); err != nil {
			return nil, err
		}
		if err := h.w.Flush(); err != nil {
			return nil, err
		}
		if _, err := uc.r.Discard(len(head)); err != nil {
			return nil, err
		}
	}
}

// peekHead waits for a whole response head in uc's read buffer and
// returns it, consuming nothing. A head larger than the buffer gets a
// larger reader for this connection, up to h1MaxResponseHead.
func (uc *upConn) peekHead() ([]byte, error) {
	for {
		head, ok, err := peekHead(uc.r)
		switch {
		case errors.Is(err, bufio.ErrBufferFull) && uc.r.Size() < h1MaxResponseHead:
			uc.r = bufio.NewReaderSize(uc.r, h1MaxResponseHead)
		case errors.Is(err, bufio.ErrBufferFull):
			return nil, errors.New("response head too large")
		case err != nil:
			return nil, err
		case !ok:
			return nil, errors.New("malformed response head")
		default:
			return head, nil
		}
	}
}

// writeError answers the client with code and msg as HTTPHandler does;
// it reports whether the connection can go on.
func (h *h1Conn) writeError(code int, msg string) bool {
	body := http.StatusText(code) + ": " + msg + "\n"
	if msg == "" {
		body = http.StatusText(code) + "\n"
	}
	fmt.Fprintf(h.w, "HTTP/1.1 %d %s\r\nContent-Type: text/plain; charset=utf-8\r\nX-Content-Type-Options: nosniff\r\nContent-Length: %d\r\n", code, http.StatusText(code), len(body))
	if h.req.close {
		h.w.WriteString("Connection: close\r\n")
	}
	h.w.WriteString("\r\n")
	if !h.req.head {
		h.w.WriteString(body)
	}
	return h.w.Flush() == nil && !h.req.close
}

// writeResponseHead writes the response head to the client: HTTP/1.1,
// the endpoint's headers without the hop-by-hop ones, and Connection:
// close when the client connection ends after it.
func (h *h1Conn) writeResponseHead(head []byte, resp *respHead, keep bool) error {
	w := h.w
	w.WriteString("HTTP/1.1")
	w.Write(head[len("HTTP/1.1"):resp.statusEnd])
	for _, l := range resp.lines {
		if !l.drop {
			w.Write(head[l.start:l.end])
		}
	}
	if !keep {
		w.WriteString("Connection: close\r\n")
	}
	_, err := w.WriteString("\r\n")
	return err
}

func (h *h1Conn) endpointMetrics(service, addr string) *endpointMetrics {
	if em := h.metrics[addr]; em != nil && em.service == service {
		return em
	}
	if h.metrics == nil {
		h.metrics = map[string]*endpointMetrics{}
	}
	em := h.f.Metrics.endpoint(service, addr)
	h.metrics[addr] = em
	return em
}
