package bench

import (
	"context"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"
)

const (
	// configMapKeys is the number of data keys of each benchmark ConfigMap.
	configMapKeys = 10
	// listLimit is the page size of the per-level list operation.
	listLimit = 100
	// watchDrain bounds the wait for watch events after the update phase.
	watchDrain = 10 * time.Second
	// watchOpenWait bounds the wait for the watch response before updating.
	watchOpenWait = 200 * time.Millisecond
)

// runLevel measures create, get, update (with watch delivery), list and
// delete of n ConfigMaps on c goroutines in namespace ns.
func runLevel(ctx context.Context, cs kubernetes.Interface, log *slog.Logger, ns string, c, n int) (LevelResult, error) {
	res := LevelResult{Clients: c}
	if err := ensureNamespace(ctx, cs, ns); err != nil {
		return res, err
	}
	cms := cs.CoreV1().ConfigMaps(ns)
	objs := make([]*corev1.ConfigMap, n)
	name := func(i int) string { return fmt.Sprintf("cm-%06d", i) }
	run := func(verb string, op func(ctx context.Context, i int, sent time.Time) error) (OpStats, error) {
		log.Info("measuring", "verb", verb, "clients", c, "ops", n, "namespace", ns)
		p, err := parallel(ctx, c, n, op)
		if err != nil {
			return OpStats{}, fmt.Errorf("%s ConfigMaps with %d clients: %w", verb, c, err)
		}
		return p.stats(), nil
	}
	var err error
	if res.Create, err = run("create", func(ctx context.Context, i int, _ time.Time) error {
		cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: name(i)}, Data: map[string]string{}}
		for k := range configMapKeys {
			cm.Data["key-"+strconv.Itoa(k)] = fmt.Sprintf("value %d of object %d, some padding to look real", k, i)
		}
		out, err := cms.Create(ctx, cm, metav1.CreateOptions{})
		objs[i] = out
		return err
	}); err != nil {
		return res, err
	}
	if res.Get, err = run("get", func(ctx context.Context, i int, _ time.Time) error {
		_, err := cms.Get(ctx, name(i), metav1.GetOptions{})
		return err
	}); err != nil {
		return res, err
	}

	// The watch starts at the namespace's current resourceVersion, so it
	// delivers exactly the updates that follow.
	head, err := cms.List(ctx, metav1.ListOptions{Limit: 1})
	if err != nil {
		return res, fmt.Errorf("list ConfigMaps in %s before the watch: %w", ns, err)
	}
	w := startWatch(ctx, cms, head.ResourceVersion, n, log)
	if !w.awaitOpen(watchOpenWait) {
		log.Info("the watch response has not arrived yet; updating anyway (the watch starts at the list's resourceVersion, so no event is lost)",
			"waited", watchOpenWait, "namespace", ns)
	}
	sent := make([]sentUpdate, n)
	res.Update, err = run("update", func(ctx context.Context, i int, t0 time.Time) error {
		cm := objs[i].DeepCopy()
		cm.Data["key-0"] = "updated at " + t0.Format(time.RFC3339Nano)
		out, err := cms.Update(ctx, cm, metav1.UpdateOptions{})
		if err != nil {
			return err
		}
		objs[i] = out
		sent[i] = sentUpdate{key: out.Name + "@" + out.ResourceVersion, at: t0}
		return nil
	})
	delivery, werr := w.finish(ctx, err == nil, sent)
	if err != nil {
		return res, err
	}
	if werr != nil {
		return res, fmt.Errorf("watch ConfigMaps in %s: %w", ns, werr)
	}
	res.WatchDelivery = delivery
	if delivery.Missed > 0 {
		log.Warn("watch did not deliver every update", "clients", c, "missed", delivery.Missed, "of", n)
	}

	if res.List, err = run("list", func(ctx context.Context, i int, _ time.Time) error {
		l, err := cms.List(ctx, metav1.ListOptions{Limit: listLimit})
		if err == nil && len(l.Items) != min(listLimit, n) {
			err = fmt.Errorf("list with limit %d returned %d of %d objects", listLimit, len(l.Items), n)
		}
		return err
	}); err != nil {
		return res, err
	}
	if res.Delete, err = run("delete", func(ctx context.Context, i int, _ time.Time) error {
		return cms.Delete(ctx, name(i), metav1.DeleteOptions{})
	}); err != nil {
		return res, err
	}
	return res, nil
}

// ensureNamespace creates ns unless it exists.
func ensureNamespace(ctx context.Context, cs kubernetes.Interface, ns string) error {
	_, err := cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{})
	if err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("create namespace %s: %w", ns, err)
	}
	return nil
}

// sentUpdate is an update as the client saw it: the name@resourceVersion it
// produced and when its request was sent.
type sentUpdate struct {
	key string
	at  time.Time
}

// watcher records when each MODIFIED event arrives, by name@resourceVersion.
type watcher struct {
	log      *slog.Logger
	want     int
	cancel   context.CancelFunc
	mu       sync.Mutex
	arrivals map[string]time.Time
	err      error         // why the watch could not be opened
	open     chan struct{} // closed once the watch response arrived
	full     chan struct{} // closed when want events arrived
	done     chan struct{} // closed when the watch goroutine ended
}

type configMapWatcher interface {
	Watch(ctx context.Context, opts metav1.ListOptions) (watch.Interface, error)
}

// startWatch opens, in the background, a watch from resourceVersion rv
// that expects want MODIFIED events. Call finish to stop it.
//
// The watch is opened asynchronously because a server may send the
// response headers of a watch only with its first event; the watch starts
// at rv, so no event is lost however late it is established.
func startWatch(ctx context.Context, c configMapWatcher, rv string, want int, log *slog.Logger) *watcher {
	ctx, cancel := context.WithCancel(ctx)
	wt := &watcher{log: log, want: want, cancel: cancel, arrivals: make(map[string]time.Time, want),
		open: make(chan struct{}), full: make(chan struct{}), done: make(chan struct{})}
	go wt.run(ctx, c, rv)
	return wt
}

func (wt *watcher) run(ctx context.Context, c configMapWatcher, rv string) {
	defer close(wt.done)
	w, err := c.Watch(ctx, metav1.ListOptions{ResourceVersion: rv})
	if err != nil {
		wt.err = err
		return
	}
	defer w.Stop()
	close(wt.open)
	for {
		var ev watch.Event
		var ok bool
		select {
		case <-ctx.Done():
			return
		case ev, ok = <-w.ResultChan():
			if !ok {
				return
			}
		}
		now := time.Now()
		switch ev.Type {
		case watch.Modified:
			cm, ok := ev.Object.(*corev1.ConfigMap)
			if !ok {
				continue
			}
			wt.mu.Lock()
			wt.arrivals[cm.Name+"@"+cm.ResourceVersion] = now
			if len(wt.arrivals) == wt.want {
				close(wt.full)
			}
			wt.mu.Unlock()
		case watch.Error:
			wt.log.Warn("watch error event", "object", fmt.Sprintf("%v", ev.Object))
		}
	}
}

// awaitOpen waits up to d for the watch response; it reports whether the
// watch is open.
func (wt *watcher) awaitOpen(d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-wt.open:
		return true
	case <-wt.done:
	case <-t.C:
	}
	return false
}

// finish waits (when wait is set) until every update was delivered or
// watchDrain passed, stops the watch, waits for its goroutine and returns
// the delivery latencies of the updates in sent.
func (wt *watcher) finish(ctx context.Context, wait bool, sent []sentUpdate) (WatchStats, error) {
	if wait {
		t := time.NewTimer(watchDrain)
		select {
		case <-wt.full:
		case <-wt.done:
		case <-t.C:
		case <-ctx.Done():
		}
		t.Stop()
	}
	wt.cancel()
	<-wt.done
	if wt.err != nil {
		return WatchStats{}, wt.err
	}
	lat := make([]time.Duration, 0, len(sent))
	missed := 0
	for _, s := range sent {
		at, ok := wt.arrivals[s.key]
		if !ok {
			missed++
			continue
		}
		lat = append(lat, at.Sub(s.at))
	}
	ms := SortedMillis(lat)
	return WatchStats{P50Ms: round(Percentile(ms, 50), 3), P99Ms: round(Percentile(ms, 99), 3), Missed: missed}, nil
}
