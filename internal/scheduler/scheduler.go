package scheduler

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/berth-dev/berth/internal/scheduler/cache"
	"github.com/berth-dev/berth/internal/scheduler/framework"
	"github.com/berth-dev/berth/internal/scheduler/queue"
	"github.com/prometheus/client_golang/prometheus"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/record"
	"k8s.io/client-go/util/retry"
)

// Options are what a Scheduler is built from.
type Options struct {
	// Client talks to the API server.
	Client kubernetes.Interface
	// Informers is the shared informer factory the scheduler registers its
	// pod and node informers with; the caller starts it.
	Informers informers.SharedInformerFactory
	// Recorder emits the scheduler's events (Scheduled, FailedScheduling,
	// Preempted).
	Recorder record.EventRecorder
	// Config is the validated configuration (LoadConfig / ParseConfig).
	Config Config
	// Metrics registers the scheduler's metrics (nil: unregistered).
	Metrics prometheus.Registerer
	// Logger receives logs (default slog.Default).
	Logger *slog.Logger
}

// Scheduler is a running scheduler with one framework per profile.
type Scheduler struct {
	client   kubernetes.Interface
	cfg      Config
	cache    *cache.Cache
	queue    *queue.SchedulingQueue
	profiles map[string]*framework.Framework
	recorder record.EventRecorder
	metrics  *Metrics
	log      *slog.Logger
	pods     corelisters.PodLister
	// next is where the next decision starts in the node list; rnd breaks
	// score ties. Both are used by the scheduling goroutine only.
	next int
	rnd  *rand.Rand
	// async bounds the goroutines that bind pods and report failures.
	async chan struct{}
	wg    sync.WaitGroup
}

// New builds a scheduler and registers its informer handlers.
func New(opts Options) (*Scheduler, error) {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	s := &Scheduler{
		client: opts.Client, cfg: opts.Config, cache: cache.New(), recorder: opts.Recorder,
		metrics: NewMetrics(opts.Metrics), log: opts.Logger.With("component", "scheduler"),
		profiles: map[string]*framework.Framework{},
		rnd:      rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 0x6265727468)),
		async:    make(chan struct{}, max(opts.Config.BindConcurrency, 1)),
	}
	policies := map[string]queue.Policy{}
	for _, p := range opts.Config.Profiles {
		fw, err := newFramework(p, s.client, s.cache)
		if err != nil {
			return nil, err
		}
		s.profiles[p.SchedulerName] = fw
		pol, err := queue.NewPolicy(p.Queue, p.queueConfig())
		if err != nil {
			return nil, fmt.Errorf("scheduler: profile %s: %w", p.SchedulerName, err)
		}
		policies[p.SchedulerName] = pol
	}
	s.queue = queue.NewSchedulingQueue(queue.Config{
		InitialBackoff:   opts.Config.PodInitialBackoff.Duration,
		MaxBackoff:       opts.Config.PodMaxBackoff.Duration,
		MaxUnschedulable: opts.Config.MaxUnschedulableWait.Duration,
	}, policies)
	podInf := opts.Informers.Core().V1().Pods()
	s.pods = podInf.Lister()
	if _, err := podInf.Informer().AddEventHandler(s.podHandlers()); err != nil {
		return nil, fmt.Errorf("scheduler: pod informer: %w", err)
	}
	if _, err := opts.Informers.Core().V1().Nodes().Informer().AddEventHandler(s.nodeHandlers()); err != nil {
		return nil, fmt.Errorf("scheduler: node informer: %w", err)
	}
	return s, nil
}

// Run schedules pods until ctx is done (informers must have synced), then
// waits for the bindings in flight.
func (s *Scheduler) Run(ctx context.Context) {
	s.log.Info("scheduler started", "profiles", len(s.profiles), "nodes", s.cache.NumNodes())
	var bg sync.WaitGroup
	bg.Add(2)
	go func() { defer bg.Done(); s.queue.Run(ctx, 100*time.Millisecond) }()
	go func() { defer bg.Done(); s.reportPending(ctx) }()
	for {
		if err := s.scheduleOne(ctx); err != nil {
			break
		}
	}
	bg.Wait()
	s.wg.Wait()
	s.log.Info("scheduler stopped")
}

// reportPending updates the pending-pods gauge every second.
func (s *Scheduler) reportPending(ctx context.Context) {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		for profile, c := range s.queue.Counts() {
			s.metrics.Pending.WithLabelValues(profile, "active").Set(float64(c.Active + c.InFlight))
			s.metrics.Pending.WithLabelValues(profile, "backoff").Set(float64(c.Backoff))
			s.metrics.Pending.WithLabelValues(profile, "unschedulable").Set(float64(c.Unschedulable))
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// scheduleOne takes one pod from the queue, decides and starts its
// binding. It returns an error only when the queue is closed.
func (s *Scheduler) scheduleOne(ctx context.Context) error {
	qp, profile, cycle, err := s.queue.Pop(ctx)
	if err != nil {
		return err
	}
	start := time.Now()
	fw := s.profiles[profile]
	pod, err := s.pods.Pods(qp.Pod.Namespace).Get(qp.Pod.Name)
	if err != nil || pod.UID != qp.Pod.UID || pod.Spec.NodeName != "" || pod.DeletionTimestamp != nil {
		s.queue.Done(qp.Key) // gone, replaced or bound meanwhile
		return nil
	}
	state := framework.NewCycleState()
	s.cache.Lock()
	res, err := fw.Schedule(ctx, state, pod, s.cache.NodeInfos(), framework.ScheduleOptions{
		Start: s.next, PercentageOfNodesToScore: s.cfg.PercentageOfNodesToScore, Rand: s.rnd,
		WithNominated: s.cache.WithNominated,
	})
	s.next = res.Next
	if err != nil {
		var pf *framework.PostFilterResult
		var pfStatus *framework.Status
		var fitErr *framework.FitError
		if errors.As(err, &fitErr) && fw.HasPostFilter() && fitErr.Resolvable() {
			pf, pfStatus = fw.RunPostFilterPlugins(ctx, state, pod, fitErr.Statuses)
			if pf != nil {
				s.cache.Nominate(pod, pf.NominatedNode)
			}
		}
		s.cache.Unlock()
		s.metrics.AlgorithmDuration.Observe(time.Since(start).Seconds())
		s.fail(ctx, profile, qp, pod, cycle, start, err, pf, pfStatus)
		return nil
	}
	s.cache.AssumePod(pod, res.Node)
	st := fw.RunReservePlugins(ctx, state, pod, res.Node)
	s.cache.Unlock()
	s.metrics.AlgorithmDuration.Observe(time.Since(start).Seconds())
	if !st.IsSuccess() {
		s.cache.ForgetPod(pod.UID)
		s.fail(ctx, profile, qp, pod, cycle, start, fmt.Errorf("reserve %s: %w", st.Plugin(), st.AsError()), nil, nil)
		return nil
	}
	s.spawn(func() { s.bind(ctx, fw, state, qp, pod, res.Node, start) })
	return nil
}

// spawn runs f in a goroutine, at most BindConcurrency at once; the
// scheduler waits for them before Run returns.
func (s *Scheduler) spawn(f func()) {
	s.async <- struct{}{}
	s.wg.Add(1)
	go func() {
		defer func() { <-s.async; s.wg.Done() }()
		f()
	}()
}

// bind binds an assumed pod and records the outcome.
func (s *Scheduler) bind(ctx context.Context, fw *framework.Framework, state *framework.CycleState, qp *queue.QueuedPod, pod *corev1.Pod, node string, start time.Time) {
	profile := fw.Profile()
	st := fw.RunBindPlugins(ctx, state, pod, node)
	if !st.IsSuccess() {
		s.cache.ForgetPod(pod.UID)
		fw.RunUnreservePlugins(ctx, state, pod, node)
		err := st.AsError()
		if apierrors.IsNotFound(err) || apierrors.IsConflict(err) || ctx.Err() != nil {
			// Deleted or bound by someone else meanwhile; nothing to retry.
			s.queue.Done(qp.Key)
			s.metrics.Attempts.WithLabelValues(profile, "error").Inc()
			return
		}
		s.log.Warn("binding failed", "pod", qp.Key, "node", node, "err", err)
		s.metrics.Attempts.WithLabelValues(profile, "error").Inc()
		s.metrics.AttemptDuration.WithLabelValues(profile, "error").Observe(time.Since(start).Seconds())
		s.recorder.Eventf(pod, corev1.EventTypeWarning, "FailedScheduling", "Binding rejected: %v", err)
		s.queue.AddBackoff(qp)
		return
	}
	s.queue.Done(qp.Key)
	now := time.Now()
	s.metrics.Attempts.WithLabelValues(profile, "scheduled").Inc()
	s.metrics.AttemptDuration.WithLabelValues(profile, "scheduled").Observe(now.Sub(start).Seconds())
	s.metrics.PodSchedulingDuration.WithLabelValues(profile).Observe(now.Sub(qp.Added).Seconds())
	s.recorder.Eventf(pod, corev1.EventTypeNormal, "Scheduled", "Successfully assigned %s/%s to %s", pod.Namespace, pod.Name, node)
}

// fail records a failed attempt: event, PodScheduled condition, preemption
// effects, and the pod's return to the queue.
func (s *Scheduler) fail(ctx context.Context, profile string, qp *queue.QueuedPod, pod *corev1.Pod, cycle int64, start time.Time,
	err error, pf *framework.PostFilterResult, pfStatus *framework.Status) {
	var fitErr *framework.FitError
	unschedulable := errors.As(err, &fitErr)
	result, reason, msg := "error", "SchedulerError", err.Error()
	if unschedulable {
		result, reason = "unschedulable", corev1.PodReasonUnschedulable
		if pfStatus != nil && pfStatus.Message() != "" {
			msg += " " + pfStatus.Message() + "."
		}
	}
	s.metrics.Attempts.WithLabelValues(profile, result).Inc()
	s.metrics.AttemptDuration.WithLabelValues(profile, result).Observe(time.Since(start).Seconds())
	s.log.Debug("pod not scheduled", "pod", qp.Key, "profile", profile, "reason", msg)
	s.recorder.Event(pod, corev1.EventTypeWarning, "FailedScheduling", msg)
	nominated := ""
	if pf != nil {
		nominated = pf.NominatedNode
	}
	s.spawn(func() {
		// The nomination is written before the victims go, so that it is
		// visible before the pod can be bound in their place.
		if err := s.setUnschedulable(ctx, pod, reason, msg, nominated); err != nil && !apierrors.IsNotFound(err) {
			s.log.Warn("cannot update pod status", "pod", qp.Key, "err", err)
		}
		if pf != nil {
			s.preempt(ctx, pod, pf)
		}
	})
	if unschedulable {
		s.queue.AddUnschedulable(qp, cycle)
	} else {
		s.queue.AddBackoff(qp)
	}
}

// preempt evicts the victims (graceful deletion) for pod.
func (s *Scheduler) preempt(ctx context.Context, pod *corev1.Pod, pf *framework.PostFilterResult) {
	for _, v := range pf.Victims {
		uid := v.UID
		err := s.client.CoreV1().Pods(v.Namespace).Delete(ctx, v.Name, metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &uid}})
		if err != nil && !apierrors.IsNotFound(err) && !apierrors.IsConflict(err) {
			s.log.Warn("cannot preempt pod", "victim", v.Namespace+"/"+v.Name, "err", err)
			continue
		}
		s.metrics.PreemptionVictims.Inc()
		s.recorder.Eventf(v, corev1.EventTypeNormal, "Preempted", "Preempted by pod %s/%s (priority %d) on node %s",
			pod.Namespace, pod.Name, framework.PodPriority(pod), pf.NominatedNode)
	}
	s.log.Info("preempted", "pod", pod.Namespace+"/"+pod.Name, "node", pf.NominatedNode, "victims", len(pf.Victims))
}

// setUnschedulable sets PodScheduled=False (and nominatedNodeName) unless
// the pod already says so. On a conflict it reads the pod again and retries.
func (s *Scheduler) setUnschedulable(ctx context.Context, pod *corev1.Pod, reason, msg, nominated string) error {
	pods := s.client.CoreV1().Pods(pod.Namespace)
	return retry.RetryOnConflict(retry.DefaultRetry, func() error {
		for _, c := range pod.Status.Conditions {
			if c.Type == corev1.PodScheduled && c.Status == corev1.ConditionFalse && c.Reason == reason && c.Message == msg &&
				(nominated == "" || pod.Status.NominatedNodeName == nominated) {
				return nil
			}
		}
		p := pod.DeepCopy()
		setCondition(&p.Status, corev1.PodCondition{
			Type: corev1.PodScheduled, Status: corev1.ConditionFalse, Reason: reason, Message: msg,
			LastProbeTime: metav1.Now(), LastTransitionTime: metav1.Now(),
		})
		if nominated != "" {
			p.Status.NominatedNodeName = nominated
		}
		_, err := pods.UpdateStatus(ctx, p, metav1.UpdateOptions{})
		if apierrors.IsConflict(err) {
			fresh, gerr := pods.Get(ctx, pod.Name, metav1.GetOptions{})
			if gerr != nil {
				return gerr
			}
			if fresh.UID != pod.UID || fresh.Spec.NodeName != "" {
				return nil // replaced or bound meanwhile: nothing to report
			}
			pod = fresh
		}
		return err
	})
}

// setCondition adds or replaces a condition, keeping the transition time
// when the status does not change.
func setCondition(st *corev1.PodStatus, c corev1.PodCondition) {
	for i := range st.Conditions {
		if st.Conditions[i].Type != c.Type {
			continue
		}
		if st.Conditions[i].Status == c.Status {
			c.LastTransitionTime = st.Conditions[i].LastTransitionTime
		}
		st.Conditions[i] = c
		return
	}
	st.Conditions = append(st.Conditions, c)
}
