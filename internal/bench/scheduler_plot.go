package bench

import (
	"errors"
	"fmt"
	"github.com/berth-dev/berth/internal/plot"
	"image"
	"image/color"
	"math"
	"sort"
)

var (
	plotBound = color.RGBA{44, 160, 44, 255}
	plotBars  = color.RGBA{148, 103, 189, 255}
)

// Panels of the scheduler plot: cumulative pods on top, binds per second
// below, sharing the time axis.
const (
	schedTopBottom = 420 // bottom of the upper panel
	schedLowTop    = 465 // top of the lower panel
)

// WriteSchedulerPlot writes a PNG chart of res to file: in the upper panel
// the cumulative pods created (create call returned) and bound (first seen
// with spec.nodeName) over the seconds since the first create, with the
// target rate as a dashed line; in the lower panel the binds in each 1 s
// window, with the target as a dashed line.
func WriteSchedulerPlot(file string, res *SchedulerResult) error {
	img, err := renderSchedulerPlot(res)
	if err != nil {
		return err
	}
	return plot.WritePNG(file, img)
}

func renderSchedulerPlot(res *SchedulerResult) (*image.RGBA, error) {
	if res.Pods <= 0 || len(res.BoundAt) == 0 || len(res.CreatedAt) == 0 {
		return nil, errors.New("bench: plot: no pod was timed")
	}
	xMax := max(res.BoundAt[len(res.BoundAt)-1], res.CreatedAt[len(res.CreatedAt)-1], 0.001)
	xStep := plot.NiceStep(xMax, 10)
	xMax = math.Ceil(xMax/xStep) * xStep
	yStep := plot.NiceStep(float64(res.Pods), 6)
	yMax := math.Ceil(float64(res.Pods)*1.05/yStep) * yStep

	img := plot.NewImage()
	x0, x1 := plot.MarginL, plot.W-plot.MarginR
	y0, y1 := plot.MarginT, schedTopBottom
	b0, b1 := schedLowTop, plot.H-plot.MarginB
	px := func(s float64) int { return x0 + int(math.Round(s/xMax*float64(x1-x0))) }
	py := func(v float64) int { return y1 - int(math.Round(v/yMax*float64(y1-y0))) }

	m := res.Machine
	plot.Heading(img, fmt.Sprintf("Berth scheduler: %d pods onto %d fake nodes", res.Pods, res.Nodes),
		fmt.Sprintf("%d CPUs, %s, %s. %.0f pods/s bound (target %g/s), 1 s samples median %.0f max %.0f. Create to bound p50 %.0f ms, p99 %.0f ms.",
			m.CPUs, m.Go, m.OS, res.PodsPerSecond, res.TargetPodsPerSecond, res.ThroughputMedianPodsPerSecond, res.ThroughputMaxPodsPerSecond, res.P50Ms, res.P99Ms))
	plot.LineLegend(img, []plot.LegendEntry{{C: plotCreated, Label: "pods created (create returned)"}, {C: plotBound, Label: "pods bound (seen with spec.nodeName)"},
		{C: plotBars, Label: "binds per 1 s window"}, {C: plot.Target, Label: fmt.Sprintf("target %g pods/s", res.TargetPodsPerSecond)}})

	// Upper panel: cumulative pods; the time axis spans both panels.
	plot.ValueGrid(img, x0, x1, yMax, yStep, py)
	drawSecondsAxis(img, xMax, xStep, px, [2]int{y0, y1}, [2]int{b0, b1})
	plot.Text(img, 10, y0-24, "pods", 2, plot.Ink)
	if t := res.TargetPodsPerSecond; t > 0 {
		end := min(xMax, yMax/t)
		plot.Line(img, px(0), py(0), px(end), py(end*t), 2, 10, plot.Target)
	}
	for _, series := range []struct {
		at []float64
		c  color.RGBA
	}{{res.CreatedAt, plotCreated}, {res.BoundAt, plotBound}} {
		// One point per pixel column: the pods at or before its time.
		prevX, prevY := px(0), py(0)
		for x := x0; x <= x1; x++ {
			s := float64(x-x0) / float64(x1-x0) * xMax
			n := sort.SearchFloat64s(series.at, math.Nextafter(s, math.Inf(1)))
			y := py(float64(n))
			plot.Line(img, prevX, prevY, x, y, 3, 0, series.c)
			prevX, prevY = x, y
			if n == len(series.at) && s > series.at[len(series.at)-1] {
				break
			}
		}
	}
	plot.Axes(img, x0, y0, x1, y1)

	// Lower panel: binds per 1 s window.
	bins := bindsPerSecond(res.BoundAt)
	peak := 0
	for _, n := range bins {
		peak = max(peak, n)
	}
	bMax := max(float64(peak), res.TargetPodsPerSecond) * 1.1
	bStep := plot.NiceStep(bMax, 3)
	bMax = math.Ceil(bMax/bStep) * bStep
	by := func(v float64) int { return b1 - int(math.Round(v/bMax*float64(b1-b0))) }
	plot.ValueGrid(img, x0, x1, bMax, bStep, by)
	plot.Text(img, 10, b0-18, "binds/s", 1, plot.Ink)
	for k, n := range bins {
		if n == 0 {
			continue
		}
		left, right := px(float64(k)), px(min(float64(k+1), xMax))
		w := max(1, right-left-1)
		plot.FillRect(img, left, by(float64(n)), w, b1-by(float64(n)), plotBars)
	}
	if t := res.TargetPodsPerSecond; t > 0 {
		plot.Line(img, x0, by(t), x1, by(t), 2, 10, plot.Target)
	}
	plot.Axes(img, x0, b0, x1, b1)
	return img, nil
}
