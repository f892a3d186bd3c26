package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	utilnet "k8s.io/apimachinery/pkg/util/net"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
)

// noisyCPUPct is the CPU use of other processes (percent of one CPU) above
// which a run is flagged as disturbed.
const noisyCPUPct = 10

// RunAPI benchmarks the API server as described in the package doc and
// writes the human-readable table (unless cfg.JSONOnly) and then, as the
// last line, the JSON form of the result to out. On error the last line is
// {"bench":"api","error":"..."} and the error is returned. A spawned server
// is stopped and its data directory removed before RunAPI returns, also
// when ctx is cancelled; every goroutine RunAPI starts has ended by then.
func RunAPI(ctx context.Context, cfg APIConfig, out io.Writer) (*APIResult, error) {
	res, err := runAPI(ctx, cfg)
	return finishRun(out, "api", res, err, cfg.JSONOnly, cfg.PlotFile, WritePlot, cfg.Logger)
}

func runAPI(ctx context.Context, cfg APIConfig) (res *APIResult, err error) {
	if cfg, err = cfg.withDefaults(); err != nil {
		return nil, err
	}
	log := cfg.Logger
	res = &APIResult{Bench: "api", Server: "spawned", Targets: Targets, Machine: thisMachine()}
	var restCfg *rest.Config
	var proc *serverProc
	if cfg.external() {
		res.Server = cfg.Server
		if restCfg, err = clientcmd.BuildConfigFromFlags(cfg.Server, cfg.Kubeconfig); err != nil {
			return nil, fmt.Errorf("bench: load --kubeconfig %s: %w", cfg.Kubeconfig, err)
		}
		if res.Server == "" {
			res.Server = restCfg.Host
		}
	} else {
		var ready time.Duration
		if proc, ready, err = startServer(ctx, cfg.Binary, log); err != nil {
			return nil, err
		}
		defer proc.stopAndLog()
		res.StartToReadyMs = round(ms(ready), 1)
		log.Info("server ready; idling before reading its memory", "startToReady", ready.Round(time.Millisecond), "idle", cfg.IdleWait)
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(cfg.IdleWait):
		}
		m, err := proc.memory()
		if err != nil {
			return nil, err
		}
		res.IdleRSSMB, res.IdleRSSAnonMB, res.IdleRSSFileMB = round(m.rss, 1), round(m.anon, 1), round(m.file, 1)
		if restCfg, err = clientcmd.BuildConfigFromFlags("", proc.kubeconfig); err != nil {
			return nil, fmt.Errorf("bench: load the server's kubeconfig: %w", err)
		}
	}
	// No client-side throttling: the server is measured, not client-go's
	// rate limiter. A Proxy function makes client-go build a transport of
	// our own rather than a process-wide cached one, so it can be closed.
	restCfg.QPS, restCfg.Burst = 1e6, 1e6
	restCfg.UserAgent = "berth-bench"
	restCfg.Proxy = http.ProxyFromEnvironment
	httpClient, err := rest.HTTPClientFor(restCfg)
	if err != nil {
		return nil, fmt.Errorf("bench: HTTP client: %w", err)
	}
	defer utilnet.CloseIdleConnectionsFor(httpClient.Transport)
	cs, err := kubernetes.NewForConfigAndClient(restCfg, httpClient)
	if err != nil {
		return nil, fmt.Errorf("bench: clientset: %w", err)
	}

	serverPID := 0
	if proc != nil {
		serverPID = proc.cmd.Process.Pid
	}
	cpu0, t0 := sampleCPU(serverPID), time.Now()
	runID := fmt.Sprintf("%04x", rand.IntN(1<<16))
	var namespaces []string
	if cfg.external() {
		defer func() { cleanupExternal(cs, log, namespaces, runID, cfg.ListObjects) }()
	}
	for _, c := range cfg.Clients {
		ns := fmt.Sprintf("bench-%s-c%d", runID, c)
		namespaces = append(namespaces, ns)
		lr, err := runLevel(ctx, cs, log, ns, c, cfg.Ops)
		if err != nil {
			return nil, fmt.Errorf("bench: %w", err)
		}
		res.Levels = append(res.Levels, lr)
	}
	if cfg.ListObjects > 0 {
		lr, err := runBigList(ctx, cs, log, runID, cfg.ListObjects)
		if err != nil {
			return nil, fmt.Errorf("bench: big list: %w", err)
		}
		res.List10k = &lr
	}
	cpu1 := sampleCPU(serverPID)
	res.OtherCPUPct, res.CPUSeconds = cpuUse(log, "the measurements", cpu0, cpu1, t0)
	if proc != nil {
		m, err := proc.memory()
		if err != nil {
			return nil, err
		}
		res.RSSAfterLoadMB, res.PeakRSSMB = round(m.rss, 1), round(m.hwm, 1)
	}
	res.summarize()
	return res, nil
}

// cleanupExternal deletes what the benchmark created on a server that
// outlives it. Failures are logged, not returned.
func cleanupExternal(cs kubernetes.Interface, log *slog.Logger, namespaces []string, runID string, pods int) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	log.Info("cleaning up the external server", "namespaces", namespaces, "pods", pods)
	if pods > 0 {
		if err := deleteBigList(ctx, cs, runID, pods); err != nil && !errors.Is(err, context.Canceled) {
			log.Warn("cleanup: delete big-list pods", "err", err)
		}
	}
	for _, ns := range namespaces {
		if err := cs.CoreV1().Namespaces().Delete(ctx, ns, metav1.DeleteOptions{}); err != nil {
			log.Warn("cleanup: delete namespace", "namespace", ns, "err", err)
		}
	}
}
