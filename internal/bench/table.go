package bench

import (
	"fmt"
	"io"
	"strconv"
	"text/tabwriter"
)

// writeTable prints the human-readable summary.
func (r *APIResult) writeTable(w io.Writer) {
	writeMachine(w, "api", r.Machine, r.Server)
	if r.StartToReadyMs > 0 {
		fmt.Fprintf(w, "start→ready %.0f ms; RSS idle %.1f MiB (anon %.1f, file %.1f), after load %.1f MiB, peak %.1f MiB\n",
			r.StartToReadyMs, r.IdleRSSMB, r.IdleRSSAnonMB, r.IdleRSSFileMB, r.RSSAfterLoadMB, r.PeakRSSMB)
	}
	writeCPU(w, "during the measurements", r.CPUSeconds, r.OtherCPUPct)
	const row = "%7s  %-14s %9s %9s %9s\n"
	fmt.Fprintf(w, row, "clients", "verb", "p50 ms", "p99 ms", "ops/s")
	for _, l := range r.Levels {
		c := strconv.Itoa(l.Clients)
		for _, v := range []struct {
			name string
			s    OpStats
		}{{"create", l.Create}, {"get", l.Get}, {"update", l.Update}, {"list", l.List}, {"delete", l.Delete}} {
			fmt.Fprintf(w, row, c, v.name, f2(v.s.P50Ms), f2(v.s.P99Ms), strconv.FormatFloat(v.s.OpsPerS, 'f', 0, 64))
		}
		missed := ""
		if l.WatchDelivery.Missed > 0 {
			missed = fmt.Sprintf("%d missed", l.WatchDelivery.Missed)
		}
		fmt.Fprintf(w, row, c, "watch delivery", f2(l.WatchDelivery.P50Ms), f2(l.WatchDelivery.P99Ms), missed)
	}
	if b := r.List10k; b != nil {
		fmt.Fprintf(w, "\nbig list: %d pods (created at %.0f/s with 64 clients): full LIST median %.1f ms, max %.1f ms; paged (limit %d) median %.1f ms\n",
			b.Objects, b.CreateOpsPerS, b.MedianMs, b.MaxMs, pageSize, b.PagedMedianMs)
	}
	fmt.Fprintln(w, "\ntargets:")
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	t := r.Targets
	if top := r.topLevel(); top >= 0 {
		fmt.Fprintf(tw, "  mutating p99 at %d clients\t%.1f ms\t≤ %.0f ms\t%s\n", r.Levels[top].Clients, r.MutatingP99MsAtMaxClients, t.MutatingP99Ms, verdict(r.TargetsMet["mutating_p99_ms"]))
	}
	if b := r.List10k; b != nil {
		fmt.Fprintf(tw, "  LIST of %d pods (median)\t%.1f ms\t≤ %.0f ms\t%s\n", b.Objects, b.MedianMs, t.List10kMs, verdict(r.TargetsMet["list_10k_ms"]))
	}
	if r.IdleRSSMB > 0 {
		fmt.Fprintf(tw, "  idle RSS\t%.1f MiB\t≤ %.0f MiB\t%s\n", r.IdleRSSMB, t.IdleRSSMB, verdict(r.TargetsMet["idle_rss_mb"]))
	}
	if r.StartToReadyMs > 0 {
		fmt.Fprintf(tw, "  start to ready\t%.0f ms\t≤ %.0f ms\t%s\n", r.StartToReadyMs, t.StartToReadyMs, verdict(r.TargetsMet["start_to_ready_ms"]))
	}
	tw.Flush()
}

func f2(x float64) string { return strconv.FormatFloat(x, 'f', 2, 64) }

// writeMachine writes the first line of the summary of benchmark bench:
// the machine it ran on and the server measured.
func writeMachine(w io.Writer, bench string, m Machine, server string) {
	fmt.Fprintf(w, "berth bench %s: %d CPUs, %d MiB, kernel %s, %s/%s; server %s\n", bench, m.CPUs, m.MemMB, m.Kernel, m.Go, m.OS, server)
}

// writeCPU writes the CPU line of a summary, then a blank line: the CPU the
// benchmark and its server used in the window named by window and that
// other processes used, flagged when they disturbed the figures.
func writeCPU(w io.Writer, window string, cpu CPUSeconds, otherPct float64) {
	fmt.Fprintf(w, "CPU %s: client %.1f s, server %.1f s; other processes %.1f%% of one CPU", window, cpu.Client, cpu.Server, otherPct)
	if otherPct > noisyCPUPct {
		fmt.Fprint(w, " (DISTURBED: figures are pessimistic)")
	}
	fmt.Fprint(w, "\n\n")
}

// verdict is how a summary states whether a target was met.
func verdict(met bool) string {
	if met {
		return "met"
	}
	return "NOT met"
}
