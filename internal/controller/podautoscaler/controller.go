package podautoscaler

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"sync"
	"time"

	"github.com/berth-dev/berth/internal/autoscale"
	"github.com/berth-dev/berth/internal/autoscale/hpa"
	"github.com/berth-dev/berth/internal/controller"
	autoscalingv1 "k8s.io/api/autoscaling/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	autoscalinglisters "k8s.io/client-go/listers/autoscaling/v2"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/restmapper"
	"k8s.io/client-go/scale"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"
	resourceclient "k8s.io/metrics/pkg/client/clientset/versioned/typed/metrics/v1beta1"
	customclient "k8s.io/metrics/pkg/client/custom_metrics"
)

// Name is the controller's name in logs and the enable list.
const Name = "horizontalpodautoscaling"

// Controller runs the HorizontalPodAutoscalers.
type Controller struct {
	client   kubernetes.Interface
	hpas     autoscalinglisters.HorizontalPodAutoscalerLister
	pods     corelisters.PodLister
	scales   scale.ScalesGetter
	mapper   *restmapper.DeferredDiscoveryRESTMapper
	metrics  hpa.MetricsSource
	recorder record.EventRecorder
	log      *slog.Logger
	queue    *controller.Queue
	cfg      hpa.Config
	now      func() time.Time

	mu     sync.Mutex
	states map[string]*hpaState
}

// hpaState is one HPA's memory and its history's persistence.
type hpaState struct {
	State
	restored   bool // the history ConfigMap was read
	savedSteps int  // completed samples when the history was last saved
}

// New is the controller.Factory of the HPA controller, with Kubernetes'
// default settings.
func New(cctx *controller.Context) (controller.Controller, error) {
	return NewWithConfig(hpa.DefaultConfig())(cctx)
}

// NewWithConfig returns the factory of an HPA controller with cfg.
func NewWithConfig(cfg hpa.Config) controller.Factory {
	return NewWithMetrics(cfg, nil)
}

// NewWithMetrics returns the factory of an HPA controller with cfg that
// reads metrics from src instead of the metrics APIs (nil: the APIs);
// tests use it.
func NewWithMetrics(cfg hpa.Config, src hpa.MetricsSource) controller.Factory {
	return func(cctx *controller.Context) (controller.Controller, error) {
		if cctx.RestConfig == nil {
			return nil, errors.New("podautoscaler: the controller context has no REST config for the scale and metrics clients")
		}
		disco := memory.NewMemCacheClient(cctx.Client.Discovery())
		mapper := restmapper.NewDeferredDiscoveryRESTMapper(disco)
		scales, err := scale.NewForConfig(cctx.RestConfig, mapper, dynamic.LegacyAPIPathResolverFunc, scale.NewDiscoveryScaleKindResolver(disco))
		if err != nil {
			return nil, fmt.Errorf("podautoscaler: scale client: %w", err)
		}
		res, err := resourceclient.NewForConfig(cctx.RestConfig)
		if err != nil {
			return nil, fmt.Errorf("podautoscaler: resource metrics client: %w", err)
		}
		custom := customclient.NewForConfig(cctx.RestConfig, mapper, customclient.NewAvailableAPIsGetter(cctx.Client.Discovery()))
		hpaInf, podInf := cctx.Informers.Autoscaling().V2().HorizontalPodAutoscalers(), cctx.Informers.Core().V1().Pods()
		c := &Controller{
			client: cctx.Client, hpas: hpaInf.Lister(), pods: podInf.Lister(), scales: scales, mapper: mapper,
			metrics: &apiMetrics{resource: res, custom: custom}, recorder: cctx.Recorder,
			log: cctx.Logger.With("controller", Name), cfg: cfg, now: time.Now, states: map[string]*hpaState{},
		}
		if src != nil {
			c.metrics = src
		}
		c.queue = controller.NewQueue(Name, cctx.Logger, c.reconcile)
		_ = podInf.Informer() // registered so the factory starts and syncs it
		if _, err := hpaInf.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
			AddFunc: c.queue.Enqueue,
			// Status writes (ours) do not re-evaluate; spec and annotation
			// changes do at once.
			UpdateFunc: func(old, cur any) {
				o, ok1 := old.(*autoscalingv2.HorizontalPodAutoscaler)
				n, ok2 := cur.(*autoscalingv2.HorizontalPodAutoscaler)
				if !ok1 || !ok2 || o.Generation != n.Generation || !apiequality.Semantic.DeepEqual(o.Annotations, n.Annotations) {
					c.queue.Enqueue(cur)
				}
			},
			DeleteFunc: c.queue.Enqueue,
		}); err != nil {
			return nil, fmt.Errorf("podautoscaler: %w", err)
		}
		return c, nil
	}
}

// Name implements controller.Controller.
func (c *Controller) Name() string { return Name }

// Run reconciles until ctx is done.
func (c *Controller) Run(ctx context.Context, workers int) { c.queue.Run(ctx, workers) }

func (c *Controller) state(key string) *hpaState {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := c.states[key]
	if s == nil {
		s = &hpaState{}
		c.states[key] = s
	}
	return s
}

// reconcile evaluates one HPA and asks to be called again after its sync
// period.
func (c *Controller) reconcile(ctx context.Context, key string) error {
	ns, name, err := cache.SplitMetaNamespaceKey(key)
	if err != nil {
		return nil
	}
	cached, err := c.hpas.HorizontalPodAutoscalers(ns).Get(name)
	if apierrors.IsNotFound(err) {
		c.mu.Lock()
		delete(c.states, key)
		c.mu.Unlock()
		return nil
	}
	if err != nil {
		return err
	}
	h := cached.DeepCopy()
	settings, _ := autoscale.ParseSettings(h.Annotations) // Decide reports a bad one
	st := c.state(key)
	if err := c.sync(ctx, h, st); err != nil {
		c.log.Debug("hpa sync", "hpa", key, "err", err)
	}
	return controller.RequeueAfter{Delay: settings.SyncPeriod}
}

// sync is one evaluation: read, decide, write.
func (c *Controller) sync(ctx context.Context, h *autoscalingv2.HorizontalPodAutoscaler, st *hpaState) error {
	now := c.now()
	in := Input{HPA: h, Metrics: c.metrics, Now: now}
	in.Scale, in.ScaleErr = c.getScale(ctx, h)
	if in.Scale != nil {
		sel, err := labels.Parse(in.Scale.Status.Selector)
		if err == nil && in.Scale.Status.Selector != "" {
			in.Pods, _ = c.pods.Pods(h.Namespace).List(sel)
		}
		in.StartUp = measuredStartUp(in.Pods)
	}
	if !st.restored {
		c.restoreHistory(ctx, h, st)
	}
	d := st.Decide(ctx, c.cfg, in)
	if d.Rescale && d.Err == nil {
		in.Scale.Spec.Replicas = d.Desired
		_, err := c.updateScale(ctx, h, in.Scale)
		st.Applied(h, &d, err, now)
		if err == nil {
			c.log.Info("rescaled", "hpa", h.Namespace+"/"+h.Name, "from", d.Current, "to", d.Desired, "reason", d.Reason)
		}
	}
	for _, e := range d.Events {
		c.recorder.Event(h, e.Type, e.Reason, e.Message)
	}
	if statusChanged(&h.Status, &d.Status) {
		h.Status = d.Status
		if _, err := c.client.AutoscalingV2().HorizontalPodAutoscalers(h.Namespace).UpdateStatus(ctx, h, metav1.UpdateOptions{}); err != nil && !apierrors.IsNotFound(err) {
			return fmt.Errorf("update status: %w", err)
		}
	}
	c.saveHistory(ctx, h, st)
	return d.Err
}

// getScale reads the target's scale subresource through the RESTMapper,
// as Kubernetes does, so any resource with a scale subresource works.
func (c *Controller) getScale(ctx context.Context, h *autoscalingv2.HorizontalPodAutoscaler) (*autoscalingv1.Scale, error) {
	ref := h.Spec.ScaleTargetRef
	gv, err := schema.ParseGroupVersion(ref.APIVersion)
	if err != nil {
		return nil, fmt.Errorf("invalid API version %q in scale target reference: %w", ref.APIVersion, err)
	}
	mappings, err := c.mapper.RESTMappings(schema.GroupKind{Group: gv.Group, Kind: ref.Kind})
	if err != nil {
		c.mapper.Reset()
		return nil, fmt.Errorf("unable to determine resource for scale target reference: %w", err)
	}
	var errs []error
	for _, m := range mappings {
		s, err := c.scales.Scales(h.Namespace).Get(ctx, m.Resource.GroupResource(), ref.Name, metav1.GetOptions{})
		if err == nil {
			return s, nil
		}
		errs = append(errs, err)
	}
	return nil, errors.Join(errs...)
}

func (c *Controller) updateScale(ctx context.Context, h *autoscalingv2.HorizontalPodAutoscaler, s *autoscalingv1.Scale) (*autoscalingv1.Scale, error) {
	gv, err := schema.ParseGroupVersion(h.Spec.ScaleTargetRef.APIVersion)
	if err != nil {
		return nil, err
	}
	m, err := c.mapper.RESTMapping(schema.GroupKind{Group: gv.Group, Kind: h.Spec.ScaleTargetRef.Kind})
	if err != nil {
		return nil, err
	}
	return c.scales.Scales(h.Namespace).Update(ctx, m.Resource.GroupResource(), s, metav1.UpdateOptions{})
}

// measuredStartUp is the median time the pods took from creation to
// Ready (0 when none is ready).
func measuredStartUp(pods []*corev1.Pod) time.Duration {
	var ds []time.Duration
	for _, p := range pods {
		for _, c := range p.Status.Conditions {
			if c.Type == corev1.PodReady && c.Status == corev1.ConditionTrue && !c.LastTransitionTime.IsZero() {
				if d := c.LastTransitionTime.Sub(p.CreationTimestamp.Time); d >= 0 {
					ds = append(ds, d)
				}
			}
		}
	}
	if len(ds) == 0 {
		return 0
	}
	sort.Slice(ds, func(i, j int) bool { return ds[i] < ds[j] })
	return ds[len(ds)/2]
}
