package agent

import (
	"context"
	"log/slog"
	"reflect"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/berth-dev/berth/internal/nodeapi"
	"github.com/berth-dev/berth/internal/proxy"
)

// fakeHost is a node whose CPU time grows by one core-second per second
// of its clock; reads can be held to observe concurrency.
type fakeHost struct {
	mu      sync.Mutex
	clock   time.Time
	reads   int
	running atomic.Int32
	most    atomic.Int32
	hold    chan struct{} // nil: reads return at once
}

func (h *fakeHost) now() time.Time {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.clock
}

func (h *fakeHost) advance(d time.Duration) {
	h.mu.Lock()
	h.clock = h.clock.Add(d)
	h.mu.Unlock()
}

func (h *fakeHost) read() (uint64, uint64, error) {
	n := h.running.Add(1)
	defer h.running.Add(-1)
	for {
		m := h.most.Load()
		if n <= m || h.most.CompareAndSwap(m, n) {
			break
		}
	}
	h.mu.Lock()
	hold := h.hold
	h.mu.Unlock()
	if hold != nil {
		<-hold
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	h.reads++
	return uint64(h.clock.Sub(time.Unix(0, 0))), 1 << 30, nil
}

func (h *fakeHost) readCount() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.reads
}

func statsAgent(h *fakeHost) *Agent {
	return &Agent{cfg: Config{NodeName: "n1"}, log: slog.New(slog.DiscardHandler), views: map[string]podView{},
		stats: newStatsCollector(h.read), now: h.now}
}

// TestResourceMetricsMaxAge: a request with maxAge reads the usage anew
// only when the latest reading is older; concurrent requests share one
// reading, and the CPU rate spans the time between consecutive readings.
func TestResourceMetricsMaxAge(t *testing.T) {
	ctx := context.Background()
	h := &fakeHost{clock: time.Unix(1000, 0)}
	a := statsAgent(h)

	if m := a.ResourceMetrics(ctx, 0); h.readCount() != 0 || !m.Node.Timestamp.IsZero() {
		t.Fatalf("maxAge 0 read the usage: %d reads, %+v", h.readCount(), m.Node)
	}
	a.ResourceMetrics(ctx, time.Second) // first reading: no rate yet
	if h.readCount() != 1 {
		t.Fatalf("reads %d, want 1", h.readCount())
	}
	h.advance(500 * time.Millisecond)
	a.ResourceMetrics(ctx, time.Second)
	if h.readCount() != 1 {
		t.Errorf("a reading 500ms old was taken again with maxAge 1s: %d reads", h.readCount())
	}
	h.advance(time.Second)
	m := a.ResourceMetrics(ctx, time.Second)
	if h.readCount() != 2 {
		t.Fatalf("a reading 1.5s old was not renewed with maxAge 1s: %d reads", h.readCount())
	}
	if m.Node.Window.Duration != 1500*time.Millisecond || m.Node.Usage.Cpu().MilliValue() != 1000 || !m.Node.Timestamp.Time.Equal(h.now()) {
		t.Errorf("node usage %+v window %v at %v, want 1 core over 1.5s", m.Node.Usage, m.Node.Window.Duration, m.Node.Timestamp)
	}

	// Concurrent requests: one reading at a time, and the ones that waited
	// for it do not read again.
	h.advance(2 * time.Second)
	h.mu.Lock()
	h.hold = make(chan struct{})
	hold := h.hold
	h.mu.Unlock()
	var wg sync.WaitGroup
	for range 5 {
		wg.Add(1)
		go func() { defer wg.Done(); a.ResourceMetrics(ctx, time.Second) }()
	}
	for h.running.Load() == 0 {
		time.Sleep(time.Millisecond)
	}
	time.Sleep(20 * time.Millisecond)
	close(hold)
	wg.Wait()
	if h.readCount() != 3 || h.most.Load() != 1 {
		t.Errorf("5 concurrent requests: %d readings in all (want 3), at most %d at once (want 1)", h.readCount(), h.most.Load())
	}

	// A caller that gives up while another reading runs gets the latest.
	h.advance(2 * time.Second)
	h.mu.Lock()
	h.hold = make(chan struct{})
	hold = h.hold
	h.mu.Unlock()
	done := make(chan struct{})
	go func() { defer close(done); a.ResourceMetrics(ctx, time.Second) }()
	for h.running.Load() == 0 {
		time.Sleep(time.Millisecond)
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if m := a.ResourceMetrics(cctx, time.Second); m.Node.Window.Duration != 2*time.Second {
		t.Errorf("a cancelled waiter got %+v", m.Node)
	}
	close(hold)
	<-done
}

// TestPeriodicReadingDefersToRecentOnes: the periodic reading is skipped
// when one was made on demand within the last half interval.
func TestPeriodicReadingDefersToRecentOnes(t *testing.T) {
	ctx := context.Background()
	h := &fakeHost{clock: time.Unix(1000, 0)}
	a := statsAgent(h)
	a.collectIfOlder(ctx, 0)
	h.advance(time.Second)
	a.ResourceMetrics(ctx, time.Second) // on demand
	h.advance(3 * time.Second)
	a.collectIfOlder(ctx, 15*time.Second/2) // the tick 4s after the first reading
	if h.readCount() != 2 {
		t.Errorf("readings %d, want 2", h.readCount())
	}
	h.advance(5 * time.Second)
	a.collectIfOlder(ctx, 15*time.Second/2)
	if h.readCount() != 3 {
		t.Errorf("readings %d, want 3", h.readCount())
	}
}

// TestServiceMetricsDocument: the proxy's counts become the endpoint's
// document; an agent without the proxy answers an empty list.
func TestServiceMetricsDocument(t *testing.T) {
	h := &fakeHost{clock: time.Unix(1000, 0)}
	a := statsAgent(h)
	if m := a.ServiceMetrics(); m.Services == nil || len(m.Services) != 0 || !m.Timestamp.Equal(h.now()) || !m.StartTime.IsZero() {
		t.Errorf("without a proxy: %+v", m)
	}
	since := time.Unix(900, 0)
	m := serviceMetrics(proxy.Counts{Since: since, Services: []proxy.ServiceCounts{{Namespace: "default", Name: "web", Requests: 5, Connections: 2,
		Endpoints: []proxy.EndpointCounts{{IP: "10.42.0.7", Port: 8080, Requests: 5}, {IP: "10.42.0.8", Port: 9000, Connections: 2}}}}}, h.now())
	want := nodeapi.ServiceCount{Namespace: "default", Name: "web", Requests: 5, Connections: 2,
		Endpoints: []nodeapi.EndpointCount{{IP: "10.42.0.7", Port: 8080, Requests: 5}, {IP: "10.42.0.8", Port: 9000, Connections: 2}}}
	if !m.StartTime.Equal(since) || len(m.Services) != 1 || !reflect.DeepEqual(m.Services[0], want) {
		t.Errorf("document %+v", m)
	}
}
