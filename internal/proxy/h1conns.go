package proxy

import (
	"bufio"
	"context"
	"net"
	"net/http"
	"sync"
	"time"
)

// bufferedConn is a connection whose first bytes wait in r.
type bufferedConn struct {
	net.Conn
	r *bufio.Reader
}

func (c *bufferedConn) Read(p []byte) (int, error) { return c.r.Read(p) }

// h1Fallback is the http.Server (with HTTPHandler) serving the
// connections the fast path hands over.
type h1Fallback struct {
	srv  *http.Server
	ln   *connListener
	done chan struct{}
}

func newH1Fallback(f *Forwarder, addr net.Addr, port func() *Port) *h1Fallback {
	fb := &h1Fallback{
		srv:  &http.Server{Handler: f.HTTPHandler(port, nil), ReadHeaderTimeout: h1IdleTimeout},
		ln:   &connListener{addr: addr, conns: make(chan net.Conn), closed: make(chan struct{})},
		done: make(chan struct{}),
	}
	go func() {
		defer close(fb.done)
		_ = fb.srv.Serve(fb.ln)
	}()
	return fb
}

// serve hands c to the server; false if it is closed.
func (fb *h1Fallback) serve(c net.Conn) bool {
	select {
	case fb.ln.conns <- c:
		return true
	case <-fb.ln.closed:
		return false
	}
}

// close stops the server and closes its connections.
func (fb *h1Fallback) close() {
	_ = fb.srv.Close()
	fb.ln.Close()
	<-fb.done
}

// connListener is a net.Listener whose connections are handed to it.
type connListener struct {
	addr   net.Addr
	conns  chan net.Conn
	closed chan struct{}
	once   sync.Once
}

func (l *connListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.closed:
		return nil, net.ErrClosed
	}
}

func (l *connListener) Close() error {
	l.once.Do(func() { close(l.closed) })
	return nil
}

func (l *connListener) Addr() net.Addr { return l.addr }

// upConn is a connection to an endpoint with its buffers.
type upConn struct {
	net.Conn
	addr string
	r    *bufio.Reader
	w    *bufio.Writer
	idle time.Time // when it was put back
}

// upstreamPool keeps idle upstream connections per endpoint address.
type upstreamPool struct {
	f      *Forwarder
	mu     sync.Mutex
	idle   map[string][]*upConn
	closed bool
}

// get takes the most recently used idle connection to addr (nil: none).
func (p *upstreamPool) get(addr string) (*upConn, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	cs := p.idle[addr]
	for len(cs) > 0 {
		uc := cs[len(cs)-1]
		cs[len(cs)-1] = nil
		cs = cs[:len(cs)-1]
		if time.Since(uc.idle) < h1UpstreamIdle {
			p.idle[addr] = cs
			return uc, true
		}
		uc.Close()
	}
	delete(p.idle, addr)
	return nil, false
}

// dial connects to addr.
func (p *upstreamPool) dial(ctx context.Context, addr string) (*upConn, error) {
	c, err := p.f.dial(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	return &upConn{Conn: c, addr: addr, r: bufio.NewReaderSize(c, h1UpstreamBufSize), w: bufio.NewWriterSize(c, h1ClientBufSize)}, nil
}

// put keeps uc for reuse (or closes it when the pool is full or closed).
func (p *upstreamPool) put(uc *upConn) {
	uc.idle = time.Now()
	p.mu.Lock()
	if p.closed || len(p.idle[uc.addr]) >= h1MaxIdlePerEndpoint {
		p.mu.Unlock()
		uc.Close()
		return
	}
	p.idle[uc.addr] = append(p.idle[uc.addr], uc)
	p.mu.Unlock()
}

// janitor closes connections idle for too long until ctx is done.
func (p *upstreamPool) janitor(ctx context.Context) {
	t := time.NewTicker(h1UpstreamIdle / 3)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		p.mu.Lock()
		for addr, cs := range p.idle {
			kept := cs[:0]
			for _, uc := range cs {
				if time.Since(uc.idle) < h1UpstreamIdle {
					kept = append(kept, uc)
				} else {
					uc.Close()
				}
			}
			clear(cs[len(kept):])
			if len(kept) == 0 {
				delete(p.idle, addr)
			} else {
				p.idle[addr] = kept
			}
		}
		p.mu.Unlock()
	}
}

// close closes the idle connections; later puts close theirs.
func (p *upstreamPool) close() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.closed = true
	for addr, cs := range p.idle {
		for _, uc := range cs {
			uc.Close()
		}
		delete(p.idle, addr)
	}
}
