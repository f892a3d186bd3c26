package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"github.com/berth-dev/berth/internal/proxy"
	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/kubernetes"
)

const (
	// hpaNamespace holds the benchmark's Deployment, Service and HPAs.
	hpaNamespace = "bench-hpa"
	// hpaApp names the Deployment and the Service and labels the pods.
	hpaApp = "web"
	// hpaNodeName is the node the spawned agent registers.
	hpaNodeName = "bench-hpa-node"
	// hpaPodPort is the web app's port in its pod; the Service listens on
	// hpaServicePort.
	hpaPodPort     = 3000
	hpaServicePort = 80
	// hpaMetric is the custom metric the HPA scales on.
	hpaMetric = "requests_per_second"
	// hpaPoll is how often the API or the Service is polled while setting
	// up (never while timing: the times come from a watch).
	hpaPoll = 200 * time.Millisecond
	// hpaCleanupTimeout bounds deleting the Deployment's pods at the end.
	hpaCleanupTimeout = time.Minute
)

// RunHPA benchmarks the HorizontalPodAutoscaler's reaction to a load
// step, end to end, through a spawned `berth server` (--cluster-cidr and
// --service-cidr of its own) and a spawned `berth agent` with the process
// driver (as root: pods in network namespaces of their own, ClusterIPs
// served by the agent's proxy): a Deployment of examples/webapp behind an
// HTTP-mode ClusterIP Service, and per setting an HPA on the Pods metric
// requests_per_second (target cfg.TargetRPS per pod, 1..4 replicas). The
// benchmark's own open-loop client loads the Service at HPALowFactor ×
// the target; in each round, after a steady phase and a random part of a
// sync period, the rate steps to HPAHighFactor × the target and a watch on
// the Deployment times the first change of spec.replicas; then the high
// load is held, dropped again, and the round ends once the Deployment is
// back at one replica. Scale changes during the steady phases are counted
// as flaps. It writes the summary (unless cfg.JSONOnly) and, as the last
// line, the JSON result to out; on error the last line is
// {"bench":"hpa","error":"..."}. The load, the agent, the pods' processes
// and the server are stopped, the pod network removed from the host and
// the directories removed before it returns, also when ctx is cancelled.
func RunHPA(ctx context.Context, cfg HPAConfig, out io.Writer) (*HPAResult, error) {
	res, err := runHPA(ctx, cfg)
	return finishRun(out, "hpa", res, err, cfg.JSONOnly, cfg.PlotFile, WriteHPAPlot, cfg.Logger)
}

// hpaRun is the state of one run of the hpa benchmark.
type hpaRun struct {
	cfg      HPAConfig
	log      *slog.Logger
	cs       kubernetes.Interface
	server   *serverProc
	agent    *serverProc
	runID    string // the value of podsRunEnv in the containers
	webApp   string
	tracker  *scaleTracker
	load     *openLoad
	down     chan struct{} // closed once the server or the agent exited
	lowRPS   float64
	highRPS  float64
	expected int // replicas the high load needs
	// created is set once the Deployment may exist.
	created bool
}

func runHPA(ctx context.Context, cfg HPAConfig) (res *HPAResult, err error) {
	if cfg, err = cfg.withDefaults(); err != nil {
		return nil, err
	}
	if os.Geteuid() != 0 {
		return nil, errors.New("bench: berth bench hpa needs root: without it the agent runs the pods in the host network, where the " +
			"Deployment's replicas would all listen on the same port, and serves no ClusterIPs")
	}
	log := cfg.Logger
	tmp, err := os.MkdirTemp("", "berth-bench-hpa-*")
	if err != nil {
		return nil, fmt.Errorf("bench: temp dir: %w", err)
	}
	defer os.RemoveAll(tmp)
	webApp, err := findWebApp(ctx, cfg.WebApp, cfg.Binary, tmp, log)
	if err != nil {
		return nil, err
	}
	log.Info("the pods run the web app", "webapp", webApp)
	r := &hpaRun{cfg: cfg, log: log, runID: fmt.Sprintf("%08x", rand.Uint32()), webApp: webApp, tracker: newScaleTracker(hpaApp),
		down: make(chan struct{}), lowRPS: HPALowFactor * cfg.TargetRPS, highRPS: HPAHighFactor * cfg.TargetRPS}
	r.expected = min(HPAMaxReplicas, max(HPAMinReplicas, int(math.Ceil(r.highRPS/cfg.TargetRPS-1e-9))))
	res = &HPAResult{Bench: "hpa", TargetRPS: cfg.TargetRPS, LowRPS: r.lowRPS, HighRPS: r.highRPS, MinReplicas: HPAMinReplicas,
		MaxReplicas: HPAMaxReplicas, ExpectedReplicas: r.expected, ScaleDownWindowS: cfg.ScaleDownWindow.Seconds(), Root: true, Machine: thisMachine()}

	args := []string{"--cluster-cidr", cfg.ClusterCIDR, "--service-cidr", cfg.ServiceCIDR}
	if cfg.ServerLogLevel != "" {
		args = append(args, "--log-level", cfg.ServerLogLevel)
	}
	proc, ready, cs, stop, err := startLeadingServer(ctx, cfg.Binary, log, args...)
	if err != nil {
		return nil, err
	}
	defer stop()
	r.server, r.cs = proc, cs
	res.StartToReadyMs = round(ms(ready), 1)
	if err := ensureNamespace(ctx, cs, hpaNamespace); err != nil {
		return nil, fmt.Errorf("bench: %w", err)
	}
	defer func() {
		if left := r.cleanup(); left > 0 && res != nil {
			res.LeftoverProcesses = left
		}
	}()
	r.removeHostNetwork() // of an earlier run that did not clean up
	if err := r.startAgent(); err != nil {
		return nil, err
	}
	// Watched until the cleanup, which stops the agent, begins.
	watchCtx, stopWatch := context.WithCancel(ctx)
	watched := make(chan struct{})
	go func() {
		defer close(watched)
		r.watchProcesses(watchCtx)
	}()
	defer func() {
		stopWatch()
		<-watched
	}()
	if err := r.waitNode(ctx); err != nil {
		return nil, err
	}
	stopInformers, err := watchNamespace(ctx, cs, hpaNamespace, r.tracker.register)
	if err != nil {
		return nil, err
	}
	defer stopInformers()
	url, err := r.deploy(ctx)
	if err != nil {
		return nil, err
	}
	r.load = newOpenLoad(url)
	loadCtx, stopLoad := context.WithCancel(ctx)
	go r.load.run(loadCtx)
	defer func() {
		stopLoad()
		<-r.load.done
	}()
	if _, err := r.load.setRate(ctx, r.lowRPS); err != nil {
		return nil, err
	}
	for _, s := range cfg.settings() {
		sr, err := r.measure(ctx, s)
		if err != nil {
			return nil, fmt.Errorf("setting %s: %w", s.name, err)
		}
		res.Settings = append(res.Settings, sr)
	}
	res.summarize()
	return res, nil
}

// watchProcesses closes r.down when the server or the agent exits, or
// returns when ctx ends.
func (r *hpaRun) watchProcesses(ctx context.Context) {
	select {
	case <-r.server.exited:
		r.log.Error("the server exited", "err", r.server.waitErr, "stderr", r.server.stderr.String())
	case <-r.agent.exited:
		r.log.Error("the agent exited", "err", r.agent.waitErr, "stderr", r.agent.stderr.String())
	case <-ctx.Done():
		return
	}
	close(r.down)
}

// startAgent spawns `berth agent` on its node, with a temporary data
// directory and the configured bridge, address label and port; like the
// server it runs in a process group of its own and gets SIGKILL should
// the benchmark die. Its stop removes the data directory.
func (r *hpaRun) startAgent() error {
	port := r.cfg.AgentPort
	if port == 0 {
		var err error
		if port, err = freePort(); err != nil {
			return err
		}
	}
	dir, err := os.MkdirTemp("", "berth-bench-hpa-agent-*")
	if err != nil {
		return fmt.Errorf("bench: temp agent data dir: %w", err)
	}
	level := "warn"
	if r.cfg.ServerLogLevel != "" {
		level = r.cfg.ServerLogLevel
	}
	args := []string{"agent", "--server", r.server.url, "--token-file", filepath.Join(r.server.dir, "node-token"),
		"--node-name", hpaNodeName, "--agent-data-dir", dir, "--log-level", level, "--driver=process",
		"--cni-bridge", r.cfg.Bridge, "--service-address-label", r.cfg.AddressLabel, "--agent-port", strconv.Itoa(port)}
	p := &serverProc{log: r.log.With("process", "agent"), dir: dir, url: r.server.url, stderr: &tailBuffer{max: 64 << 10}, exited: make(chan struct{})}
	p.cmd = exec.Command(r.cfg.Binary, args...)
	p.cmd.Stderr = p.stderr
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := p.cmd.Start(); err != nil {
		os.RemoveAll(dir)
		return fmt.Errorf("bench: start %s agent: %w", r.cfg.Binary, err)
	}
	go func() {
		p.waitErr = p.cmd.Wait()
		close(p.exited)
	}()
	r.agent = p
	r.log.Info("starting agent", "node", hpaNodeName, "bridge", r.cfg.Bridge, "addressLabel", r.cfg.AddressLabel, "agentPort", port)
	return nil
}

// poll calls check every hpaPoll until it reports done; it fails when ctx
// ends, a spawned process exits or cfg.Timeout passes.
func (r *hpaRun) poll(ctx context.Context, what string, check func() (bool, error)) error {
	deadline := time.NewTimer(r.cfg.Timeout)
	defer deadline.Stop()
	tick := time.NewTicker(hpaPoll)
	defer tick.Stop()
	var last error
	for {
		done, err := check()
		if done {
			return nil
		}
		if err != nil {
			last = err
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("bench: stopped while waiting for %s: %w", what, ctx.Err())
		case <-r.down:
			return fmt.Errorf("bench: a spawned process exited while waiting for %s", what)
		case <-deadline.C:
			return fmt.Errorf("bench: %s not within --timeout %v (last: %v)", what, r.cfg.Timeout, last)
		case <-tick.C:
		}
	}
}

// waitNode waits until the agent's node is Ready with a podCIDR and its
// Lease exists (the agent serves pods from then on), and checks that its
// pods get network namespaces of their own.
func (r *hpaRun) waitNode(ctx context.Context) error {
	return r.poll(ctx, "the agent's node Ready", func() (bool, error) {
		n, err := r.cs.CoreV1().Nodes().Get(ctx, hpaNodeName, metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		c := nodeReadyCondition(n)
		if c == nil || c.Status != corev1.ConditionTrue || n.Spec.PodCIDR == "" {
			return false, fmt.Errorf("node %s: ready %v, podCIDR %q", hpaNodeName, c, n.Spec.PodCIDR)
		}
		if why := hostNetworkReason(n); why != "" {
			return false, fmt.Errorf("the agent runs pods in the host network: %s", why)
		}
		if _, err := r.cs.CoordinationV1().Leases(corev1.NamespaceNodeLease).Get(ctx, hpaNodeName, metav1.GetOptions{}); err != nil {
			return false, err
		}
		return true, nil
	})
}

// deployment is the benchmark's Deployment: one replica of the web app
// with a readiness probe on /healthz every second, tiny requests, the
// run's ID in its environment (podsRunEnv) and a grace period of 1 s.
func (r *hpaRun) deployment() *appsv1.Deployment {
	labels := map[string]string{"app": hpaApp}
	replicas := int32(HPAMinReplicas)
	grace := int64(1)
	c := corev1.Container{
		Name: "web", Image: "examples/webapp", // not used by the process driver
		Command: []string{r.webApp},
		Ports:   []corev1.ContainerPort{{Name: "http", ContainerPort: hpaPodPort}},
		Env: []corev1.EnvVar{{Name: podsRunEnv, Value: r.runID}, {Name: "PORT", Value: strconv.Itoa(hpaPodPort)},
			{Name: "POD_NAME", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.name"}}}},
		Resources: corev1.ResourceRequirements{Requests: corev1.ResourceList{
			corev1.ResourceCPU: resource.MustParse("10m"), corev1.ResourceMemory: resource.MustParse("16Mi")}},
		ReadinessProbe: &corev1.Probe{ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/healthz", Port: intstr.FromInt32(hpaPodPort)}},
			PeriodSeconds: 1},
	}
	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: hpaApp},
		Spec: appsv1.DeploymentSpec{
			Replicas: &replicas,
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec:       corev1.PodSpec{TerminationGracePeriodSeconds: &grace, Containers: []corev1.Container{c}},
			},
		},
	}
}

// service is the benchmark's Service: a ClusterIP on port 80 in front of
// the web app, balanced per request (HTTP mode), so that the proxy counts
// requests per pod.
func service() *corev1.Service {
	return &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: hpaApp, Annotations: map[string]string{proxy.AnnotationLBMode: proxy.ModeHTTP}},
		Spec: corev1.ServiceSpec{
			Selector: map[string]string{"app": hpaApp},
			Ports:    []corev1.ServicePort{{Name: "http", Port: hpaServicePort, TargetPort: intstr.FromString("http")}},
		},
	}
}

// deploy creates the Deployment and the Service, waits until the replica
// is Ready and the Service answers at its ClusterIP, and returns the URL
// the load is sent to.
func (r *hpaRun) deploy(ctx context.Context) (string, error) {
	r.created = true
	if _, err := r.cs.AppsV1().Deployments(hpaNamespace).Create(ctx, r.deployment(), metav1.CreateOptions{}); err != nil {
		return "", fmt.Errorf("bench: create the Deployment: %w", err)
	}
	svc, err := r.cs.CoreV1().Services(hpaNamespace).Create(ctx, service(), metav1.CreateOptions{})
	if err != nil {
		return "", fmt.Errorf("bench: create the Service: %w", err)
	}
	if net.ParseIP(svc.Spec.ClusterIP) == nil {
		return "", fmt.Errorf("bench: the Service got no ClusterIP (%q)", svc.Spec.ClusterIP)
	}
	url := "http://" + net.JoinHostPort(svc.Spec.ClusterIP, strconv.Itoa(hpaServicePort)) + "/"
	if _, err := r.tracker.await(ctx, r.cfg.Timeout, "the web app's replica Ready", r.down, func(st deploymentState) bool {
		return st.ready == HPAMinReplicas
	}); err != nil {
		return "", err
	}
	client := &http.Client{Transport: &http.Transport{Proxy: nil, DisableKeepAlives: true}, Timeout: time.Second}
	err = r.poll(ctx, "the Service answering at "+url, func() (bool, error) {
		resp, err := client.Get(url)
		if err != nil {
			return false, err
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK, fmt.Errorf("GET %s: %s", url, resp.Status)
	})
	if err != nil {
		return "", err
	}
	r.log.Info("the web app answers at its ClusterIP", "url", url)
	return url, nil
}

// hpa is the HPA of round n of setting s: the Pods metric
// requests_per_second of the Deployment, averageValue cfg.TargetRPS, 1..4
// replicas, the configured scale-down window, the setting's annotations.
func (r *hpaRun) hpa(s hpaSetting, n int) *autoscalingv2.HorizontalPodAutoscaler {
	minReplicas := int32(HPAMinReplicas)
	window := int32(r.cfg.ScaleDownWindow / time.Second)
	target := resource.NewMilliQuantity(int64(math.Round(r.cfg.TargetRPS*1000)), resource.DecimalSI)
	return &autoscalingv2.HorizontalPodAutoscaler{
		ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("%s-%s-%d", hpaApp, s.name, n), Annotations: s.annotations()},
		Spec: autoscalingv2.HorizontalPodAutoscalerSpec{
			ScaleTargetRef: autoscalingv2.CrossVersionObjectReference{APIVersion: "apps/v1", Kind: "Deployment", Name: hpaApp},
			MinReplicas:    &minReplicas,
			MaxReplicas:    HPAMaxReplicas,
			Metrics: []autoscalingv2.MetricSpec{{Type: autoscalingv2.PodsMetricSourceType, Pods: &autoscalingv2.PodsMetricSource{
				Metric: autoscalingv2.MetricIdentifier{Name: hpaMetric},
				Target: autoscalingv2.MetricTarget{Type: autoscalingv2.AverageValueMetricType, AverageValue: target},
			}}},
			Behavior: &autoscalingv2.HorizontalPodAutoscalerBehavior{ScaleDown: &autoscalingv2.HPAScalingRules{StabilizationWindowSeconds: &window}},
		},
	}
}

// measure times cfg.Rounds load steps of setting s. Each round has an
// HPA of its own, created at a random point of the metric resolution, so
// that its sync period's phase relative to the API server's scrapes
// (which have the same period in both settings) is random too rather than
// the same in every round. The new HPA is created before the previous one
// is deleted: the scrape interval then stays at the setting's resolution
// (the scrape loop follows the HPAs that exist), and with the Deployment
// at its minimum and the load low both ask for the minimum.
func (r *hpaRun) measure(ctx context.Context, s hpaSetting) (HPASettingResult, error) {
	sr := HPASettingResult{Name: s.name, SyncPeriodS: s.syncPeriod.Seconds(), MetricResolutionS: s.metricResolution.Seconds(), HoldS: s.hold().Seconds()}
	serverPID, agentPID := r.server.cmd.Process.Pid, r.agent.cmd.Process.Pid
	cpu0, agent0, t0, load0 := sampleCPU(serverPID), sampleTreeCPU(agentPID), time.Now(), r.load.counts()
	prev := ""
	defer func() {
		if prev != "" {
			r.deleteHPA(prev)
		}
	}()
	for i := range r.cfg.Rounds {
		if err := r.sleep(ctx, rand.N(s.metricResolution)); err != nil {
			return sr, err
		}
		h := r.hpa(s, i+1)
		if _, err := r.cs.AutoscalingV2().HorizontalPodAutoscalers(hpaNamespace).Create(ctx, h, metav1.CreateOptions{}); err != nil {
			return sr, fmt.Errorf("bench: create the HPA: %w", err)
		}
		if prev != "" {
			r.deleteHPA(prev)
		}
		prev = h.Name
		r.log.Debug("HPA created; waiting until it scales on fresh metrics", "hpa", h.Name, "syncPeriod", s.syncPeriod, "metricResolution", s.metricResolution)
		if err := r.waitActive(ctx, h.Name, s); err != nil {
			return sr, fmt.Errorf("round %d: %w", i+1, err)
		}
		rd, err := r.loadStep(ctx, s)
		if err != nil {
			return sr, fmt.Errorf("round %d: %w", i+1, err)
		}
		r.log.Info("load step timed", "setting", s.name, "round", i+1, "reactionS", rd.ReactionS, "firstReplicas", rd.FirstReplicas,
			"expectedS", rd.ExpectedS, "readyS", rd.ReadyS, "scaleDownS", rd.ScaleDownS, "flaps", rd.LowFlaps+rd.HighFlaps)
		sr.Rounds = append(sr.Rounds, rd)
	}
	cpu1, agent1, load1 := sampleCPU(serverPID), sampleTreeCPU(agentPID), r.load.counts()
	sr.OtherCPUPct, sr.CPUSeconds = podsCPUUse(r.log, cpu0, cpu1, agent0, agent1, t0)
	d := load1.sub(load0)
	sr.Requests, sr.Errors, sr.Skipped = d.sent, d.failed, d.skipped
	sr.summarize()
	return sr, nil
}

// deleteHPA deletes the HPA name; failures are logged.
func (r *hpaRun) deleteHPA(name string) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := r.cs.AutoscalingV2().HorizontalPodAutoscalers(hpaNamespace).Delete(ctx, name, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
		r.log.Warn("delete the HPA", "hpa", name, "err", err)
	}
}

// waitActive waits until the custom metrics API serves the pods' rates
// over windows of the setting's resolution (the API server's scrape loop
// follows the HPAs' resolutions from its next pass on), the HPA reports
// the metric and is able to scale, and the Deployment is at its minimum.
func (r *hpaRun) waitActive(ctx context.Context, name string, s hpaSetting) error {
	path := fmt.Sprintf("/apis/custom.metrics.k8s.io/v1beta2/namespaces/%s/pods/*/%s", hpaNamespace, hpaMetric)
	maxWindow := int64(math.Ceil(s.metricResolution.Seconds())) + 1
	err := r.poll(ctx, fmt.Sprintf("%s of the pods over windows of at most %ds", hpaMetric, maxWindow), func() (bool, error) {
		b, err := r.cs.CoreV1().RESTClient().Get().AbsPath(path).Param("labelSelector", "app="+hpaApp).DoRaw(ctx)
		if err != nil {
			return false, err
		}
		var list struct {
			Items []struct {
				WindowSeconds *int64 `json:"windowSeconds"`
			} `json:"items"`
		}
		if err := json.Unmarshal(b, &list); err != nil {
			return false, fmt.Errorf("decode %s: %w", path, err)
		}
		if len(list.Items) == 0 || list.Items[0].WindowSeconds == nil || *list.Items[0].WindowSeconds > maxWindow {
			return false, fmt.Errorf("%s: %s", path, bytes.TrimSpace(b))
		}
		return true, nil
	})
	if err != nil {
		return err
	}
	return r.poll(ctx, "the HPA "+name+" active at the minimum", func() (bool, error) {
		h, err := r.cs.AutoscalingV2().HorizontalPodAutoscalers(hpaNamespace).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		active := false
		for _, c := range h.Status.Conditions {
			if c.Type == autoscalingv2.ScalingActive && c.Status == corev1.ConditionTrue {
				active = true
			}
		}
		hasValue := len(h.Status.CurrentMetrics) > 0 && h.Status.CurrentMetrics[0].Pods != nil && h.Status.CurrentMetrics[0].Pods.Current.AverageValue != nil
		st, _ := r.tracker.snapshot()
		if !active || !hasValue || h.Status.DesiredReplicas != HPAMinReplicas || st.replicas != HPAMinReplicas || st.ready != HPAMinReplicas {
			return false, fmt.Errorf("HPA %s: active %v, metric reported %v, desired %d; Deployment %d replicas, %d Ready (conditions %v)",
				name, active, hasValue, h.Status.DesiredReplicas, st.replicas, st.ready, h.Status.Conditions)
		}
		return true, nil
	})
}

// sleep waits d; it fails when ctx ends or a spawned process exits.
func (r *hpaRun) sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-r.down:
		return errors.New("bench: a spawned process exited")
	}
}

// loadStep is one round once its HPA is active, with the Deployment at
// its minimum and the low load on: hold, a random part of a sync period,
// step up (T0), time the first change of spec.replicas (T1), wait for the
// expected replicas and their readiness, hold, drop back and wait until
// the Deployment is at its minimum again.
func (r *hpaRun) loadStep(ctx context.Context, s hpaSetting) (HPARound, error) {
	var rd HPARound
	lowStart := time.Now()
	if err := r.sleep(ctx, s.hold()); err != nil {
		return rd, err
	}
	phase := rand.N(s.syncPeriod)
	rd.PhaseS = round(phase.Seconds(), 2)
	if err := r.sleep(ctx, phase); err != nil {
		return rd, err
	}
	t0, err := r.load.setRate(ctx, r.highRPS)
	if err != nil {
		return rd, err
	}
	r.log.Debug("load stepped up", "rps", r.highRPS)
	first, err := r.tracker.firstChangeAfter(ctx, t0, r.cfg.Timeout, r.down)
	if err != nil {
		return rd, err
	}
	rd.ReactionS, rd.FirstReplicas = round(first.at.Sub(t0).Seconds(), 3), first.to
	r.log.Debug("first scale change", "from", first.from, "to", first.to, "after", first.at.Sub(t0))
	at, err := r.tracker.await(ctx, r.cfg.Timeout, fmt.Sprintf("spec.replicas at %d", r.expected), r.down,
		func(st deploymentState) bool { return st.replicas >= r.expected })
	if err != nil {
		return rd, err
	}
	rd.ExpectedS = round(at.Sub(t0).Seconds(), 2)
	at, err = r.tracker.await(ctx, r.cfg.Timeout, fmt.Sprintf("%d replicas Ready", r.expected), r.down,
		func(st deploymentState) bool { return st.ready >= r.expected })
	if err != nil {
		return rd, err
	}
	rd.ReadyS = round(at.Sub(t0).Seconds(), 2)
	if err := r.sleep(ctx, s.hold()); err != nil {
		return rd, err
	}
	t2, err := r.load.setRate(ctx, r.lowRPS)
	if err != nil {
		return rd, err
	}
	r.log.Debug("load dropped", "rps", r.lowRPS)
	at, err = r.tracker.await(ctx, r.cfg.Timeout, fmt.Sprintf("back to %d replica", HPAMinReplicas), r.down, func(st deploymentState) bool {
		return st.replicas == HPAMinReplicas && st.current == HPAMinReplicas && st.ready == HPAMinReplicas
	})
	if err != nil {
		return rd, err
	}
	rd.ScaleDownS = round(at.Sub(t2).Seconds(), 2)
	var steady []HPAChange
	for _, c := range r.tracker.changesSince(lowStart) {
		ch := HPAChange{S: round(c.at.Sub(t0).Seconds(), 3), From: c.from, To: c.to}
		rd.Changes = append(rd.Changes, ch)
		if c.at.Before(t2) {
			steady = append(steady, ch)
		}
	}
	rd.LowFlaps, rd.HighFlaps = countFlaps(steady, r.expected)
	return rd, nil
}

// cleanup deletes the Deployment and waits until its pods are gone,
// stops the agent, kills what is left of the pods' processes and removes
// the pod network from the host. It returns how many processes it killed.
func (r *hpaRun) cleanup() int {
	ctx, cancel := context.WithTimeout(context.Background(), hpaCleanupTimeout)
	defer cancel()
	if r.agent != nil && r.created {
		if err := r.deleteAll(ctx); err != nil {
			r.log.Warn("cleanup: the pods were not all deleted; their processes are killed", "err", err)
		}
	}
	if r.agent != nil {
		r.agent.stop() // removes its data directory
		if msg := r.agent.stderr.String(); msg != "" {
			r.agent.log.Warn("the agent logged", "stderr", msg)
		}
	}
	pids := podProcesses(r.runID)
	if len(pids) > 0 {
		r.log.Warn("processes of the benchmark's pods outlived the agent; killing them", "pids", pids)
		killProcesses(pids)
	}
	r.removeHostNetwork()
	return len(pids)
}

// deleteAll deletes the Deployment and its pods (grace period 1 s,
// through the agent) and waits until a LIST finds no pod.
func (r *hpaRun) deleteAll(ctx context.Context) error {
	return deleteAppPods(ctx, r.log, r.cs, hpaNamespace, hpaApp, r.agent.exited, hpaPoll)
}

// removeHostNetwork removes what the agent leaves on the host once its
// pods are gone: its pod network (removePodNetwork) and the ClusterIPs on
// the loopback interface (labelled cfg.AddressLabel). Failures are logged.
func (r *hpaRun) removeHostNetwork() {
	removePodNetwork(r.log, r.cfg.Bridge, hpaNodeName)
	if out, err := exec.Command("ip", "-4", "addr", "flush", "dev", "lo", "label", r.cfg.AddressLabel).CombinedOutput(); err != nil {
		r.log.Warn("cleanup: remove the ClusterIPs from the loopback interface", "label", r.cfg.AddressLabel, "err", err, "output", string(out))
	}
}
