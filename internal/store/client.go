package store

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap/zapcore"
	"google.golang.org/grpc"
	"google.golang.org/grpc/backoff"
)

// NewClient returns a client for the etcd cluster at endpoints (URLs such as
// "http://10.0.0.5:2379"; plain HTTP only, TLS is not configured).
//
// It does not wait for etcd: the connection is made in the background and
// re-made whenever it breaks (retrying at least every 5 seconds), so
// NewClient succeeds even while etcd is down, and calls made while etcd is
// unreachable fail with ErrUnavailable after the Store's per-call timeout.
// dialTimeout bounds each connection attempt (0 means 5 seconds). ctx is
// only checked on entry; the client lives until its Close method is called.
// The client's own log lines go to slog.Default() at Error level only.
func NewClient(ctx context.Context, endpoints []string, dialTimeout time.Duration) (*clientv3.Client, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("store: etcd client: %w", err)
	}
	if len(endpoints) == 0 {
		return nil, errors.New("store: etcd client: no endpoints")
	}
	if dialTimeout <= 0 {
		dialTimeout = 5 * time.Second
	}
	// gRPC's default reconnect backoff grows to two minutes, which would
	// keep the server failing long after etcd is back.
	reconnect := backoff.DefaultConfig
	reconnect.MaxDelay = 5 * time.Second
	cli, err := clientv3.New(clientv3.Config{
		Endpoints:   endpoints,
		DialTimeout: dialTimeout,
		// Probe idle connections so a silently dead etcd (host gone, cable
		// pulled) breaks watch streams instead of leaving them hanging.
		DialKeepAliveTime:    30 * time.Second,
		DialKeepAliveTimeout: 10 * time.Second,
		PermitWithoutStream:  true,
		DialOptions: []grpc.DialOption{grpc.WithConnectParams(grpc.ConnectParams{
			Backoff:           reconnect,
			MinConnectTimeout: dialTimeout,
		})},
		Logger: newZapLogger(slog.Default(), zapcore.ErrorLevel, "etcd-client", nil),
	})
	if err != nil {
		return nil, fmt.Errorf("store: etcd client for %v: %w", endpoints, err)
	}
	return cli, nil
}
