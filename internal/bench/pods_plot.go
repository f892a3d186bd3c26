package bench

import (
	"errors"
	"fmt"
	"github.com/berth-dev/berth/internal/plot"
	"image"
	"math"
)

// WritePodsPlot writes a PNG chart of res to file: the create → Ready
// latency of every pod, sorted ascending, over the percent of pods (so the
// curve is the inverse of the latency's distribution function), with the
// p50, p90 and p99 marked and the p99 target as a dashed line.
func WritePodsPlot(file string, res *PodsResult) error {
	img, err := renderPodsPlot(res)
	if err == nil {
		err = plot.WritePNG(file, img)
	}
	return err
}

func renderPodsPlot(res *PodsResult) (*image.RGBA, error) {
	lat := res.LatenciesMs
	if len(lat) == 0 {
		return nil, errors.New("bench: plot: no pod was timed")
	}
	n := float64(len(lat))
	// The target stays in view, above the slowest pod or not.
	yStep := plot.NiceStep(max(lat[len(lat)-1], res.TargetP99Ms)*1.08, 8)
	yMax := math.Ceil(max(lat[len(lat)-1], res.TargetP99Ms)*1.08/yStep) * yStep

	img := plot.NewImage()
	x0, x1, y0, y1 := plot.MarginL, plot.W-plot.MarginR, plot.MarginT, plot.H-plot.MarginB
	px := func(pct float64) int { return x0 + int(math.Round(pct/100*float64(x1-x0))) }
	py := func(v float64) int { return y1 - int(math.Round(v/yMax*float64(y1-y0))) }

	m := res.Machine
	network := "own network namespaces"
	if !res.Root {
		network = "host network"
	}
	pace := "all created at once"
	if res.RatePerS > 0 {
		pace = fmt.Sprintf("created at %g/s", res.RatePerS)
	}
	plot.Heading(img, fmt.Sprintf("Berth pod start-up: %d pods through one agent (process driver, %s)", res.Pods, network),
		fmt.Sprintf("%d CPUs, %s, %s. Pods %s. Create to Ready p50 %.0f ms, p90 %.0f ms, p99 %.0f ms, max %.0f ms. All %d Ready %.2f s after the first create.",
			m.CPUs, m.Go, m.OS, pace, res.P50Ms, res.P90Ms, res.P99Ms, res.MaxMs, res.Pods, res.AllReadyS))
	plot.LineLegend(img, []plot.LegendEntry{{C: plotCreated, Label: "create to Ready latency of each pod, sorted"}, {C: plotMarker, Label: "p50, p90, p99"},
		{C: plot.Target, Label: fmt.Sprintf("target p99 %g ms", res.TargetP99Ms)}})

	plot.ValueGrid(img, x0, x1, yMax, yStep, py)
	plot.Text(img, 10, y0-24, "ms", 2, plot.Ink)
	for _, pct := range []float64{0, 25, 50, 75, 100} {
		label := fmt.Sprintf("%g%%", pct)
		plot.FillRect(img, px(pct), y0, 1, y1-y0, plot.Minor)
		plot.Text(img, min(px(pct)-plot.TextWidth(label, 2)/2, plot.W-2-plot.TextWidth(label, 2)), y1+10, label, 2, plot.Ink)
	}
	const title = "pods, sorted by their create to Ready latency"
	plot.Text(img, (x0+x1)/2-plot.TextWidth(title, 2)/2, plot.H-34, title, 2, plot.Ink)

	for i, mk := range []struct {
		p     float64
		label string
	}{{50, "p50"}, {90, "p90"}, {99, "p99"}} {
		x := px(mk.p)
		plot.Line(img, x, y0, x, y1, 1, 5, plotMarker)
		label := fmt.Sprintf("%s %.0f ms", mk.label, Percentile(lat, mk.p))
		tx := x - 6 - plot.TextWidth(label, 1) // left of the marker: p99 sits at the right edge
		plot.Text(img, tx, y0+6+i*14, label, 1, plotMarker)
	}
	if t := res.TargetP99Ms; t > 0 {
		plot.Line(img, x0, py(t), x1, py(t), 2, 10, plot.Target)
	}
	// A step per pod: pod k (from 0) spans the percents (k, k+1] / n.
	prevX, prevY := px(0), py(lat[0])
	for k, v := range lat {
		y := py(v)
		plot.Line(img, prevX, prevY, prevX, y, 3, 0, plotCreated)
		x := px(float64(k+1) / n * 100)
		plot.Line(img, prevX, y, x, y, 3, 0, plotCreated)
		prevX, prevY = x, y
	}
	plot.Axes(img, x0, y0, x1, y1)
	return img, nil
}
