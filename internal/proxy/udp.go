package proxy

import (
	"context"
	"errors"
	"net"
	"sync"
	"time"

	"github.com/berth-dev/berth/internal/proxy/lb"
)

// udpIdle ends a UDP flow after this long without datagrams.
const udpIdle = time.Minute

// ServeUDP forwards datagrams arriving on pc: each client address is a
// flow bound to one endpoint of port() while it is active; answers go back
// from pc. It returns when ctx is done or pc is closed, closing pc and the
// flows.
func (f *Forwarder) ServeUDP(ctx context.Context, pc net.PacketConn, port func() *Port) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stop := context.AfterFunc(ctx, func() { pc.Close() })
	defer stop()
	var mu sync.Mutex
	flows := map[string]*udpFlow{}
	var wg sync.WaitGroup
	defer wg.Wait()
	buf := make([]byte, 64<<10)
	for {
		n, from, err := pc.ReadFrom(buf)
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
				cancel()
				return nil
			}
			continue
		}
		key := from.String()
		mu.Lock()
		fl := flows[key]
		mu.Unlock()
		if fl == nil {
			p := port()
			if p == nil || p.Balancer == nil {
				continue
			}
			fl = f.newUDPFlow(ctx, p, from)
			if fl == nil {
				continue
			}
			mu.Lock()
			flows[key] = fl
			mu.Unlock()
			wg.Add(1)
			go func() {
				defer wg.Done()
				fl.relay(pc, from)
				mu.Lock()
				delete(flows, key)
				mu.Unlock()
			}()
		}
		if _, err := fl.up.Write(buf[:n]); err == nil {
			f.Metrics.bytes.WithLabelValues(fl.port.Service, "in").Add(float64(n))
		}
	}
}

// udpFlow is one client's datagrams to one endpoint.
type udpFlow struct {
	f    *Forwarder
	port *Port
	up   net.Conn
	pick *lb.Pick
	// stop cancels closing up when the context ends.
	stop func() bool
}

func (f *Forwarder) newUDPFlow(ctx context.Context, p *Port, from net.Addr) *udpFlow {
	var tried triedSet
	for range maxAttempts {
		pick, err := p.Balancer.Pick(clientIP(from), tried.has)
		if err != nil {
			f.Metrics.failures.WithLabelValues(p.Service, "no_endpoints").Inc()
			return nil
		}
		up, err := f.dial(ctx, "udp", pick.Addr())
		if err != nil {
			pick.Done(lb.ConnectFailed, 0)
			tried = append(tried, pick.Addr())
			continue
		}
		f.Metrics.connection(p.Service, pick.Addr())
		f.Metrics.inflight.WithLabelValues(p.Service, pick.Addr()).Inc()
		return &udpFlow{f: f, port: p, up: up, pick: pick, stop: context.AfterFunc(ctx, func() { up.Close() })}
	}
	return nil
}

// relay copies the endpoint's answers to the client until the flow idles
// or the context ends (which closes pc, failing the reads).
func (fl *udpFlow) relay(pc net.PacketConn, to net.Addr) {
	m := fl.f.Metrics
	defer func() {
		fl.stop()
		fl.up.Close()
		m.inflight.WithLabelValues(fl.port.Service, fl.pick.Addr()).Dec()
		fl.pick.Done(lb.Success, 0)
	}()
	buf := make([]byte, 64<<10)
	for {
		_ = fl.up.SetReadDeadline(time.Now().Add(udpIdle))
		n, err := fl.up.Read(buf)
		if err != nil {
			return
		}
		if _, err := pc.WriteTo(buf[:n], to); err != nil {
			return
		}
		m.bytes.WithLabelValues(fl.port.Service, "out").Add(float64(n))
	}
}
