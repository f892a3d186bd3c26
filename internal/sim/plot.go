package sim

import (
	"errors"
	"fmt"
	"image"
	"image/color"
	"math"
	"strconv"

	"github.com/berth-dev/berth/internal/plot"
)

var (
	demandColour = color.RGBA{33, 37, 41, 255}
	policyColour = map[string]color.RGBA{PolicyHPA: {255, 127, 14, 255}, PolicyPredictive: {31, 119, 180, 255}}
)

// WriteAutoscalePlot writes a PNG of one or more simulations of the same
// trace to file: above, demand and each policy's ready capacity
// (requests/s); below, each policy's replicas; the warm-up is shaded.
// Only the samples between from and to (seconds since the trace start; to
// 0 means the end) are drawn.
func WriteAutoscalePlot(file string, cfg AutoscaleConfig, from, to float64, results ...*AutoscaleResult) error {
	window := make([]*AutoscaleResult, len(results))
	for i, r := range results {
		w := *r
		w.Samples = nil
		for _, s := range r.Samples {
			if s.At >= from && (to <= 0 || s.At <= to) {
				w.Samples = append(w.Samples, s)
			}
		}
		window[i] = &w
	}
	img, err := renderAutoscalePlot(cfg, window)
	if err == nil {
		err = plot.WritePNG(file, img)
	}
	return err
}

func renderAutoscalePlot(cfg AutoscaleConfig, results []*AutoscaleResult) (*image.RGBA, error) {
	if len(results) == 0 || len(results[0].Samples) == 0 {
		return nil, errors.New("sim: plot: nothing was simulated")
	}
	samples := results[0].Samples
	x0h := samples[0].At / 3600 // the window's first hour
	xMax := samples[len(samples)-1].At/3600 - x0h
	yMax, rMax := 1.0, 1.0
	for _, r := range results {
		for _, s := range r.Samples {
			yMax = max(yMax, s.Demand, float64(s.Ready)*cfg.Capacity)
			rMax = max(rMax, float64(s.Replicas))
		}
	}
	yStep := plot.NiceStep(yMax*1.05, 6)
	yMax = math.Ceil(yMax*1.05/yStep) * yStep
	rStep := plot.NiceStep(rMax*1.1, 4)
	rMax = math.Ceil(rMax*1.1/rStep) * rStep
	xStep := plot.NiceStep(xMax, 12)

	img := plot.NewImage()
	x0, x1 := plot.MarginL, plot.W-plot.MarginR
	top0, top1 := plot.MarginT, plot.MarginT+(plot.H-plot.MarginT-plot.MarginB)*62/100
	bot0, bot1 := top1+30, plot.H-plot.MarginB
	if xMax <= 0 {
		xMax = 1
	}
	px := func(h float64) int { return x0 + int(math.Round((h-x0h)/xMax*float64(x1-x0))) }
	pyTop := func(v float64) int { return top1 - int(math.Round(v/yMax*float64(top1-top0))) }
	pyBot := func(v float64) int { return bot1 - int(math.Round(v/rMax*float64(bot1-bot0))) }

	sub := fmt.Sprintf("Capacity %g req/s per replica, target %.0f%%, start-up %s, sync %s, metric resolution %s. Above: demand and ready capacity; below: replicas. Figures for the scored window.",
		cfg.Capacity, cfg.TargetUtilization*100, cfg.StartUp, cfg.SyncPeriod, cfg.MetricResolution)
	plot.Heading(img, "Berth autoscaling simulation: "+results[0].Trace, sub)
	legend := []plot.LegendEntry{{C: demandColour, Label: "demand (req/s)"}}
	for _, r := range results {
		legend = append(legend, plot.LegendEntry{C: colourOf(r.Policy), Label: fmt.Sprintf("%s: %.1f SLO-violation min, %.0f replica-h, %d scale events, %d flaps",
			r.Policy, r.SLOViolationMinutes, r.ReplicaHours, r.ScaleEvents, r.Flaps)})
	}
	plot.LineLegend(img, legend)
	if w := min(cfg.Warmup.Hours(), x0h+xMax); w > x0h {
		shade := color.RGBA{248, 249, 250, 255}
		plot.FillRect(img, x0, top0, px(w)-x0, top1-top0, shade)
		plot.FillRect(img, x0, bot0, px(w)-x0, bot1-bot0, shade)
		plot.Text(img, x0+6, top0+6, "warm-up (not scored)", 1, plot.Ink)
	}
	plot.ValueGrid(img, x0, x1, yMax, yStep, pyTop)
	plot.ValueGrid(img, x0, x1, rMax, rStep, pyBot)
	for h := math.Ceil(x0h/xStep) * xStep; h <= x0h+xMax+xStep/2; h += xStep {
		plot.FillRect(img, px(h), top0, 1, top1-top0, plot.Minor)
		plot.FillRect(img, px(h), bot0, 1, bot1-bot0, plot.Minor)
		label := strconv.FormatFloat(h, 'f', -1, 64)
		plot.Text(img, px(h)-plot.TextWidth(label, 2)/2, bot1+10, label, 2, plot.Ink)
	}
	const xTitle = "hours since the trace start"
	plot.Text(img, (x0+x1)/2-plot.TextWidth(xTitle, 2)/2, plot.H-34, xTitle, 2, plot.Ink)
	plot.Text(img, 10, top0-24, "requests per second", 2, plot.Ink)
	plot.Text(img, 10, bot0-4, "replicas", 1, plot.Ink)

	step := func(ss []Sample, y func(Sample) float64, py func(float64) int, c color.Color, width int) {
		for i := 1; i < len(ss); i++ {
			a, b := ss[i-1], ss[i]
			plot.Line(img, px(a.At/3600), py(y(a)), px(b.At/3600), py(y(a)), width, 0, c)
			plot.Line(img, px(b.At/3600), py(y(a)), px(b.At/3600), py(y(b)), width, 0, c)
		}
	}
	step(samples, func(s Sample) float64 { return s.Demand }, pyTop, demandColour, 1)
	for _, r := range results {
		c := colourOf(r.Policy)
		step(r.Samples, func(s Sample) float64 { return float64(s.Ready) * cfg.Capacity }, pyTop, c, 1)
		step(r.Samples, func(s Sample) float64 { return float64(s.Replicas) }, pyBot, c, 1)
	}
	plot.Axes(img, x0, top0, x1, top1)
	plot.Axes(img, x0, bot0, x1, bot1)
	return img, nil
}

func colourOf(policy string) color.RGBA {
	if c, ok := policyColour[policy]; ok {
		return c
	}
	return plot.Palette[4]
}
