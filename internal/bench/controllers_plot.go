package bench

import (
	"errors"
	"fmt"
	"github.com/berth-dev/berth/internal/plot"
	"image"
	"image/color"
	"math"
)

var (
	plotCreated   = color.RGBA{31, 119, 180, 255}
	plotRequested = color.RGBA{160, 165, 170, 255}
	plotMarker    = color.RGBA{90, 95, 100, 255}
)

// WriteControllersPlot writes a PNG line chart of res.Samples to file: pods
// created (sum of ReplicaSet status.replicas) and pods requested
// (Deployments created × replicas) over the seconds since the first create,
// with the target rate as a dashed line and the end of the create phase and
// the moment every pod existed as vertical markers.
func WriteControllersPlot(file string, res *ControllersResult) error {
	img, err := renderControllersPlot(res)
	if err != nil {
		return err
	}
	return plot.WritePNG(file, img)
}

func renderControllersPlot(res *ControllersResult) (*image.RGBA, error) {
	if len(res.Samples) < 2 || res.Pods <= 0 {
		return nil, errors.New("bench: plot: fewer than two progress samples")
	}
	xMax := max(res.Samples[len(res.Samples)-1].Seconds, res.DeploymentsSyncedS, res.AllPodsCreatedS)
	xStep := plot.NiceStep(xMax, 10)
	xMax = math.Ceil(xMax/xStep) * xStep
	yStep := plot.NiceStep(float64(res.Pods), 8)
	yMax := math.Ceil(float64(res.Pods)*1.05/yStep) * yStep

	img := plot.NewImage()
	x0, x1, y0, y1 := plot.MarginL, plot.W-plot.MarginR, plot.MarginT, plot.H-plot.MarginB
	px := func(s float64) int { return x0 + int(math.Round(s/xMax*float64(x1-x0))) }
	py := func(v float64) int { return y1 - int(math.Round(v/yMax*float64(y1-y0))) }

	m := res.Machine
	plot.Heading(img, fmt.Sprintf("Berth workload controllers: %d Deployments x %d replicas created at once", res.Deployments, res.Replicas),
		fmt.Sprintf("%d CPUs, %s, %s. %d pods in %.1f s = %.0f pods/s (target %g/s). Server RSS %.0f MiB, peak %.0f MiB.",
			m.CPUs, m.Go, m.OS, res.Pods, res.AllPodsCreatedS, res.PodsPerS, res.Targets.PodsPerS, res.RSSMB, res.PeakRSSMB))
	plot.LineLegend(img, []plot.LegendEntry{{C: plotCreated, Label: "pods created (sum of ReplicaSet status.replicas)"},
		{C: plotRequested, Label: "pods requested (Deployments created x replicas)"}, {C: plot.Target, Label: fmt.Sprintf("target %g pods/s", res.Targets.PodsPerS)}})

	plot.ValueGrid(img, x0, x1, yMax, yStep, py)
	drawSecondsAxis(img, xMax, xStep, px, [2]int{y0, y1})
	plot.Text(img, 10, y0-24, "pods", 2, plot.Ink)

	for i, mk := range []struct {
		s     float64
		label string
	}{{res.CreateDeploymentsS, "all Deployments created"}, {res.AllPodsCreatedS, "all pods created"}} {
		if mk.s <= 0 {
			continue
		}
		for y := y0; y < y1; y += 10 {
			plot.FillRect(img, px(mk.s), y, 1, min(5, y1-y), plotMarker)
		}
		tx := px(mk.s) + 6
		if w := plot.TextWidth(mk.label, 1); tx+w > x1 {
			tx = px(mk.s) - 6 - w // no room on the right: label on the left
		}
		plot.Text(img, tx, y0+6+i*14, mk.label, 1, plotMarker)
	}
	if t := res.Targets.PodsPerS; t > 0 {
		end := min(xMax, float64(res.Pods)/t)
		plot.Line(img, px(0), py(0), px(end), py(end*t), 2, 10, plot.Target)
	}
	for i := 1; i < len(res.Samples); i++ {
		a, b := res.Samples[i-1], res.Samples[i]
		// Requested is a step: it changes only when a create returns.
		plot.Line(img, px(a.Seconds), py(float64(a.Requested)), px(b.Seconds), py(float64(a.Requested)), 2, 0, plotRequested)
		plot.Line(img, px(b.Seconds), py(float64(a.Requested)), px(b.Seconds), py(float64(b.Requested)), 2, 0, plotRequested)
	}
	for i := 1; i < len(res.Samples); i++ {
		a, b := res.Samples[i-1], res.Samples[i]
		plot.Line(img, px(a.Seconds), py(float64(a.Created)), px(b.Seconds), py(float64(b.Created)), 3, 0, plotCreated)
	}
	plot.Axes(img, x0, y0, x1, y1)
	return img, nil
}
