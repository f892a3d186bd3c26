package store

import (
	"context"
	"errors"
	"fmt"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// Sentinel errors returned (possibly wrapped) by Store methods; test for them
// with errors.Is.
var (
	// ErrNotFound means the key does not exist.
	ErrNotFound = errors.New("store: key not found")
	// ErrExists means a key that had to be absent (the created key or a
	// reservation) already exists.
	ErrExists = errors.New("store: key already exists")
	// ErrConflict means the key's ModRevision differs from the expected one:
	// someone else wrote it since the caller read it.
	ErrConflict = errors.New("store: revision conflict")
	// ErrCompacted means the requested revision has been compacted away.
	ErrCompacted = errors.New("store: revision compacted")
	// ErrFutureRevision means the requested revision is newer than the
	// store's current revision.
	ErrFutureRevision = errors.New("store: revision is in the future")
	// ErrUnavailable means etcd could not be reached or did not answer within
	// the per-call timeout (down, unreachable, no leader). It is transient:
	// callers should report "try again later" rather than fail hard.
	ErrUnavailable = errors.New("store: etcd unavailable")
)

// wrapErr converts an error from an etcd call into the package's error
// vocabulary. parent is the caller's context, call the per-call context
// derived from it (nil when the call had no timeout of its own).
func wrapErr(parent, call context.Context, op, key string, err error) error {
	if err == nil {
		return nil
	}
	where := op
	if key != "" {
		where = fmt.Sprintf("%s %q", op, key)
	}
	switch {
	case errors.Is(err, rpctypes.ErrCompacted):
		return fmt.Errorf("store: %s: %w", where, ErrCompacted)
	case errors.Is(err, rpctypes.ErrFutureRev):
		return fmt.Errorf("store: %s: %w", where, ErrFutureRevision)
	}
	if parent != nil && parent.Err() != nil {
		// The caller gave up (cancelled or its own deadline passed): report
		// that, not an etcd outage.
		return fmt.Errorf("store: %s: %w", where, context.Cause(parent))
	}
	if (call != nil && errors.Is(call.Err(), context.DeadlineExceeded)) || isUnavailable(err) {
		// The cause is kept as text only: errors.Is(err,
		// context.DeadlineExceeded) must not suggest the caller's deadline.
		return fmt.Errorf("store: %s: %w: %v", where, ErrUnavailable, err)
	}
	return fmt.Errorf("store: %s: %w", where, err)
}

// isUnavailable reports whether err is etcd's or gRPC's way of saying that
// the cluster cannot serve the request right now.
func isUnavailable(err error) bool {
	var ee rpctypes.EtcdError
	if errors.As(err, &ee) {
		return ee.Code() == codes.Unavailable
	}
	if errors.Is(err, context.DeadlineExceeded) || clientv3.IsConnCanceled(err) {
		return true
	}
	if s, ok := status.FromError(err); ok {
		switch s.Code() {
		case codes.Unavailable, codes.DeadlineExceeded:
			return true
		}
	}
	return false
}
