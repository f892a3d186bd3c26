package store

import (
	"context"
	"fmt"
	"time"

	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// reservedValue is what a reservation key holds; only its existence matters.
const reservedValue = "1"

// Create writes key only if it does not exist and returns the revision of
// the write. The reserve keys are created in the same transaction and must
// not exist either. If any of the keys exists, nothing is written and the
// error wraps ErrExists and names the key.
func (s *Store) Create(ctx context.Context, key string, value []byte, reserve ...string) (int64, error) {
	return s.CreateTTL(ctx, key, value, 0, reserve...)
}

// CreateTTL is Create for a key that expires: etcd deletes it (a watch
// sees the deletion) between ttl and ttl+Options.LeaseReuse after its
// last write, unless a later write without a TTL keeps it. ttl 0 means no
// expiry; the reserve keys never expire.
func (s *Store) CreateTTL(ctx context.Context, key string, value []byte, ttl time.Duration, reserve ...string) (int64, error) {
	if err := distinct(key, reserve, nil); err != nil {
		return 0, fmt.Errorf("store: create %q: %w", key, err)
	}
	return s.withLease(ctx, ttl, func(lease clientv3.LeaseID) (int64, error) {
		t := s.newTxn(len(reserve) + 1)
		t.mustNotExist(s.full(key), string(value), clientv3.WithLease(lease))
		for _, r := range reserve {
			t.mustNotExist(s.full(r), reservedValue)
		}
		resp, err := s.commit(ctx, t, "create", key)
		if err != nil {
			return 0, err
		}
		if !resp.Succeeded {
			return 0, existsError("create", key, reserve, resp.Responses)
		}
		return resp.Header.Revision, nil
	})
}

// Update writes key only if its ModRevision equals expectedRev and returns
// the revision of the write; expectedRev 0 accepts any revision of an
// existing key. In the same transaction the reserve keys are created (they
// must not exist) and the release keys deleted. It fails with ErrNotFound if
// key is missing, ErrConflict if its revision differs and ErrExists if a
// reserve key exists; on failure nothing is written.
func (s *Store) Update(ctx context.Context, key string, value []byte, expectedRev int64, reserve, release []string) (int64, error) {
	return s.UpdateTTL(ctx, key, value, expectedRev, 0, reserve, release)
}

// UpdateTTL is Update that (re)starts the key's expiry as CreateTTL does;
// with ttl 0 the key no longer expires.
func (s *Store) UpdateTTL(ctx context.Context, key string, value []byte, expectedRev int64, ttl time.Duration, reserve, release []string) (int64, error) {
	if err := distinct(key, reserve, release); err != nil {
		return 0, fmt.Errorf("store: update %q: %w", key, err)
	}
	return s.withLease(ctx, ttl, func(lease clientv3.LeaseID) (int64, error) {
		t := s.newTxn(len(reserve) + len(release) + 1)
		t.mustHaveRevision(s.full(key), expectedRev)
		t.then = append(t.then, clientv3.OpPut(s.full(key), string(value), clientv3.WithLease(lease)))
		for _, r := range reserve {
			t.mustNotExist(s.full(r), reservedValue)
		}
		for _, r := range release {
			t.then = append(t.then, clientv3.OpDelete(s.full(r)))
		}
		resp, err := s.commit(ctx, t, "update", key)
		if err != nil {
			return 0, err
		}
		if !resp.Succeeded {
			if err := keyPrecondition("update", key, expectedRev, resp.Responses[0]); err != nil {
				return 0, err
			}
			return 0, existsError("update", key, reserve, resp.Responses[1:])
		}
		return resp.Header.Revision, nil
	})
}

// Delete removes key if its ModRevision equals expectedRev (0 accepts any)
// and returns the revision of the delete. The release keys are deleted in the
// same transaction. It fails with ErrNotFound if key is missing and
// ErrConflict if its revision differs.
func (s *Store) Delete(ctx context.Context, key string, expectedRev int64, release ...string) (int64, error) {
	if err := distinct(key, nil, release); err != nil {
		return 0, fmt.Errorf("store: delete %q: %w", key, err)
	}
	t := s.newTxn(len(release) + 1)
	t.mustHaveRevision(s.full(key), expectedRev)
	t.then = append(t.then, clientv3.OpDelete(s.full(key)))
	for _, r := range release {
		t.then = append(t.then, clientv3.OpDelete(s.full(r)))
	}
	resp, err := s.commit(ctx, t, "delete", key)
	if err != nil {
		return 0, err
	}
	if !resp.Succeeded {
		return 0, keyPrecondition("delete", key, expectedRev, resp.Responses[0])
	}
	return resp.Header.Revision, nil
}

// txn collects the parts of one etcd transaction. Every compared key gets
// a read in the else branch, in the same order, so a failed transaction
// tells which condition failed.
type txn struct {
	cmps      []clientv3.Cmp
	then, els []clientv3.Op
}

func (s *Store) newTxn(n int) *txn {
	return &txn{
		cmps: make([]clientv3.Cmp, 0, n),
		then: make([]clientv3.Op, 0, n),
		els:  make([]clientv3.Op, 0, n),
	}
}

// mustNotExist puts value at key on success, requiring the key to be absent.
func (t *txn) mustNotExist(key, value string, opts ...clientv3.OpOption) {
	t.cmps = append(t.cmps, clientv3.Compare(clientv3.ModRevision(key), "=", 0))
	t.then = append(t.then, clientv3.OpPut(key, value, opts...))
	t.els = append(t.els, clientv3.OpGet(key, clientv3.WithKeysOnly()))
}

// mustHaveRevision requires key to exist with ModRevision rev (any if 0).
func (t *txn) mustHaveRevision(key string, rev int64) {
	if rev > 0 {
		t.cmps = append(t.cmps, clientv3.Compare(clientv3.ModRevision(key), "=", rev))
	} else {
		t.cmps = append(t.cmps, clientv3.Compare(clientv3.CreateRevision(key), ">", 0))
	}
	t.els = append(t.els, clientv3.OpGet(key, clientv3.WithKeysOnly()))
}

// commit runs t within the per-call timeout; errors are already wrapped.
func (s *Store) commit(ctx context.Context, t *txn, op, key string) (*clientv3.TxnResponse, error) {
	cctx, cancel := s.call(ctx)
	defer cancel()
	resp, err := s.cli.Txn(cctx).If(t.cmps...).Then(t.then...).Else(t.els...).Commit()
	return resp, wrapErr(ctx, cctx, op, key, err)
}

// keyPrecondition explains why the revision check on key failed, from the
// else-branch read of key; nil if the check did not fail.
func keyPrecondition(op, key string, expectedRev int64, r *pb.ResponseOp) error {
	kvs := r.GetResponseRange().GetKvs()
	if len(kvs) == 0 {
		return fmt.Errorf("store: %s %q: %w", op, key, ErrNotFound)
	}
	if expectedRev > 0 && kvs[0].ModRevision != expectedRev {
		return fmt.Errorf("store: %s %q: expected revision %d, found %d: %w",
			op, key, expectedRev, kvs[0].ModRevision, ErrConflict)
	}
	return nil
}

// existsError names the first key whose must-not-exist check failed, from
// the else-branch reads rs: for "create" the main key's read comes first,
// then one per reserve key.
func existsError(op, key string, reserve []string, rs []*pb.ResponseOp) error {
	names := reserve
	if op == "create" {
		names = append([]string{key}, reserve...)
	}
	for i, r := range rs {
		if i < len(names) && len(r.GetResponseRange().GetKvs()) > 0 {
			if op == "create" && i == 0 {
				return fmt.Errorf("store: %s %q: %w", op, key, ErrExists)
			}
			return fmt.Errorf("store: %s %q: reservation %q: %w", op, key, names[i], ErrExists)
		}
	}
	// Unreachable: the else-branch reads run in the same transaction as the
	// failed comparisons. Report a conflict so that callers retry.
	return fmt.Errorf("store: %s %q: transaction failed without a failing condition: %w", op, key, ErrConflict)
}

// distinct rejects a transaction that names the same key twice; etcd
// refuses such transactions and the intent would be ambiguous anyway.
func distinct(key string, reserve, release []string) error {
	seen := make(map[string]bool, 1+len(reserve)+len(release))
	seen[key] = true
	for _, list := range [][]string{reserve, release} {
		for _, k := range list {
			if seen[k] {
				return fmt.Errorf("key %q named twice in one transaction", k)
			}
			seen[k] = true
		}
	}
	return nil
}
