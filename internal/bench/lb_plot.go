package bench

import (
	"errors"
	"fmt"
	"github.com/berth-dev/berth/internal/plot"
	"image"
	"image/color"
	"math"
	"strconv"
)

var (
	plotDirect  = color.RGBA{120, 125, 130, 255}
	plotBerth   = color.RGBA{31, 119, 180, 255}
	plotHAProxy = color.RGBA{255, 127, 14, 255}
)

// lbColour is the colour of a target's bars.
func lbColour(name string) color.RGBA {
	switch name {
	case LBBerthTCP, LBBerthHTTP:
		return plotBerth
	case LBHAProxyTCP, LBHAProxyHTTP:
		return plotHAProxy
	}
	return plotDirect
}

// WriteLBPlot writes a PNG bar chart of res to file: above, requests/s
// per target; below, p50 (light) and p99 (dark) latency per target; the
// goals as dashed red marks over Berth's bars.
func WriteLBPlot(file string, res *LBResult) error {
	img, err := renderLBPlot(res)
	if err == nil {
		err = plot.WritePNG(file, img)
	}
	return err
}

func renderLBPlot(res *LBResult) (*image.RGBA, error) {
	if res == nil || len(res.Targets) == 0 {
		return nil, errors.New("bench: plot: no target was measured")
	}
	var rpsMax, msMax float64
	for _, t := range res.Targets {
		rpsMax, msMax = max(rpsMax, t.RPS), max(msMax, t.P99Ms, t.P50Ms)
	}
	if rpsMax <= 0 || msMax <= 0 {
		return nil, errors.New("bench: plot: no positive figure to draw")
	}
	img := plot.NewImage()
	m := res.Machine
	plot.Heading(img, fmt.Sprintf("Berth service proxy vs HAProxy: wrk -c%d to %d backends, round-robin (medians of %d rounds)",
		res.Connections, res.BackendCount, res.Rounds),
		fmt.Sprintf("%d CPUs shared by wrk, proxy and backends (%s), %s, %s. HTTP keep-alive, %gs per target and round.",
			m.CPUs, res.Backends, m.Go, m.OS, res.DurationS))
	plot.LineLegend(img, []plot.LegendEntry{{C: plotDirect, Label: "direct to a backend"}, {C: plotBerth, Label: "Berth proxy"}, {C: plotHAProxy, Label: "HAProxy"},
		{C: plot.Target, Label: "goals: 80% of HAProxy requests/s, p99 within 1.2x HAProxy p99 and direct p99 + 1 ms"}})

	x0, x1 := plot.MarginL, plot.W-plot.MarginR
	const gap = 60
	top := [2]int{plot.MarginT, plot.MarginT + (plot.H-plot.MarginT-plot.MarginB-gap)/2}
	bottom := [2]int{top[1] + gap, plot.H - plot.MarginB}
	n := len(res.Targets)
	groupW := float64(x1-x0) / float64(n)
	goalMark := func(left, w, y int) {
		plot.Line(img, left-8, y, left+w+8, y, 3, 6, plot.Target)
	}

	// Requests/s.
	yStep := plot.NiceStep(rpsMax*1.1, 4)
	yMax := math.Ceil(rpsMax*1.1/yStep) * yStep
	py := func(v float64) int { return top[1] - int(math.Round(v/yMax*float64(top[1]-top[0]))) }
	plot.ValueGrid(img, x0, x1, yMax, yStep, py)
	plot.Text(img, 10, top[0]-24, "requests/s", 2, plot.Ink)
	for i, t := range res.Targets {
		w := int(groupW * 0.4)
		left := x0 + int(float64(i)*groupW+(groupW-float64(w))/2)
		plot.FillRect(img, left, py(t.RPS), w, top[1]-py(t.RPS), lbColour(t.Name))
		label := strconv.FormatFloat(math.Round(t.RPS), 'f', 0, 64)
		plot.Text(img, left+(w-plot.TextWidth(label, 2))/2, py(t.RPS)-18, label, 2, plot.Ink)
		if h := res.haproxyOf(t.Name); h != nil {
			goalMark(left, w, py(h.RPS*res.Goals.MinRPSRatio))
		}
	}
	plot.Axes(img, x0, top[0], x1, top[1])

	// Latency.
	msLimit := msMax
	for _, t := range res.Targets {
		if g := res.p99Goal(t.Name); g > 0 {
			msLimit = max(msLimit, g)
		}
	}
	yStep = plot.NiceStep(msLimit*1.1, 4)
	yMax = math.Ceil(msLimit*1.1/yStep) * yStep
	qy := func(v float64) int { return bottom[1] - int(math.Round(v/yMax*float64(bottom[1]-bottom[0]))) }
	plot.ValueGrid(img, x0, x1, yMax, yStep, qy)
	plot.Text(img, 10, bottom[0]-24, "latency ms: p50 (light), p99 (dark)", 2, plot.Ink)
	for i, t := range res.Targets {
		w := int(groupW * 0.2)
		left := x0 + int(float64(i)*groupW+groupW/2) - w
		for j, v := range []float64{t.P50Ms, t.P99Ms} {
			c := lbColour(t.Name)
			if j == 0 {
				c = plot.Tint(c)
			}
			bx := left + j*w
			plot.FillRect(img, bx, qy(v), w-2, bottom[1]-qy(v), c)
			label := plot.ShortNum(v)
			plot.Text(img, bx+(w-2-plot.TextWidth(label, 2))/2, qy(v)-18, label, 2, plot.Ink)
		}
		if g := res.p99Goal(t.Name); g > 0 {
			goalMark(left+w, w-2, qy(g))
		}
		plot.Text(img, x0+int(float64(i)*groupW+groupW/2)-plot.TextWidth(t.Name, 2)/2, bottom[1]+12, t.Name, 2, plot.Ink)
	}
	plot.Axes(img, x0, bottom[0], x1, bottom[1])
	return img, nil
}

// haproxyOf is the HAProxy target of the same mode as Berth's target
// name, or nil for other targets.
func (r *LBResult) haproxyOf(name string) *LBTarget {
	switch name {
	case LBBerthTCP:
		return r.target(LBHAProxyTCP)
	case LBBerthHTTP:
		return r.target(LBHAProxyHTTP)
	}
	return nil
}

// p99Goal is the p99 in ms Berth's target name must not exceed: the
// stricter of the ratio to HAProxy and the added latency to direct; 0 for
// other targets.
func (r *LBResult) p99Goal(name string) float64 {
	h, d := r.haproxyOf(name), r.target(LBDirect)
	if h == nil || d == nil {
		return 0
	}
	return min(h.P99Ms*r.Goals.MaxP99Ratio, d.P99Ms+r.Goals.MaxAddedP99Ms)
}
