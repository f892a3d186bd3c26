package agent

import (
	"bufio"
	"bytes"
	"context"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/berth-dev/berth/internal/agent/runtime"
	"github.com/berth-dev/berth/internal/nodeapi"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	metricsv1beta1 "k8s.io/metrics/pkg/apis/metrics/v1beta1"
)

// cpuSample is a cumulative CPU time read at a moment.
type cpuSample struct {
	nanos uint64
	at    time.Time
}

// rate is the CPU use between two samples in nanocores; ok is false when
// there is no usable earlier sample.
func rate(prev, cur cpuSample) (nanocores int64, window time.Duration, ok bool) {
	window = cur.at.Sub(prev.at)
	if prev.at.IsZero() || window < time.Second/10 || cur.nanos < prev.nanos {
		return 0, 0, false
	}
	return int64(float64(cur.nanos-prev.nanos) / window.Seconds()), window, true
}

// statsCollector keeps the latest resource usage of the node and its pods,
// read every interval and on demand (metrics.k8s.io's source).
type statsCollector struct {
	// readNode returns the node's cumulative CPU time and working set.
	readNode func() (cpuNanos, workingSet uint64, err error)
	// running admits one reading at a time (capacity 1), so that the
	// samples, and the rates between them, follow each other.
	running chan struct{}

	mu sync.Mutex
	// at is when the latest reading started (zero: none yet).
	at      time.Time
	latest  nodeapi.ResourceMetrics
	node    cpuSample
	ctrPrev map[string]cpuSample // by container ID
}

// collectTimeout bounds one reading.
const collectTimeout = 10 * time.Second

func newStatsCollector(readNode func() (cpuNanos, workingSet uint64, err error)) *statsCollector {
	return &statsCollector{readNode: readNode, running: make(chan struct{}, 1)}
}

// ResourceMetrics returns the latest figures (the endpoint's backend),
// read anew first when they are older than maxAge (> 0).
func (a *Agent) ResourceMetrics(ctx context.Context, maxAge time.Duration) nodeapi.ResourceMetrics {
	if maxAge > 0 {
		a.collectIfOlder(ctx, maxAge)
	}
	a.stats.mu.Lock()
	defer a.stats.mu.Unlock()
	return a.stats.latest
}

// collectStats reads usage every interval until ctx is done; a reading
// made on demand in the last half interval stands in for the periodic one.
func (a *Agent) collectStats(ctx context.Context, interval time.Duration) {
	a.collectIfOlder(ctx, 0)
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			a.collectIfOlder(ctx, interval/2)
		}
	}
}

// collectIfOlder reads usage unless the latest reading started less than
// maxAge ago. It waits for a reading in progress (whose result may then
// be recent enough) instead of running a second one at the same time.
func (a *Agent) collectIfOlder(ctx context.Context, maxAge time.Duration) {
	c := a.stats
	select {
	case c.running <- struct{}{}:
	case <-ctx.Done():
		return
	}
	defer func() { <-c.running }()
	now := a.now()
	c.mu.Lock()
	fresh := !c.at.IsZero() && now.Sub(c.at) < maxAge
	c.mu.Unlock()
	if fresh {
		return
	}
	// A caller that gives up (an HTTP request) does not cut a reading
	// short: the samples it takes are the base of the next rates.
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), collectTimeout)
	defer cancel()
	a.collect(cctx, now)
}

// collect reads the node's and every running container's usage once;
// callers hold c.running.
func (a *Agent) collect(ctx context.Context, now time.Time) {
	c := a.stats
	out := nodeapi.ResourceMetrics{Node: metricsv1beta1.NodeMetrics{ObjectMeta: metav1.ObjectMeta{Name: a.cfg.NodeName}}}
	if cpu, ws, err := c.readNode(); err == nil {
		cur := cpuSample{nanos: cpu, at: now}
		c.mu.Lock()
		prev := c.node
		c.node = cur
		c.mu.Unlock()
		if n, window, ok := rate(prev, cur); ok {
			out.Node.Timestamp, out.Node.Window = metav1.NewTime(now), metav1.Duration{Duration: window}
			out.Node.Usage = usage(n, ws)
		}
	} else {
		a.log.Debug("cannot read node usage", "err", err)
	}

	sr, _ := a.cfg.Driver.(runtime.StatsReader)
	a.mu.Lock()
	views := make(map[string]podView, len(a.views))
	for k, v := range a.views {
		views[k] = v
	}
	a.mu.Unlock()
	seen := map[string]cpuSample{}
	keys := make([]string, 0, len(views))
	for k := range views {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, key := range keys {
		if sr == nil {
			break
		}
		ns, name, _ := strings.Cut(key, "/")
		pm := metricsv1beta1.PodMetrics{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns}}
		if p, err := a.pods.Pods(ns).Get(name); err == nil {
			pm.Labels = labels.Set(p.Labels)
		}
		var window time.Duration
		names := make([]string, 0, len(views[key].containers))
		for n := range views[key].containers {
			names = append(names, n)
		}
		sort.Strings(names)
		for _, cname := range names {
			cv := views[key].containers[cname]
			if !cv.running {
				continue
			}
			s, err := sr.ContainerStats(ctx, cv.id)
			if err != nil {
				continue
			}
			cur := cpuSample{nanos: s.CPUUsageNanos, at: s.Timestamp}
			seen[cv.id] = cur
			c.mu.Lock()
			prev := c.ctrPrev[cv.id]
			c.mu.Unlock()
			n, w, ok := rate(prev, cur)
			if !ok && !cv.started.IsZero() {
				// A container new to the collector: its average since it started.
				n, w, ok = rate(cpuSample{at: cv.started}, cur)
			}
			if !ok {
				continue
			}
			window = max(window, w)
			pm.Containers = append(pm.Containers, metricsv1beta1.ContainerMetrics{Name: cname, Usage: usage(n, s.MemoryWorkingSetBytes)})
		}
		if len(pm.Containers) > 0 {
			pm.Timestamp, pm.Window = metav1.NewTime(now), metav1.Duration{Duration: window}
			out.Pods = append(out.Pods, pm)
		}
	}
	c.mu.Lock()
	c.ctrPrev = seen
	c.latest = out
	c.at = now
	c.mu.Unlock()
}

func usage(nanocores int64, workingSet uint64) corev1.ResourceList {
	return corev1.ResourceList{
		corev1.ResourceCPU:    *resource.NewScaledQuantity(nanocores, resource.Nano),
		corev1.ResourceMemory: *resource.NewQuantity(int64(workingSet), resource.BinarySI),
	}
}

// userHZ is the unit of /proc/stat's CPU times on Linux.
const userHZ = 100

// readHostUsage reads the node's cumulative busy CPU time (/proc/stat)
// and its memory working set (MemTotal − MemAvailable, /proc/meminfo).
func readHostUsage() (cpuNanos, workingSet uint64, err error) {
	stat, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, 0, err
	}
	mem, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		return 0, 0, err
	}
	return parseProcStat(stat), parseMemWorkingSet(mem), nil
}

// parseProcStat sums the busy times of /proc/stat's "cpu" line (user,
// nice, system, irq, softirq, steal; not idle and iowait) in nanoseconds.
func parseProcStat(b []byte) uint64 {
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 9 || f[0] != "cpu" {
			continue
		}
		var busy uint64
		for _, i := range []int{1, 2, 3, 6, 7, 8} {
			v, _ := strconv.ParseUint(f[i], 10, 64)
			busy += v
		}
		return busy * (uint64(time.Second) / userHZ)
	}
	return 0
}

// parseMemWorkingSet is MemTotal − MemAvailable in bytes.
func parseMemWorkingSet(b []byte) uint64 {
	var total, avail uint64
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 2 {
			continue
		}
		v, _ := strconv.ParseUint(f[1], 10, 64)
		switch f[0] {
		case "MemTotal:":
			total = v * 1024
		case "MemAvailable:":
			avail = v * 1024
		}
	}
	if avail > total {
		return 0
	}
	return total - avail
}
