package store

import (
	"fmt"
	"strings"
	"testing"
)

func TestCreateGet(t *testing.T) {
	s := sharedStore(t)
	ctx := ctxT(t)

	rev := mustCreate(t, s, "pods/a", "v1")
	kv := mustGet(t, s, "pods/a")
	if kv.Key != "pods/a" || string(kv.Value) != "v1" || kv.ModRevision != rev {
		t.Fatalf("Get = %+v, want pods/a=v1 at %d", kv, rev)
	}

	_, err := s.Create(ctx, "pods/a", []byte("v2"))
	wantErr(t, "Create existing", err, ErrExists)
	if kv := mustGet(t, s, "pods/a"); string(kv.Value) != "v1" || kv.ModRevision != rev {
		t.Fatalf("failed Create changed the key: %+v", kv)
	}

	_, err = s.Get(ctx, "pods/missing")
	wantErr(t, "Get missing", err, ErrNotFound)

	// Keys are relative to the prefix: the raw etcd key carries it.
	resp, err := s.Client().Get(ctx, s.prefix+"pods/a")
	if err != nil || len(resp.Kvs) != 1 {
		t.Fatalf("raw get: %v, %d kvs", err, len(resp.Kvs))
	}
}

func TestUpdate(t *testing.T) {
	s := sharedStore(t)
	rev := mustCreate(t, s, "obj", "v1")

	cases := []struct {
		name    string
		key     string
		rev     func() int64
		wantErr error
	}{
		{"wrong revision", "obj", func() int64 { return rev - 1 }, ErrConflict},
		{"right revision", "obj", func() int64 { return rev }, nil},
		{"stale revision after update", "obj", func() int64 { return rev - 1 }, ErrConflict},
		{"any revision", "obj", func() int64 { return 0 }, nil},
		{"missing key", "nope", func() int64 { return rev }, ErrNotFound},
		{"missing key any revision", "nope", func() int64 { return 0 }, ErrNotFound},
	}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			value := fmt.Sprintf("v%d", i+2)
			before, _ := s.Get(ctxT(t), c.key)
			newRev, err := s.Update(ctxT(t), c.key, []byte(value), c.rev(), nil, nil)
			wantErr(t, "Update", err, c.wantErr)
			after, _ := s.Get(ctxT(t), c.key)
			if c.wantErr != nil {
				if string(after.Value) != string(before.Value) || after.ModRevision != before.ModRevision {
					t.Fatalf("failed Update changed the key: %+v -> %+v", before, after)
				}
				return
			}
			if string(after.Value) != value || after.ModRevision != newRev || newRev <= before.ModRevision {
				t.Fatalf("after Update = %+v (returned rev %d), want %s at a new revision", after, newRev, value)
			}
			rev = newRev
		})
	}
}

func TestDelete(t *testing.T) {
	s := sharedStore(t)
	revA := mustCreate(t, s, "a", "1")
	mustCreate(t, s, "b", "1")

	cases := []struct {
		name    string
		key     string
		rev     int64
		wantErr error
	}{
		{"wrong revision", "a", revA + 100, ErrConflict},
		{"right revision", "a", revA, nil},
		{"already deleted", "a", revA, ErrNotFound},
		{"any revision", "b", 0, nil},
		{"missing any revision", "b", 0, ErrNotFound},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			before := exists(t, s, c.key)
			rev, err := s.Delete(ctxT(t), c.key, c.rev)
			wantErr(t, "Delete", err, c.wantErr)
			if got := exists(t, s, c.key); c.wantErr == nil && got || c.wantErr != nil && got != before {
				t.Fatalf("key exists = %v after Delete (err %v)", got, err)
			}
			if c.wantErr == nil {
				cur, err := s.CurrentRevision(ctxT(t))
				if err != nil || rev != cur {
					t.Fatalf("Delete returned revision %d, current is %d (%v)", rev, cur, err)
				}
			}
		})
	}
}

func TestReservations(t *testing.T) {
	s := sharedStore(t)
	ctx := ctxT(t)

	// Create with reservations writes all keys at one revision.
	rev := mustCreate(t, s, "svc/a", "a", "ip/10.0.0.1", "port/30001")
	for _, k := range []string{"ip/10.0.0.1", "port/30001"} {
		if kv := mustGet(t, s, k); kv.ModRevision != rev {
			t.Fatalf("%s at revision %d, want %d", k, kv.ModRevision, rev)
		}
	}

	// A Create whose reservation is taken writes nothing and names the key.
	_, err := s.Create(ctx, "svc/b", []byte("b"), "ip/10.0.0.2", "ip/10.0.0.1")
	wantErr(t, "Create with taken reservation", err, ErrExists)
	if !strings.Contains(err.Error(), "ip/10.0.0.1") {
		t.Fatalf("error %q does not name the taken key", err)
	}
	for _, k := range []string{"svc/b", "ip/10.0.0.2"} {
		if exists(t, s, k) {
			t.Fatalf("%s written by a failed Create", k)
		}
	}

	// A Create of an existing key does not take its reservations either.
	_, err = s.Create(ctx, "svc/a", []byte("a2"), "ip/10.0.0.3")
	wantErr(t, "Create existing with reservation", err, ErrExists)
	if exists(t, s, "ip/10.0.0.3") {
		t.Fatal("reservation written by a failed Create")
	}

	// Update swaps a reservation atomically.
	rev, err = s.Update(ctx, "svc/a", []byte("a2"), rev, []string{"port/30002"}, []string{"port/30001"})
	wantErr(t, "Update swapping port", err, nil)
	if exists(t, s, "port/30001") || !exists(t, s, "port/30002") {
		t.Fatal("Update did not swap the port reservation")
	}

	// An Update whose reservation is taken changes nothing.
	mustCreate(t, s, "svc/c", "c", "port/30003")
	_, err = s.Update(ctx, "svc/a", []byte("a3"), rev, []string{"port/30003"}, []string{"port/30002"})
	wantErr(t, "Update with taken reservation", err, ErrExists)
	if !strings.Contains(err.Error(), "port/30003") {
		t.Fatalf("error %q does not name the taken key", err)
	}
	if kv := mustGet(t, s, "svc/a"); string(kv.Value) != "a2" || kv.ModRevision != rev || !exists(t, s, "port/30002") {
		t.Fatal("failed Update changed something")
	}

	// A conflicting Update reports the conflict, not the reservation.
	_, err = s.Update(ctx, "svc/a", []byte("a3"), rev-1, []string{"port/30003"}, nil)
	wantErr(t, "Update stale with taken reservation", err, ErrConflict)

	// A conflicting Delete keeps the reservations.
	_, err = s.Delete(ctx, "svc/a", rev-1, "ip/10.0.0.1", "port/30002")
	wantErr(t, "Delete stale", err, ErrConflict)
	if !exists(t, s, "ip/10.0.0.1") || !exists(t, s, "port/30002") {
		t.Fatal("failed Delete released reservations")
	}

	// Delete releases them in the same revision.
	_, err = s.Delete(ctx, "svc/a", rev, "ip/10.0.0.1", "port/30002")
	wantErr(t, "Delete", err, nil)
	for _, k := range []string{"svc/a", "ip/10.0.0.1", "port/30002"} {
		if exists(t, s, k) {
			t.Fatalf("%s still exists after Delete", k)
		}
	}

	// The same key twice is refused before reaching etcd.
	_, err = s.Create(ctx, "svc/d", nil, "svc/d")
	if err == nil {
		t.Fatal("Create with duplicate key succeeded")
	}
}

func TestListPagingSnapshot(t *testing.T) {
	s := sharedStore(t)
	ctx := ctxT(t)
	var want []string
	for i := range 10 {
		k := fmt.Sprintf("items/%02d", i)
		mustCreate(t, s, k, "orig")
		want = append(want, k+"=orig")
	}
	// Neighbours that share a string prefix but not the "items/" prefix.
	mustCreate(t, s, "items0", "x")
	mustCreate(t, s, "itemsz/1", "x")

	var got []KV
	var rev int64
	after := ""
	for page := 0; ; page++ {
		kvs, r, more, err := s.List(ctx, "items/", ListOptions{Revision: rev, StartAfter: after, Limit: 3})
		if err != nil {
			t.Fatalf("page %d: %v", page, err)
		}
		if rev == 0 {
			rev = r
		} else if r != rev {
			t.Fatalf("page %d read at %d, want %d", page, r, rev)
		}
		got = append(got, kvs...)
		if len(kvs) > 0 {
			after = kvs[len(kvs)-1].Key
		}
		// Write between pages: these must not show up in the snapshot.
		if _, err := s.Update(ctx, "items/09", []byte("changed"), 0, nil, nil); err != nil {
			t.Fatal(err)
		}
		if page == 0 {
			if _, err := s.Delete(ctx, "items/05", 0); err != nil {
				t.Fatal(err)
			}
			mustCreate(t, s, "items/055", "new")
		}
		if !more {
			break
		}
		if page > 10 {
			t.Fatal("paging does not end")
		}
	}
	if g, w := keysOf(got), strings.Join(want, " "); g != w {
		t.Fatalf("paged snapshot:\n got %s\nwant %s", g, w)
	}

	// A fresh list sees the writes.
	kvs, rev2, more, err := s.List(ctx, "items/", ListOptions{})
	if err != nil || more || rev2 <= rev {
		t.Fatalf("List latest: rev %d more %v err %v", rev2, more, err)
	}
	if len(kvs) != 10 || string(kvs[9].Value) != "changed" || kvs[5].Key != "items/055" {
		t.Fatalf("List latest = %s", keysOf(kvs))
	}
	n, err := s.Count(ctx, "items/")
	if err != nil || n != 10 {
		t.Fatalf("Count = %d, %v; want 10", n, err)
	}

	// StartAfter past every key, or a prefix with no keys, lists nothing.
	for _, c := range []struct{ prefix, after string }{{"items/", "items/99"}, {"items/", "zzz"}, {"none/", ""}} {
		kvs, r, more, err := s.List(ctx, c.prefix, ListOptions{StartAfter: c.after, Revision: rev})
		if err != nil || len(kvs) != 0 || more || r != rev {
			t.Fatalf("List(%q after %q) = %s, %d, %v, %v", c.prefix, c.after, keysOf(kvs), r, more, err)
		}
	}
}

func TestListRevisionErrors(t *testing.T) {
	s := sharedStore(t)
	ctx := ctxT(t)
	old := mustCreate(t, s, "k", "1")
	if _, err := s.Update(ctx, "k", []byte("2"), old, nil, nil); err != nil {
		t.Fatal(err)
	}
	cur, err := s.CurrentRevision(ctx)
	if err != nil {
		t.Fatal(err)
	}
	wantErr(t, "Compact", s.Compact(ctx, cur), nil)
	wantErr(t, "Compact again", s.Compact(ctx, cur), ErrCompacted)
	wantErr(t, "Compact future", s.Compact(ctx, cur+1000), ErrFutureRevision)

	cases := []struct {
		name string
		opts ListOptions
		want error
	}{
		{"compacted", ListOptions{Revision: old}, ErrCompacted},
		{"compacted empty range", ListOptions{Revision: old, StartAfter: "zzz"}, ErrCompacted},
		{"future", ListOptions{Revision: cur + 1000}, ErrFutureRevision},
		{"compaction point", ListOptions{Revision: cur}, nil},
		{"latest", ListOptions{}, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, _, _, err := s.List(ctx, "", c.opts)
			wantErr(t, "List", err, c.want)
		})
	}
}
