package store

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// leasePool shares etcd leases between the expiring writes of one TTL, as
// the Kubernetes API server does for events: one grant per reuse window
// instead of one per write.
type leasePool struct {
	reuse time.Duration
	mu    sync.Mutex
	byTTL map[time.Duration]pooledLease
}

// pooledLease is a granted lease and when it was granted.
type pooledLease struct {
	id      clientv3.LeaseID
	granted time.Time
}

// leaseFor returns a lease under which a key written now expires between
// ttl and ttl+reuse from now, reuse being at most 5 % of ttl.
func (s *Store) leaseFor(ctx context.Context, ttl time.Duration) (clientv3.LeaseID, error) {
	p := &s.leases
	p.mu.Lock()
	defer p.mu.Unlock()
	now := time.Now()
	reuse := min(p.reuse, ttl/20) // a short TTL stays short
	if l, ok := p.byTTL[ttl]; ok && now.Sub(l.granted) < reuse {
		return l.id, nil
	}
	secs := int64((ttl + reuse + time.Second - 1) / time.Second) // rounded up
	cctx, cancel := s.call(ctx)
	defer cancel()
	resp, err := s.cli.Grant(cctx, secs)
	if err != nil {
		return 0, wrapErr(ctx, cctx, "grant lease", fmt.Sprintf("%ds", secs), err)
	}
	if p.byTTL == nil {
		p.byTTL = map[time.Duration]pooledLease{}
	}
	p.byTTL[ttl] = pooledLease{id: resp.ID, granted: now}
	return resp.ID, nil
}

// forgetLease drops a pooled lease that etcd no longer knows (revoked, or
// expired while the store could not reach etcd).
func (s *Store) forgetLease(ttl time.Duration, id clientv3.LeaseID) {
	p := &s.leases
	p.mu.Lock()
	defer p.mu.Unlock()
	if l, ok := p.byTTL[ttl]; ok && l.id == id {
		delete(p.byTTL, ttl)
	}
}

// withLease runs write with the lease of an expiring write of ttl (no
// lease when ttl is 0); a lease etcd lost is replaced once.
func (s *Store) withLease(ctx context.Context, ttl time.Duration, write func(lease clientv3.LeaseID) (int64, error)) (int64, error) {
	if ttl <= 0 {
		return write(clientv3.NoLease)
	}
	for attempt := 0; ; attempt++ {
		id, err := s.leaseFor(ctx, ttl)
		if err != nil {
			return 0, err
		}
		rev, err := write(id)
		if err != nil && attempt == 0 && errors.Is(err, rpctypes.ErrLeaseNotFound) {
			s.forgetLease(ttl, id)
			continue
		}
		return rev, err
	}
}
