package controller

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"sync"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/workqueue"
)

// Reconciler brings the object named by key ("namespace/name" or "name")
// to its desired state. It is called again for the same key whenever the
// key is re-queued; it must be idempotent.
type Reconciler func(ctx context.Context, key string) error

// RequeueAfter is an error that asks for the key to be reconciled again
// after Delay without counting as a failure.
type RequeueAfter struct{ Delay time.Duration }

func (r RequeueAfter) Error() string { return fmt.Sprintf("requeue after %v", r.Delay) }

// Queue is a rate-limited work queue of object keys feeding a Reconciler.
type Queue struct {
	name      string
	q         workqueue.TypedRateLimitingInterface[string]
	reconcile Reconciler
	log       *slog.Logger
}

// NewQueue returns a queue named name (used in logs) for reconcile.
func NewQueue(name string, log *slog.Logger, reconcile Reconciler) *Queue {
	rl := workqueue.NewTypedMaxOfRateLimiter(
		workqueue.NewTypedItemExponentialFailureRateLimiter[string](5*time.Millisecond, 60*time.Second),
		&workqueue.TypedBucketRateLimiter[string]{Limiter: newLimiter()},
	)
	return &Queue{
		name:      name,
		q:         workqueue.NewTypedRateLimitingQueueWithConfig(rl, workqueue.TypedRateLimitingQueueConfig[string]{Name: name}),
		reconcile: reconcile,
		log:       log.With("controller", name),
	}
}

// Add enqueues key now.
func (q *Queue) Add(key string) { q.q.Add(key) }

// AddAfter enqueues key after d.
func (q *Queue) AddAfter(key string, d time.Duration) { q.q.AddAfter(key, d) }

// Enqueue adds the key of obj (an API object or a cache tombstone).
func (q *Queue) Enqueue(obj any) {
	key, err := cache.DeletionHandlingMetaNamespaceKeyFunc(obj)
	if err != nil {
		q.log.Error("cannot compute object key", "err", err)
		return
	}
	q.q.Add(key)
}

// Len is the number of keys waiting.
func (q *Queue) Len() int { return q.q.Len() }

// Run processes keys with workers goroutines until ctx is done, then shuts
// the queue down and waits for the workers.
func (q *Queue) Run(ctx context.Context, workers int) {
	if workers < 1 {
		workers = 1
	}
	var wg sync.WaitGroup
	for i := 0; i < workers; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for q.next(ctx) {
			}
		}()
	}
	<-ctx.Done()
	q.q.ShutDown()
	wg.Wait()
}

func (q *Queue) next(ctx context.Context) bool {
	key, quit := q.q.Get()
	if quit {
		return false
	}
	defer q.q.Done(key)
	err := q.safeReconcile(ctx, key)
	var after RequeueAfter
	switch {
	case err == nil:
		q.q.Forget(key)
	case errors.As(err, &after):
		q.q.Forget(key)
		q.q.AddAfter(key, after.Delay)
	case ctx.Err() != nil:
	default:
		level := slog.LevelInfo
		if apierrors.IsConflict(err) {
			level = slog.LevelDebug // a stale cache; the next event brings the new version
		}
		q.log.Log(ctx, level, "reconcile failed, retrying with back-off", "key", key, "err", err, "retries", q.q.NumRequeues(key))
		q.q.AddRateLimited(key)
	}
	return true
}

// safeReconcile turns a panic in one reconcile into an error for that key.
func (q *Queue) safeReconcile(ctx context.Context, key string) (err error) {
	defer func() {
		if p := recover(); p != nil {
			q.log.Error("panic in reconcile", "key", key, "panic", p, "stack", string(debug.Stack()))
			err = fmt.Errorf("panic: %v", p)
		}
	}()
	return q.reconcile(ctx, key)
}

// Handlers returns informer event handlers that enqueue the key of every
// added, updated and deleted object: the level-triggered default.
func (q *Queue) Handlers() cache.ResourceEventHandlerFuncs {
	return cache.ResourceEventHandlerFuncs{
		AddFunc:    q.Enqueue,
		UpdateFunc: func(_, cur any) { q.Enqueue(cur) },
		DeleteFunc: q.Enqueue,
	}
}

// ChangeHandlers returns informer event handlers that call changed with
// added and updated objects (the new version) and deleted with deleted ones
// (possibly a cache.DeletedFinalStateUnknown tombstone).
func ChangeHandlers(changed, deleted func(obj any)) cache.ResourceEventHandlerFuncs {
	return cache.ResourceEventHandlerFuncs{
		AddFunc:    changed,
		UpdateFunc: func(_, cur any) { changed(cur) },
		DeleteFunc: deleted,
	}
}
