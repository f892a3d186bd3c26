package gc

import (
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/types"
)

// recentTTL is how long the collector remembers a delete it issued; by
// then the caches show the object terminating or gone.
const recentTTL = 30 * time.Second

// recentDeletes remembers the UIDs the collector deleted successfully, so
// that reconciles running on caches that do not show the deletion yet do
// not repeat it (a DELETE precondition on the UID means a success deleted
// exactly that object; repeating it is never needed).
type recentDeletes struct {
	mu  sync.Mutex
	at  map[types.UID]time.Time
	now func() time.Time
}

func newRecentDeletes(now func() time.Time) *recentDeletes {
	if now == nil {
		now = time.Now
	}
	return &recentDeletes{at: map[types.UID]time.Time{}, now: now}
}

// has reports whether uid was deleted within recentTTL.
func (r *recentDeletes) has(uid types.UID) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	t, ok := r.at[uid]
	return ok && r.now().Sub(t) < recentTTL
}

// add records a successful delete of uid and forgets expired ones.
func (r *recentDeletes) add(uid types.UID) {
	r.mu.Lock()
	defer r.mu.Unlock()
	now := r.now()
	for k, t := range r.at {
		if now.Sub(t) >= recentTTL {
			delete(r.at, k)
		}
	}
	r.at[uid] = now
}
