package store

import (
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// leaseOf returns the lease key is attached to (0: none).
func leaseOf(t *testing.T, s *Store, key string) clientv3.LeaseID {
	t.Helper()
	resp, err := s.Client().Get(ctxT(t), s.full(key))
	if err != nil || len(resp.Kvs) != 1 {
		t.Fatalf("raw get %s: %v, %d kvs", key, err, len(resp.Kvs))
	}
	return clientv3.LeaseID(resp.Kvs[0].Lease)
}

func TestExpiringWritesShareALease(t *testing.T) {
	s := sharedStore(t)
	ctx := ctxT(t)
	if _, err := s.CreateTTL(ctx, "events/a", []byte("a"), time.Hour, "reservations/x"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.CreateTTL(ctx, "events/b", []byte("b"), time.Hour); err != nil {
		t.Fatal(err)
	}
	if _, err := s.CreateTTL(ctx, "other/c", []byte("c"), 2*time.Hour); err != nil {
		t.Fatal(err)
	}
	mustCreate(t, s, "pods/p", "p")
	a, b, c := leaseOf(t, s, "events/a"), leaseOf(t, s, "events/b"), leaseOf(t, s, "other/c")
	if a == 0 || a != b {
		t.Errorf("leases %x and %x: want one shared lease for one TTL within the reuse window", a, b)
	}
	if c == 0 || c == a {
		t.Errorf("lease of another TTL %x (first TTL's %x): want a lease of its own", c, a)
	}
	if l := leaseOf(t, s, "reservations/x"); l != 0 {
		t.Errorf("reservation key has lease %x: reservations must not expire", l)
	}
	if l := leaseOf(t, s, "pods/p"); l != 0 {
		t.Errorf("Create without TTL attached lease %x", l)
	}
	ttl, err := s.Client().TimeToLive(ctx, a)
	if err != nil || ttl.GrantedTTL < 3600+60 || ttl.GrantedTTL > 3600+61 {
		t.Errorf("granted TTL %d s (%v): want the TTL plus the minute of reuse", ttl.GrantedTTL, err)
	}

	// An update restarts the expiry; an update without TTL ends it.
	rev, err := s.UpdateTTL(ctx, "events/a", []byte("a2"), 0, time.Hour, nil, nil)
	if err != nil || leaseOf(t, s, "events/a") == 0 {
		t.Fatalf("UpdateTTL: rev %d, %v, lease %x", rev, err, leaseOf(t, s, "events/a"))
	}
	if _, err := s.Update(ctx, "events/a", []byte("a3"), rev, nil, nil); err != nil {
		t.Fatal(err)
	}
	if l := leaseOf(t, s, "events/a"); l != 0 {
		t.Errorf("after Update without TTL the key still has lease %x", l)
	}

	// A lease etcd lost (revoked here) is replaced, and the write succeeds.
	if _, err := s.Client().Revoke(ctx, a); err != nil {
		t.Fatal(err)
	}
	if _, err := s.CreateTTL(ctx, "events/d", []byte("d"), time.Hour); err != nil {
		t.Fatalf("CreateTTL after the pooled lease was revoked: %v", err)
	}
	if d := leaseOf(t, s, "events/d"); d == 0 || d == a {
		t.Errorf("lease %x after the revoke of %x: want a new one", d, a)
	}
}

func TestExpiringKeyIsDeleted(t *testing.T) {
	s := sharedStore(t)
	s.leases.reuse = 0 // a lease per write (1 s would reuse for 50 ms anyway)
	ctx := ctxT(t)
	w := s.Watch(ctx, "events/", 0)
	defer w.Stop()
	if _, err := s.CreateTTL(ctx, "events/short", []byte("x"), time.Second); err != nil {
		t.Fatal(err)
	}
	mustCreate(t, s, "events/kept", "y")
	deadline := time.After(15 * time.Second) // etcd's shortest lease is a few seconds
	for {
		select {
		case ev, ok := <-w.Events():
			if !ok {
				t.Fatal("watch ended")
			}
			if ev.Type == Delete {
				if ev.Key != "events/short" {
					t.Fatalf("deleted %s, want events/short", ev.Key)
				}
				if _, err := s.Get(ctx, "events/kept"); err != nil {
					t.Errorf("the key without TTL: %v", err)
				}
				return
			}
		case <-deadline:
			t.Fatal("the expiring key was not deleted within 15 s")
		}
	}
}
