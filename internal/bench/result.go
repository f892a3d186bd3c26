package bench

import (
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"runtime"
	"strconv"
	"strings"
)

// Targets are Berth's goals for the API server (see docs/benchmarks.md).
var Targets = APITargets{MutatingP99Ms: 25, List10kMs: 1000, IdleRSSMB: 100, StartToReadyMs: 2000}

// APIResult holds the figures of one `berth bench api` run. Its JSON form is
// the last output line; the memory and start figures are left out when an
// already running server was measured.
type APIResult struct {
	// Bench is always "api".
	Bench string `json:"bench"`
	// Server is "spawned" or the URL of the external server measured.
	Server string `json:"server"`
	// StartToReadyMs is the time from spawning `berth server` to /readyz 200.
	StartToReadyMs float64 `json:"start_to_ready_ms,omitempty"`
	// IdleRSSMB is the server's VmRSS in MiB after idling once ready.
	IdleRSSMB float64 `json:"idle_rss_mb,omitempty"`
	// IdleRSSAnonMB and IdleRSSFileMB split IdleRSSMB into anonymous
	// memory (heap, stacks: RssAnon) and file-backed pages (RssFile, mostly
	// the mapped executable, which the kernel can drop and share).
	IdleRSSAnonMB float64 `json:"idle_rss_anon_mb,omitempty"`
	IdleRSSFileMB float64 `json:"idle_rss_file_mb,omitempty"`
	// RSSAfterLoadMB is the server's VmRSS in MiB after all measurements.
	RSSAfterLoadMB float64 `json:"rss_after_load_mb,omitempty"`
	// PeakRSSMB is the server's VmHWM (peak RSS) in MiB after all measurements.
	PeakRSSMB float64 `json:"peak_rss_mb,omitempty"`
	// Levels holds the per-verb figures of each concurrency level.
	Levels []LevelResult `json:"levels"`
	// List10k holds the big-list figures; nil when skipped.
	List10k *ListResult `json:"list_10k,omitempty"`
	// MutatingP99MsAtMaxClients is the largest p99 of create, update and
	// delete at the highest concurrency level.
	MutatingP99MsAtMaxClients float64 `json:"mutating_p99_ms_at_max_clients"`
	// Targets are the goals the figures are compared with.
	Targets APITargets `json:"targets"`
	// TargetsMet says, per target, whether it was met; targets that were
	// not measured are absent.
	TargetsMet map[string]bool `json:"targets_met"`
	// OtherCPUPct is the CPU time processes other than the benchmark and
	// the spawned server used during the measurements, in percent of one
	// CPU (-1 when unknown). A quiet machine shows a few percent; above 10
	// the run is disturbed.
	OtherCPUPct float64 `json:"other_cpu_pct"`
	// CPUSeconds splits the CPU time of the measurements between the
	// benchmark's client and the spawned server, which share the machine.
	CPUSeconds CPUSeconds `json:"cpu_seconds"`
	// Machine describes where the benchmark ran.
	Machine Machine `json:"machine"`
}

// LevelResult holds the figures of one concurrency level.
type LevelResult struct {
	// Clients is the number of concurrent goroutines.
	Clients int `json:"clients"`
	// Create is creating a ConfigMap with 10 data keys.
	Create OpStats `json:"create"`
	// Get is reading one ConfigMap by name.
	Get OpStats `json:"get"`
	// Update is replacing one ConfigMap with one data key changed.
	Update OpStats `json:"update"`
	// List is listing the level's namespace with limit 100.
	List OpStats `json:"list"`
	// Delete is deleting one ConfigMap by name.
	Delete OpStats `json:"delete"`
	// WatchDelivery is the latency from sending an update to receiving its
	// watch event.
	WatchDelivery WatchStats `json:"watch_delivery"`
}

// OpStats are the latency percentiles and throughput of one verb.
type OpStats struct {
	// P50Ms is the median latency in milliseconds.
	P50Ms float64 `json:"p50_ms"`
	// P99Ms is the 99th-percentile latency in milliseconds.
	P99Ms float64 `json:"p99_ms"`
	// OpsPerS is operations completed per second of the phase's wall time.
	OpsPerS float64 `json:"ops_per_s"`
}

// WatchStats are watch-delivery latency percentiles.
type WatchStats struct {
	// P50Ms is the median delivery latency in milliseconds.
	P50Ms float64 `json:"p50_ms"`
	// P99Ms is the 99th-percentile delivery latency in milliseconds.
	P99Ms float64 `json:"p99_ms"`
	// Missed counts updates whose event did not arrive in time; omitted
	// when zero.
	Missed int `json:"missed,omitempty"`
}

// ListResult holds the big-list figures.
type ListResult struct {
	// Objects is the number of pods created in the namespace.
	Objects int `json:"objects"`
	// MedianMs is the median time of the full (unlimited) LISTs.
	MedianMs float64 `json:"median_ms"`
	// MaxMs is the slowest full LIST.
	MaxMs float64 `json:"max_ms"`
	// PagedMedianMs is the median time to page through everything with
	// limit 500.
	PagedMedianMs float64 `json:"paged_median_ms"`
	// CreateOpsPerS is the pod creation throughput at 64 clients.
	CreateOpsPerS float64 `json:"create_ops_per_s"`
}

// APITargets are goals, in the units their names say.
type APITargets struct {
	// MutatingP99Ms bounds MutatingP99MsAtMaxClients.
	MutatingP99Ms float64 `json:"mutating_p99_ms"`
	// List10kMs bounds the median full LIST of the big-list namespace.
	List10kMs float64 `json:"list_10k_ms"`
	// IdleRSSMB bounds the idle RSS of the spawned server.
	IdleRSSMB float64 `json:"idle_rss_mb"`
	// StartToReadyMs bounds the start→ready time of the spawned server.
	StartToReadyMs float64 `json:"start_to_ready_ms"`
}

// Machine describes the benchmark machine.
type Machine struct {
	// CPUs is runtime.NumCPU() of the benchmark process.
	CPUs int `json:"cpus"`
	// Go is the Go version the benchmark was built with.
	Go string `json:"go"`
	// OS is runtime.GOOS.
	OS string `json:"os"`
	// Kernel is the kernel release (uname -r), when readable.
	Kernel string `json:"kernel,omitempty"`
	// MemMB is the machine's total memory in MiB, when readable.
	MemMB int `json:"mem_mb,omitempty"`
}

func thisMachine() Machine {
	m := Machine{CPUs: runtime.NumCPU(), Go: runtime.Version(), OS: runtime.GOOS}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.Kernel = strings.TrimSpace(string(b))
	}
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(line, "MemTotal:"); ok {
				kb, _ := strconv.Atoi(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")))
				m.MemMB = kb / 1024
			}
		}
	}
	return m
}

// summarize fills the derived fields: the mutating p99 at the highest
// level and which targets were met.
func (r *APIResult) summarize() {
	top := r.topLevel()
	r.TargetsMet = map[string]bool{}
	if top >= 0 {
		l := r.Levels[top]
		r.MutatingP99MsAtMaxClients = max(l.Create.P99Ms, l.Update.P99Ms, l.Delete.P99Ms)
		r.TargetsMet["mutating_p99_ms"] = r.MutatingP99MsAtMaxClients <= r.Targets.MutatingP99Ms
	}
	if r.List10k != nil {
		r.TargetsMet["list_10k_ms"] = r.List10k.MedianMs <= r.Targets.List10kMs
	}
	if r.IdleRSSMB > 0 {
		r.TargetsMet["idle_rss_mb"] = r.IdleRSSMB <= r.Targets.IdleRSSMB
	}
	if r.StartToReadyMs > 0 {
		r.TargetsMet["start_to_ready_ms"] = r.StartToReadyMs <= r.Targets.StartToReadyMs
	}
}

// topLevel is the index of the level with the most clients, -1 if none.
func (r *APIResult) topLevel() int {
	top := -1
	for i, l := range r.Levels {
		if top < 0 || l.Clients > r.Levels[top].Clients {
			top = i
		}
	}
	return top
}

// writeJSONLine writes v as one JSON line.
func writeJSONLine(w io.Writer, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("bench: encode result: %w", err)
	}
	_, err = fmt.Fprintf(w, "%s\n", b)
	return err
}

// WriteErrorJSON writes {"bench":"api","error":msg} as one line: the last
// line of a failed run.
func WriteErrorJSON(w io.Writer, err error) { WriteErrorJSONFor(w, "api", err) }

// WriteErrorJSONFor writes {"bench":bench,"error":msg} as one line: the last
// line of a failed run of that benchmark.
func WriteErrorJSONFor(w io.Writer, bench string, err error) {
	_ = writeJSONLine(w, struct {
		Bench string `json:"bench"`
		Error string `json:"error"`
	}{bench, err.Error()})
}

// tableWriter is a result that can print itself for people.
type tableWriter interface{ writeTable(io.Writer) }

// report finishes a benchmark run: on err the error JSON line; otherwise the
// human table (unless jsonOnly), a blank line and the result's JSON line.
func report(out io.Writer, bench string, res tableWriter, err error, jsonOnly bool) error {
	if err != nil {
		WriteErrorJSONFor(out, bench, err)
		return err
	}
	if !jsonOnly {
		res.writeTable(out)
		fmt.Fprintln(out)
	}
	return writeJSONLine(out, res)
}

// finishRun ends RunAPI, RunControllers and RunScheduler alike: when the
// run succeeded and plotFile is set it writes the plot with writePlot (a
// plot error fails the run), then it reports to out as report does. It
// returns res, or the zero R and the error. log (slog.Default() when nil)
// receives a message about the plot written.
func finishRun[R tableWriter](out io.Writer, bench string, res R, err error, jsonOnly bool,
	plotFile string, writePlot func(file string, res R) error, log *slog.Logger) (R, error) {
	if err == nil && plotFile != "" {
		if err = writePlot(plotFile, res); err == nil {
			if log == nil {
				log = slog.Default()
			}
			log.Info("wrote plot", "file", plotFile)
		}
	}
	if err := report(out, bench, res, err, jsonOnly); err != nil {
		var zero R
		return zero, err
	}
	return res, nil
}
