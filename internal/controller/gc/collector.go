package gc

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/berth-dev/berth/internal/controller"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/client-go/metadata"
	"k8s.io/client-go/metadata/metadatainformer"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/cache"
)

// Name is the controller's name in logs and the enable list.
const Name = "garbagecollector"

// Cache indexes the collector adds to every informer it uses.
const (
	ownerIndex = "gc.berth.io/owner-uid" // objects by the UIDs of their owners
	uidIndex   = "gc.berth.io/uid"       // objects by their own UID
)

// resyncPeriod is how often every owner and terminating object is
// enqueued again, to repair anything a lost event left undone.
const resyncPeriod = 30 * time.Second

// Collector is the garbage collector.
type Collector struct {
	api    apiClient
	res    resources
	cached []*resource // the watched resources that have an informer
	queue  *controller.Queue
	recent *recentDeletes
	log    *slog.Logger
	// own is the metadata informer factory the collector starts itself
	// (NewWithConfig); nil when it uses the shared typed informers.
	own metadatainformer.SharedInformerFactory
}

// New builds the garbage collector on the shared typed informers of cctx,
// for every discovered resource the typed informer factory knows.
func New(cctx *controller.Context) (controller.Controller, error) {
	return build(cctx, nil)
}

// NewWithConfig returns a factory for a garbage collector that watches
// every discovered resource with metadata-only informers built from cfg.
func NewWithConfig(cfg *rest.Config) controller.Factory {
	return func(cctx *controller.Context) (controller.Controller, error) {
		if cfg == nil {
			return nil, fmt.Errorf("gc: NewWithConfig: nil rest.Config")
		}
		return build(cctx, cfg)
	}
}

// build discovers the resources, sets up their informers with the
// collector's indexes and event handlers, and returns the collector.
func build(cctx *controller.Context, cfg *rest.Config) (*Collector, error) {
	parent := cctx.Logger
	if parent == nil {
		parent = slog.Default()
	}
	log := parent.With("controller", Name)
	rs, err := discover(cctx.Client.Discovery(), log)
	if err != nil {
		return nil, err
	}
	c := &Collector{api: apiClient{rc: cctx.Client.CoreV1().RESTClient()}, res: rs, log: log, recent: newRecentDeletes(nil)}
	c.queue = controller.NewQueue(Name, parent, c.reconcile)
	if cfg != nil {
		mcfg := rest.CopyConfig(cfg)
		if mcfg.UserAgent == "" {
			mcfg.UserAgent = "berth-" + Name
		}
		mc, err := metadata.NewForConfig(mcfg)
		if err != nil {
			return nil, fmt.Errorf("gc: metadata client: %w", err)
		}
		c.own = metadatainformer.NewSharedInformerFactory(mc, 0)
	}
	for _, r := range rs.watched {
		var inf cache.SharedIndexInformer
		if c.own != nil {
			inf = c.own.ForResource(r.gvr).Informer()
		} else {
			gi, err := cctx.Informers.ForResource(r.gvr)
			if err != nil {
				log.Info("no typed informer for resource; its objects are not collected", "resource", r.String())
				continue
			}
			inf = gi.Informer()
		}
		if err := inf.AddIndexers(cache.Indexers{ownerIndex: ownerUIDs, uidIndex: ownUID}); err != nil {
			return nil, fmt.Errorf("gc: index %s: %w", r, err)
		}
		if _, err := inf.AddEventHandler(cache.ResourceEventHandlerFuncs{
			AddFunc:    func(obj any) { c.enqueue(obj, false) },
			UpdateFunc: func(old, obj any) { c.enqueue(old, false); c.enqueue(obj, false) },
			DeleteFunc: func(obj any) { c.enqueue(obj, true) },
		}); err != nil {
			return nil, fmt.Errorf("gc: watch %s: %w", r, err)
		}
		r.informer = inf
		c.cached = append(c.cached, r)
	}
	names := make([]string, 0, len(c.cached))
	for _, r := range c.cached {
		names = append(names, r.String())
	}
	log.Info("garbage collector watches", "resources", names, "metadataInformers", c.own != nil)
	return c, nil
}

// Name identifies the controller.
func (c *Collector) Name() string { return Name }

// Run starts the collector's own informers (if any), waits for every
// cache, then reconciles and resyncs until ctx is done.
func (c *Collector) Run(ctx context.Context, workers int) {
	if c.own != nil {
		c.own.Start(ctx.Done())
		defer c.own.Shutdown()
	}
	synced := make([]cache.InformerSynced, 0, len(c.cached))
	for _, r := range c.cached {
		synced = append(synced, r.informer.HasSynced)
	}
	if !cache.WaitForCacheSync(ctx.Done(), synced...) {
		return
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		c.resyncLoop(ctx)
	}()
	c.queue.Run(ctx, workers)
	wg.Wait()
}

// resyncLoop enqueues everything relevant every resyncPeriod.
func (c *Collector) resyncLoop(ctx context.Context) {
	t := time.NewTicker(resyncPeriod)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		for _, r := range c.cached {
			for _, obj := range r.informer.GetStore().List() {
				c.enqueue(obj, false)
			}
		}
	}
}

// enqueue adds the UIDs whose reconcile may have work because of obj: its
// owners, and obj itself when it is gone or carries a propagation
// finalizer.
func (c *Collector) enqueue(obj any, gone bool) {
	if t, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = t.Obj
	}
	m, err := meta.Accessor(obj)
	if err != nil {
		return
	}
	if gone || objectOf(nil, m).needsOwnerWork() {
		c.queue.Add(string(m.GetUID()))
	}
	for _, r := range m.GetOwnerReferences() {
		c.queue.Add(string(r.UID))
	}
}

// ownerUIDs indexes an object by the UIDs of its owners.
func ownerUIDs(obj any) ([]string, error) {
	m, err := meta.Accessor(obj)
	if err != nil {
		return nil, err
	}
	refs := m.GetOwnerReferences()
	if len(refs) == 0 {
		return nil, nil
	}
	out := make([]string, 0, len(refs))
	for _, r := range refs {
		out = append(out, string(r.UID))
	}
	return out, nil
}

// ownUID indexes an object by its UID.
func ownUID(obj any) ([]string, error) {
	m, err := meta.Accessor(obj)
	if err != nil {
		return nil, err
	}
	return []string{string(m.GetUID())}, nil
}
