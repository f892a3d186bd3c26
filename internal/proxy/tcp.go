package proxy

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/berth-dev/berth/internal/proxy/lb"
	"github.com/berth-dev/berth/internal/proxy/proxyproto"
)

// Forwarder forwards connections and requests of listeners to endpoints.
type Forwarder struct {
	// Metrics receives the figures (required).
	Metrics *Metrics
	// Logger receives what the forwarder logs (default slog.Default()).
	Logger *slog.Logger
	// Dialer dials endpoints (default: a net.Dialer with dialTimeout).
	Dialer interface {
		DialContext(ctx context.Context, network, addr string) (net.Conn, error)
	}
}

func (f *Forwarder) log() *slog.Logger {
	if f.Logger == nil {
		return slog.Default()
	}
	return f.Logger
}

func (f *Forwarder) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	if f.Dialer != nil {
		return f.Dialer.DialContext(ctx, network, addr)
	}
	d := net.Dialer{Timeout: dialTimeout, KeepAlive: 30 * time.Second}
	return d.DialContext(ctx, network, addr)
}

// ServeTCP accepts connections on ln and forwards each to an endpoint of
// port() (read per connection, so updates apply to new connections) until
// ctx is done or ln is closed. When ctx is done it closes ln and the open
// connections, and returns once their goroutines ended.
func (f *Forwarder) ServeTCP(ctx context.Context, ln net.Listener, port func() *Port) error {
	return f.serve(ctx, ln, func(c net.Conn) { f.handleTCP(ctx, c, port()) })
}

// serve accepts connections on ln and runs handle for each on a goroutine
// of its own until ctx is done or ln is closed; handle must return soon
// after ctx is done. serve closes ln when ctx is done and returns once
// every handle returned.
func (f *Forwarder) serve(ctx context.Context, ln net.Listener, handle func(net.Conn)) error {
	var wg sync.WaitGroup
	stop := context.AfterFunc(ctx, func() { ln.Close() })
	defer stop()
	var delay time.Duration
	for {
		c, err := ln.Accept()
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
				wg.Wait()
				return nil
			}
			// Out of file descriptors and the like: back off, go on.
			delay = min(max(2*delay, 5*time.Millisecond), time.Second)
			f.log().Warn("proxy: accept failed", "addr", ln.Addr(), "err", err, "retryIn", delay)
			select {
			case <-time.After(delay):
				continue
			case <-ctx.Done():
				wg.Wait()
				return nil
			}
		}
		delay = 0
		wg.Add(1)
		go func() {
			defer wg.Done()
			handle(c)
		}()
	}
}

// handleTCP forwards one client connection.
func (f *Forwarder) handleTCP(ctx context.Context, c net.Conn, p *Port) {
	defer c.Close()
	stop := context.AfterFunc(ctx, func() { c.Close() })
	defer stop()
	if p == nil || p.Balancer == nil {
		return
	}
	ip := clientIP(c.RemoteAddr())
	var tried triedSet
	for range maxAttempts {
		pick, err := p.Balancer.Pick(ip, tried.has)
		if err != nil {
			f.Metrics.failures.WithLabelValues(p.Service, "no_endpoints").Inc()
			return
		}
		start := time.Now()
		up, err := f.dial(ctx, "tcp", pick.Addr())
		if err != nil {
			pick.Done(lb.ConnectFailed, 0)
			f.Metrics.failures.WithLabelValues(p.Service, "connect").Inc()
			tried = append(tried, pick.Addr())
			continue
		}
		stopUp := context.AfterFunc(ctx, func() { up.Close() })
		defer stopUp()
		connected := time.Since(start)
		f.Metrics.latency.WithLabelValues(p.Service).Observe(connected.Seconds())
		f.Metrics.connection(p.Service, pick.Addr())
		inflight := f.Metrics.inflight.WithLabelValues(p.Service, pick.Addr())
		inflight.Inc()
		if p.ProxyProtocol {
			if err := writeProxyHeader(up, c); err != nil {
				f.log().Debug("proxy: PROXY header", "service", p.Service, "err", err)
				up.Close()
				inflight.Dec()
				pick.Done(lb.Failed, 0)
				return
			}
		}
		in, out := pipe(c, up)
		f.Metrics.bytes.WithLabelValues(p.Service, "in").Add(float64(in))
		f.Metrics.bytes.WithLabelValues(p.Service, "out").Add(float64(out))
		inflight.Dec()
		pick.Done(lb.Success, connected)
		return
	}
}

// writeProxyHeader sends the PROXY v2 header describing client to up.
func writeProxyHeader(up, client net.Conn) error {
	src, err1 := netip.ParseAddrPort(client.RemoteAddr().String())
	dst, err2 := netip.ParseAddrPort(client.LocalAddr().String())
	if err := errors.Join(err1, err2); err != nil {
		return err
	}
	h, err := proxyproto.Header(src, dst, proxyproto.TCP)
	if err != nil {
		return err
	}
	_, err = up.Write(h)
	return err
}

// pipe copies both directions until both are done, passing half-closes
// on; it closes up and returns the bytes copied from and to the client.
func pipe(client, up net.Conn) (in, out int64) {
	var wg sync.WaitGroup
	var inN, outN atomic.Int64
	wg.Add(2)
	go func() {
		defer wg.Done()
		n, _ := copyStream(up, client)
		inN.Store(n)
		closeWrite(up)
	}()
	go func() {
		defer wg.Done()
		n, _ := copyStream(client, up)
		outN.Store(n)
		closeWrite(client)
	}()
	wg.Wait()
	up.Close()
	return inN.Load(), outN.Load()
}

// copyBufs are the buffers of copyStream.
var copyBufs = sync.Pool{New: func() any { return new([32 << 10]byte) }}

// copyStream copies src to dst until EOF with a read and a write per
// chunk through a pooled buffer. (io.Copy between two TCP connections
// splices through a pipe, which costs more CPU for the small exchanges
// typical of request/response traffic.)
func copyStream(dst io.Writer, src io.Reader) (int64, error) {
	buf := copyBufs.Get().(*[32 << 10]byte)
	defer copyBufs.Put(buf)
	return io.CopyBuffer(struct{ io.Writer }{dst}, struct{ io.Reader }{src}, buf[:])
}

// closeWrite half-closes c where it can, else closes it.
func closeWrite(c net.Conn) {
	if cw, ok := c.(interface{ CloseWrite() error }); ok {
		_ = cw.CloseWrite()
		return
	}
	_ = c.Close()
}
