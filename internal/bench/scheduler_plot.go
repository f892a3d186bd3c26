package bench

import (
	"errors"
	"fmt"
	"image"
	"image/color"
	"math"
	"sort"
	"strconv"
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
	return writePNG(file, img)
}

func renderSchedulerPlot(res *SchedulerResult) (*image.RGBA, error) {
	if res.Pods <= 0 || len(res.BoundAt) == 0 || len(res.CreatedAt) == 0 {
		return nil, errors.New("bench: plot: no pod was timed")
	}
	xMax := max(res.BoundAt[len(res.BoundAt)-1], res.CreatedAt[len(res.CreatedAt)-1], 0.001)
	xStep := niceStep(xMax, 10)
	xMax = math.Ceil(xMax/xStep) * xStep
	yStep := niceStep(float64(res.Pods), 6)
	yMax := math.Ceil(float64(res.Pods)*1.05/yStep) * yStep

	img := image.NewRGBA(image.Rect(0, 0, plotW, plotH))
	fillRect(img, 0, 0, plotW, plotH, plotBG)
	x0, x1 := marginL, plotW-marginR
	y0, y1 := marginT, schedTopBottom
	b0, b1 := schedLowTop, plotH-marginB
	px := func(s float64) int { return x0 + int(math.Round(s/xMax*float64(x1-x0))) }
	py := func(v float64) int { return y1 - int(math.Round(v/yMax*float64(y1-y0))) }

	m := res.Machine
	drawText(img, marginL, 14, fmt.Sprintf("Berth scheduler: %d pods onto %d fake nodes", res.Pods, res.Nodes), 2, plotInk)
	sub := fmt.Sprintf("%d CPUs, %s, %s. %.0f pods/s bound (target %g/s), 1 s samples median %.0f max %.0f. Create to bound p50 %.0f ms, p99 %.0f ms.",
		m.CPUs, m.Go, m.OS, res.PodsPerSecond, res.TargetPodsPerSecond, res.ThroughputMedianPodsPerSecond, res.ThroughputMaxPodsPerSecond, res.P50Ms, res.P99Ms)
	drawText(img, marginL, 40, sub, 1, plotInk)
	lx := marginL
	for _, l := range []struct {
		c     color.RGBA
		label string
	}{{plotCreated, "pods created (create returned)"}, {plotBound, "pods bound (seen with spec.nodeName)"},
		{plotBars, "binds per 1 s window"}, {plotTarget, fmt.Sprintf("target %g pods/s", res.TargetPodsPerSecond)}} {
		fillRect(img, lx, 68, 24, 4, l.c)
		drawText(img, lx+32, 63, l.label, 1, plotInk)
		lx += 32 + textWidth(l.label, 1) + 32
	}

	// Upper panel: cumulative pods.
	for v := 0.0; v <= yMax+yStep/2; v += yStep {
		fillRect(img, x0, py(v), x1-x0, 1, plotGrid)
		label := strconv.FormatFloat(v, 'f', -1, 64)
		drawText(img, x0-10-textWidth(label, 2), py(v)-7, label, 2, plotInk)
	}
	for s := 0.0; s <= xMax+xStep/2; s += xStep {
		fillRect(img, px(s), y0, 1, y1-y0, plotMinor)
		fillRect(img, px(s), b0, 1, b1-b0, plotMinor)
		label := strconv.FormatFloat(round(s, 2), 'f', -1, 64)
		drawText(img, px(s)-textWidth(label, 2)/2, b1+10, label, 2, plotInk)
	}
	drawText(img, 10, y0-24, "pods", 2, plotInk)
	drawText(img, (x0+x1)/2-textWidth("seconds since the first create", 2)/2, plotH-34, "seconds since the first create", 2, plotInk)
	if t := res.TargetPodsPerSecond; t > 0 {
		end := min(xMax, yMax/t)
		drawLine(img, px(0), py(0), px(end), py(end*t), 2, 10, plotTarget)
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
			drawLine(img, prevX, prevY, x, y, 3, 0, series.c)
			prevX, prevY = x, y
			if n == len(series.at) && s > series.at[len(series.at)-1] {
				break
			}
		}
	}
	fillRect(img, x0, y1, x1-x0, 2, plotInk)
	fillRect(img, x0-2, y0, 2, y1-y0+2, plotInk)

	// Lower panel: binds per 1 s window.
	bins := bindsPerSecond(res.BoundAt)
	peak := 0
	for _, n := range bins {
		peak = max(peak, n)
	}
	bMax := max(float64(peak), res.TargetPodsPerSecond) * 1.1
	bStep := niceStep(bMax, 3)
	bMax = math.Ceil(bMax/bStep) * bStep
	by := func(v float64) int { return b1 - int(math.Round(v/bMax*float64(b1-b0))) }
	for v := 0.0; v <= bMax+bStep/2; v += bStep {
		fillRect(img, x0, by(v), x1-x0, 1, plotGrid)
		label := strconv.FormatFloat(v, 'f', -1, 64)
		drawText(img, x0-10-textWidth(label, 2), by(v)-7, label, 2, plotInk)
	}
	drawText(img, 10, b0-18, "binds/s", 1, plotInk)
	for k, n := range bins {
		if n == 0 {
			continue
		}
		left, right := px(float64(k)), px(min(float64(k+1), xMax))
		w := max(1, right-left-1)
		fillRect(img, left, by(float64(n)), w, b1-by(float64(n)), plotBars)
	}
	if t := res.TargetPodsPerSecond; t > 0 {
		drawLine(img, x0, by(t), x1, by(t), 2, 10, plotTarget)
	}
	fillRect(img, x0, b1, x1-x0, 2, plotInk)
	fillRect(img, x0-2, b0, 2, b1-b0+2, plotInk)
	return img, nil
}
