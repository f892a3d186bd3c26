package bench

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

const (
	// loadMaxInFlight bounds the load's requests in flight; a request due
	// while that many are outstanding is not sent (counted as skipped), so
	// a stalled Service cannot pile up goroutines.
	loadMaxInFlight = 512
	// loadRequestTimeout bounds one request.
	loadRequestTimeout = 5 * time.Second
	// loadMaxBacklog is how far behind its schedule the load may fall
	// (the process descheduled) before it skips the missed requests
	// instead of sending them in a burst.
	loadMaxBacklog = time.Second
)

// loadCounts are a load generator's cumulative request counts.
type loadCounts struct {
	sent, failed, skipped int64
}

// sub returns c − o.
func (c loadCounts) sub(o loadCounts) loadCounts {
	return loadCounts{sent: c.sent - o.sent, failed: c.failed - o.failed, skipped: c.skipped - o.skipped}
}

// rateChange asks the load generator for a new rate; it replies with the
// time the new rate took effect.
type rateChange struct {
	rps   float64
	reply chan time.Time
}

// openLoad is an open-loop HTTP load generator: it sends GET url at a
// constant rate whatever the answers' latency (each request in a
// goroutine of its own), until its context ends.
type openLoad struct {
	url    string
	client *http.Client
	change chan rateChange
	done   chan struct{} // closed once run has returned

	sent, failed, skipped atomic.Int64
	inFlight              chan struct{}
	requests              sync.WaitGroup
}

// newOpenLoad returns a load generator for url, idle (0 req/s) until
// setRate; run drives it.
func newOpenLoad(url string) *openLoad {
	tr := &http.Transport{
		Proxy:               nil, // the ClusterIP is local; no environment proxy
		DialContext:         (&net.Dialer{Timeout: 2 * time.Second}).DialContext,
		MaxIdleConns:        loadMaxInFlight,
		MaxIdleConnsPerHost: loadMaxInFlight,
		IdleConnTimeout:     30 * time.Second,
		DisableCompression:  true,
	}
	return &openLoad{url: url, client: &http.Client{Transport: tr, Timeout: loadRequestTimeout},
		change: make(chan rateChange), done: make(chan struct{}), inFlight: make(chan struct{}, loadMaxInFlight)}
}

// run sends the requests until ctx ends, then waits for those in flight
// and closes the idle connections.
func (g *openLoad) run(ctx context.Context) {
	defer close(g.done)
	defer g.client.CloseIdleConnections()
	defer g.requests.Wait()
	var interval time.Duration // 0: idle
	var next time.Time
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case c := <-g.change:
			now := time.Now()
			interval, next = 0, now
			if c.rps > 0 {
				interval = time.Duration(float64(time.Second) / c.rps)
			}
			c.reply <- now
		case <-timer.C:
		}
		if interval == 0 {
			timer.Reset(time.Hour)
			continue
		}
		now := time.Now()
		if now.Sub(next) > loadMaxBacklog {
			missed := int64(now.Sub(next) / interval)
			g.skipped.Add(missed)
			next = next.Add(time.Duration(missed) * interval)
		}
		for !next.After(now) {
			g.fire(ctx)
			next = next.Add(interval)
		}
		timer.Reset(next.Sub(now))
	}
}

// fire sends one request in a goroutine of its own, unless too many are
// in flight.
func (g *openLoad) fire(ctx context.Context) {
	select {
	case g.inFlight <- struct{}{}:
	default:
		g.skipped.Add(1)
		return
	}
	g.sent.Add(1)
	g.requests.Add(1)
	go func() {
		defer g.requests.Done()
		defer func() { <-g.inFlight }()
		if err := g.get(ctx); err != nil && ctx.Err() == nil {
			g.failed.Add(1)
		}
	}()
}

// get sends one request and reads the answer; a status other than 2xx is
// an error.
func (g *openLoad) get(ctx context.Context) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, g.url, nil)
	if err != nil {
		return err
	}
	resp, err := g.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	_, err = io.Copy(io.Discard, resp.Body)
	if err == nil && (resp.StatusCode < 200 || resp.StatusCode > 299) {
		err = errors.New(resp.Status)
	}
	return err
}

// setRate changes the rate to rps requests per second (0 stops sending)
// and returns when the new rate took effect: at once, with the first
// request of the new rate sent. It fails when ctx ends or run has
// returned.
func (g *openLoad) setRate(ctx context.Context, rps float64) (time.Time, error) {
	c := rateChange{rps: rps, reply: make(chan time.Time, 1)}
	select {
	case g.change <- c:
	case <-g.done:
		return time.Time{}, errors.New("bench: the load generator has stopped")
	case <-ctx.Done():
		return time.Time{}, ctx.Err()
	}
	return <-c.reply, nil
}

// counts returns the cumulative counts.
func (g *openLoad) counts() loadCounts {
	return loadCounts{sent: g.sent.Load(), failed: g.failed.Load(), skipped: g.skipped.Load()}
}
