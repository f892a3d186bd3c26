package store

import (
	"context"
	"errors"
	"fmt"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/server/v3/etcdserver/api/v3client"
	"log/slog"
	"net"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"go.etcd.io/etcd/server/v3/embed"
	"go.uber.org/zap/zapcore"
)

const (
	// embeddedReadyTimeout bounds how long StartEmbedded waits for etcd to
	// elect itself and serve.
	embeddedReadyTimeout = 60 * time.Second
	// portAttempts is how often StartEmbedded retries when a port it picked
	// was taken before etcd could bind it.
	portAttempts = 5
)

// EmbeddedConfig configures an embedded single-member etcd.
type EmbeddedConfig struct {
	// DataDir is etcd's data directory (the server passes <data-dir>/etcd).
	// It is created if missing; an existing one is reused with its data.
	DataDir string
	// ClientURL is where etcd serves clients. Default "http://127.0.0.1:0";
	// port 0 picks a free port, reported by Endpoints.
	ClientURL string
	// PeerURL is where etcd listens for raft peers. Default
	// "http://127.0.0.1:0", port 0 again meaning a free port.
	PeerURL string
	// Name is the etcd member name. Default "berth".
	Name string
	// Logger receives etcd's warnings and errors (its info lines are
	// logged at Debug). Nil means slog.Default().
	Logger *slog.Logger
}

// Embedded is a running embedded etcd.
type Embedded struct {
	etcd      *embed.Etcd
	endpoints []string
	closing   *atomic.Bool
	errc      chan error
	stop      chan struct{}
	done      chan struct{}
	closeOnce sync.Once
}

// StartEmbedded starts etcd in-process and returns once it serves clients,
// or fails after 60 seconds or when ctx ends. ctx only bounds the start: the
// returned etcd runs until Close.
func StartEmbedded(ctx context.Context, cfg EmbeddedConfig) (*Embedded, error) {
	if cfg.DataDir == "" {
		return nil, errors.New("store: embedded etcd: no data dir")
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("store: embedded etcd: %w", err)
	}
	if cfg.ClientURL == "" {
		cfg.ClientURL = "http://127.0.0.1:0"
	}
	if cfg.PeerURL == "" {
		cfg.PeerURL = "http://127.0.0.1:0"
	}
	if cfg.Name == "" {
		cfg.Name = "berth"
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	// etcd wants its directory private (and warns otherwise).
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("store: embedded etcd: %w", err)
	}
	if err := os.Chmod(cfg.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("store: embedded etcd: %w", err)
	}

	closing := new(atomic.Bool)
	var (
		e   *embed.Etcd
		err error
	)
	for attempt := 1; ; attempt++ {
		var ec *embed.Config
		var picked bool
		ec, picked, err = etcdConfig(cfg, closing)
		if err != nil {
			return nil, fmt.Errorf("store: embedded etcd: %w", err)
		}
		e, err = embed.StartEtcd(ec)
		if err == nil {
			break
		}
		if !picked || attempt == portAttempts || !addrInUse(err) {
			return nil, fmt.Errorf("store: embedded etcd in %s: %w", cfg.DataDir, err)
		}
	}

	m := &Embedded{
		etcd:    e,
		closing: closing,
		errc:    make(chan error, 1),
		stop:    make(chan struct{}),
		done:    make(chan struct{}),
	}
	for _, l := range e.Clients {
		m.endpoints = append(m.endpoints, endpointURL(cfg.ClientURL, l.Addr()))
	}

	timer := time.NewTimer(embeddedReadyTimeout)
	defer timer.Stop()
	select {
	case <-e.Server.ReadyNotify():
	case err := <-e.Err():
		m.closeEtcd()
		return nil, fmt.Errorf("store: embedded etcd in %s: %w", cfg.DataDir, err)
	case <-e.Server.StopNotify():
		m.closeEtcd()
		return nil, fmt.Errorf("store: embedded etcd in %s stopped while starting", cfg.DataDir)
	case <-timer.C:
		m.closeEtcd()
		return nil, fmt.Errorf("store: embedded etcd in %s: not ready after %s", cfg.DataDir, embeddedReadyTimeout)
	case <-ctx.Done():
		m.closeEtcd()
		return nil, fmt.Errorf("store: embedded etcd in %s: %w", cfg.DataDir, context.Cause(ctx))
	}
	go m.forwardErrors()
	return m, nil
}

// Endpoints returns the client URLs etcd serves, e.g.
// ["http://127.0.0.1:41235"].
func (m *Embedded) Endpoints() []string { return append([]string(nil), m.endpoints...) }

// Client returns a client that calls this etcd server in-process: the
// same KV, Watch and Lease API as over gRPC, as function calls (no
// sockets, no HTTP/2 framing, no protobuf marshalling on the way). Close
// releases the client only; it stops working when the etcd does.
func (m *Embedded) Client() *clientv3.Client { return v3client.New(m.etcd.Server) }

// Err reports a failure of the running etcd (a listener that stopped
// serving, or the server stopping on its own). It is closed after Close.
func (m *Embedded) Err() <-chan error { return m.errc }

// Close stops etcd and waits until it has stopped. It is safe to call more
// than once.
func (m *Embedded) Close() {
	m.closeOnce.Do(func() {
		close(m.stop)
		m.closeEtcd()
		<-m.done
	})
}

func (m *Embedded) closeEtcd() {
	// Shutting down makes etcd log every listener it closes as an error.
	m.closing.Store(true)
	m.etcd.Close()
}

// forwardErrors relays etcd's serving errors and an unrequested server stop
// to m.errc until Close, then closes m.errc.
func (m *Embedded) forwardErrors() {
	defer close(m.done)
	defer close(m.errc)
	etcdErrs := m.etcd.Err()
	stopped := m.etcd.Server.StopNotify()
	report := func(err error) {
		select {
		case m.errc <- err:
		default: // one unread failure is enough to act on
		}
	}
	for {
		select {
		case <-m.stop:
			return
		case err, ok := <-etcdErrs:
			if !ok {
				return
			}
			report(fmt.Errorf("store: embedded etcd: %w", err))
		case <-stopped:
			stopped = nil
			report(errors.New("store: embedded etcd stopped unexpectedly"))
		}
	}
}

// etcdConfig builds etcd's configuration. Port 0 in a URL is replaced by a
// free port (etcd would otherwise advertise port 0 to its peers and
// clients); picked reports whether that happened, since the port could be
// taken again before etcd binds it.
func etcdConfig(cfg EmbeddedConfig, closing *atomic.Bool) (ec *embed.Config, picked bool, err error) {
	clientURL, p1, err := resolvePort(cfg.ClientURL)
	if err != nil {
		return nil, false, fmt.Errorf("client URL: %w", err)
	}
	peerURL, p2, err := resolvePort(cfg.PeerURL)
	if err != nil {
		return nil, false, fmt.Errorf("peer URL: %w", err)
	}

	ec = embed.NewConfig()
	ec.Name = cfg.Name
	ec.Dir = cfg.DataDir
	ec.ListenClientUrls = []url.URL{*clientURL}
	ec.AdvertiseClientUrls = []url.URL{*clientURL}
	ec.ListenPeerUrls = []url.URL{*peerURL}
	ec.AdvertisePeerUrls = []url.URL{*peerURL}
	ec.InitialCluster = cfg.Name + "=" + peerURL.String()
	// "new" only bootstraps an empty data dir; an existing member dir is
	// restarted from its own state.
	ec.ClusterState = embed.ClusterStateFlagNew

	// Small footprint: the raft log kept in memory is bounded by
	// SnapshotCount + SnapshotCatchUpEntries entries.
	ec.SnapshotCount = 10000
	ec.SnapshotCatchUpEntries = 1000
	ec.QuotaBackendBytes = 2 << 30
	// Compaction is driven by Store.RunCompactor; retention 0 disables
	// etcd's own.
	ec.AutoCompactionRetention = "0"
	ec.EnableGRPCGateway = false
	ec.Metrics = "basic"

	ec.LogLevel = "warn"
	ec.ZapLoggerBuilder = embed.NewZapLoggerBuilder(newZapLogger(cfg.Logger, zapcore.WarnLevel, "etcd", closing))
	return ec, p1 || p2, nil
}

// resolvePort parses raw and replaces port 0 by a currently free port.
func resolvePort(raw string) (u *url.URL, picked bool, err error) {
	u, err = url.Parse(raw)
	if err != nil {
		return nil, false, err
	}
	if u.Port() != "0" {
		return u, false, nil
	}
	l, err := net.Listen("tcp", net.JoinHostPort(u.Hostname(), "0"))
	if err != nil {
		return nil, false, fmt.Errorf("picking a free port for %s: %w", raw, err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	u.Host = net.JoinHostPort(u.Hostname(), strconv.Itoa(port))
	return u, true, nil
}

// endpointURL is the URL a client dials to reach a listener for configured.
func endpointURL(configured string, addr net.Addr) string {
	scheme := "http"
	if u, err := url.Parse(configured); err == nil && u.Scheme != "" {
		scheme = u.Scheme
	}
	host := addr.String()
	if ta, ok := addr.(*net.TCPAddr); ok && ta.IP.IsUnspecified() {
		host = net.JoinHostPort("127.0.0.1", strconv.Itoa(ta.Port))
	}
	return scheme + "://" + host
}

func addrInUse(err error) bool {
	return errors.Is(err, syscall.EADDRINUSE) || strings.Contains(err.Error(), "address already in use")
}
