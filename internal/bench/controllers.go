package bench

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"time"

	utilnet "k8s.io/apimachinery/pkg/util/net"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
)

const (
	// sampleInterval is how often the pods created are sampled for the plot.
	sampleInterval = 250 * time.Millisecond
	// progressLogInterval is how often progress is logged during the load.
	progressLogInterval = 10 * time.Second
)

// RunControllers benchmarks the workload controllers of a spawned `berth
// server`: it registers fake nodes, creates cfg.Deployments Deployments at
// once and times until every ReplicaSet, then every Deployment, reports all
// its pods; then it reads the server's memory and counts the pods. It writes
// the human-readable summary (unless cfg.JSONOnly) and then, as the last
// line, the JSON form of the result to out; on error the last line is
// {"bench":"controllers","error":"..."} and the error is returned. The
// server is stopped and its data directory removed before RunControllers
// returns, also when ctx is cancelled; so have the goroutines it started.
func RunControllers(ctx context.Context, cfg ControllersConfig, out io.Writer) (*ControllersResult, error) {
	res, err := runControllers(ctx, cfg)
	return finishRun(out, "controllers", res, err, cfg.JSONOnly, cfg.PlotFile, WriteControllersPlot, cfg.Logger)
}

func runControllers(ctx context.Context, cfg ControllersConfig) (res *ControllersResult, err error) {
	if cfg, err = cfg.withDefaults(); err != nil {
		return nil, err
	}
	log := cfg.Logger
	res = &ControllersResult{Bench: "controllers", Deployments: cfg.Deployments, Replicas: cfg.Replicas, Nodes: cfg.Nodes,
		Clients: cfg.Clients, Pods: cfg.Deployments * cfg.Replicas, Targets: ControllerTargets, Machine: thisMachine()}
	proc, ready, cs, stop, err := startLeadingServer(ctx, cfg.Binary, log)
	if err != nil {
		return nil, err
	}
	defer stop()
	res.StartToReadyMs = round(ms(ready), 1)
	log.Info("controllers running; idling before reading the server's memory", "startToReady", ready.Round(time.Millisecond), "idle", cfg.IdleWait)
	select {
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-time.After(cfg.IdleWait):
	}
	m, err := proc.memory()
	if err != nil {
		return nil, err
	}
	res.IdleRSSMB = round(m.rss, 1)
	if err := ensureNamespace(ctx, cs, controllersNamespace); err != nil {
		return nil, fmt.Errorf("bench: %w", err)
	}
	log.Info("registering fake nodes", "nodes", cfg.Nodes)
	if err := registerNodes(ctx, cs, cfg.Nodes, cfg.Clients); err != nil {
		return nil, err
	}

	// Watch ReplicaSets and Deployments before the first create.
	prog := newProgress(cfg.Deployments, cfg.Replicas)
	stopInformers, err := watchNamespace(ctx, cs, controllersNamespace, prog.register)
	if err != nil {
		return nil, err
	}
	defer stopInformers()

	if err := runLoad(ctx, cfg, cs, proc, prog, res); err != nil {
		return nil, err
	}
	if m, err = proc.memory(); err != nil {
		return nil, err
	}
	res.RSSMB, res.PeakRSSMB = round(m.rss, 1), round(m.hwm, 1)
	if res.PodsCounted, res.ReplicaSetsCounted, err = countObjects(ctx, cs); err != nil {
		return nil, err
	}
	if res.PodsCounted != res.Pods || res.ReplicaSetsCounted != res.Deployments {
		log.Warn("LIST counts differ from the load", "pods", res.PodsCounted, "wantPods", res.Pods,
			"replicaSets", res.ReplicaSetsCounted, "wantReplicaSets", res.Deployments)
	}
	res.summarize()
	return res, nil
}

// runLoad creates the Deployments and waits until every ReplicaSet and
// Deployment reports all its pods, filling the timing and CPU fields of res.
func runLoad(ctx context.Context, cfg ControllersConfig, cs kubernetes.Interface, proc *serverProc, prog *progress, res *ControllersResult) error {
	log := cfg.Logger
	loadCtx, cancel := context.WithTimeout(ctx, cfg.Timeout)
	defer cancel()
	cpu0, t0 := sampleCPU(proc.cmd.Process.Pid), time.Now()
	prog.start(t0)
	stopSampling, samples := make(chan struct{}), make(chan []ProgressSample, 1)
	go func() { samples <- prog.sampleEvery(sampleInterval, stopSampling) }()
	defer func() {
		if stopSampling != nil {
			close(stopSampling)
			<-samples
		}
	}()

	log.Info("creating Deployments", "deployments", cfg.Deployments, "replicas", cfg.Replicas, "clients", cfg.Clients)
	wall, err := createDeployments(loadCtx, cs, prog, cfg.Deployments, cfg.Replicas, cfg.Clients)
	if err != nil {
		return err
	}
	res.CreateDeploymentsS = round(wall.Seconds(), 3)
	log.Info("Deployments created; waiting for the controllers", "took", wall.Round(time.Millisecond))
	tick := time.NewTicker(progressLogInterval)
	defer tick.Stop()
	for waiting := true; waiting; {
		select {
		case <-prog.done:
			waiting = false
		case <-proc.exited:
			return fmt.Errorf("bench: the server exited during the load (%v): %s", proc.waitErr, proc.stderr.String())
		case <-loadCtx.Done():
			_, _, created, fullRS, synced := prog.state()
			return fmt.Errorf("bench: %w within %v of the first create: %d of %d pods, %d of %d ReplicaSets and %d of %d Deployments complete: %w",
				errNoProgress, cfg.Timeout, created, res.Pods, fullRS, cfg.Deployments, synced, cfg.Deployments, loadCtx.Err())
		case <-tick.C:
			_, _, created, fullRS, synced := prog.state()
			log.Info("progress", "elapsed", time.Since(t0).Round(time.Second), "podsCreated", created, "replicaSetsComplete", fullRS, "deploymentsSynced", synced)
		}
	}
	cpu1 := sampleCPU(proc.cmd.Process.Pid)
	close(stopSampling)
	res.Samples, stopSampling = <-samples, nil
	res.OtherCPUPct, res.CPUSeconds = cpuUse(log, "the load", cpu0, cpu1, t0)
	allCreated, allSynced, _, _, _ := prog.state()
	res.AllPodsCreatedS, res.DeploymentsSyncedS = round(allCreated.Seconds(), 3), round(allSynced.Seconds(), 3)
	log.Info("every pod created", "allPodsCreated", allCreated.Round(time.Millisecond), "deploymentsSynced", allSynced.Round(time.Millisecond))
	return nil
}

// startLeadingServer spawns `berth server` from binary as startServer
// does, builds an unthrottled client for it with benchClient and waits
// until its controller manager leads, so that the controllers and the
// scheduler run. It returns the time from spawning to ready and a function
// that closes the client and stops the server; on error nothing is left
// running.
func startLeadingServer(ctx context.Context, binary string, log *slog.Logger, extraArgs ...string) (*serverProc, time.Duration, *kubernetes.Clientset, func(), error) {
	proc, ready, err := startServer(ctx, binary, log, extraArgs...)
	if err != nil {
		return nil, 0, nil, nil, err
	}
	cs, closeClient, err := benchClient(proc.kubeconfig)
	if err != nil {
		proc.stopAndLog()
		return nil, 0, nil, nil, err
	}
	stop := func() {
		closeClient()
		proc.stopAndLog()
	}
	if err := waitForLeader(ctx, cs); err != nil {
		stop()
		return nil, 0, nil, nil, err
	}
	return proc, ready, cs, stop, nil
}

// watchNamespace starts informers on namespace ns of cs, those that
// register asks for with its event handlers, and waits until they have
// synced. The returned function stops them; on error they are stopped.
func watchNamespace(ctx context.Context, cs kubernetes.Interface, ns string, register func(informers.SharedInformerFactory) error) (func(), error) {
	factory := informers.NewSharedInformerFactoryWithOptions(cs, 0, informers.WithNamespace(ns))
	if err := register(factory); err != nil {
		return nil, err
	}
	infCtx, stopInformers := context.WithCancel(ctx)
	factory.Start(infCtx.Done())
	stop := func() { stopInformers(); factory.Shutdown() }
	for typ, ok := range factory.WaitForCacheSync(infCtx.Done()) {
		if !ok {
			stop()
			return nil, fmt.Errorf("bench: informer for %v did not sync", typ)
		}
	}
	return stop, nil
}

// benchClient builds an unthrottled clientset from a kubeconfig, with a
// transport of its own that the returned function closes.
func benchClient(kubeconfig string) (*kubernetes.Clientset, func(), error) {
	restCfg, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		return nil, nil, fmt.Errorf("bench: load the server's kubeconfig: %w", err)
	}
	// As in RunAPI: no client-side throttling, and a Proxy function so
	// client-go builds a transport of our own rather than a cached one.
	restCfg.QPS, restCfg.Burst = 1e6, 1e6
	restCfg.UserAgent = "berth-bench"
	restCfg.Proxy = http.ProxyFromEnvironment
	httpClient, err := rest.HTTPClientFor(restCfg)
	if err != nil {
		return nil, nil, fmt.Errorf("bench: HTTP client: %w", err)
	}
	cs, err := kubernetes.NewForConfigAndClient(restCfg, httpClient)
	if err != nil {
		utilnet.CloseIdleConnectionsFor(httpClient.Transport)
		return nil, nil, fmt.Errorf("bench: clientset: %w", err)
	}
	return cs, func() { utilnet.CloseIdleConnectionsFor(httpClient.Transport) }, nil
}
