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

// WriteFailoverPlot writes a PNG chart of res to file: the Ready replicas
// over the seconds since the agent was killed, one step line per round,
// with the grace period and grace period + toleration as dashed lines.
func WriteFailoverPlot(file string, res *FailoverResult) error {
	img, err := renderFailoverPlot(res)
	if err == nil {
		err = plot.WritePNG(file, img)
	}
	return err
}

func renderFailoverPlot(res *FailoverResult) (*image.RGBA, error) {
	if res == nil || len(res.Rounds) == 0 || res.Replicas <= 0 {
		return nil, errors.New("bench: plot: no node failure was timed")
	}
	xMax := res.BoundS
	for _, rd := range res.Rounds {
		if len(rd.Samples) > 0 {
			xMax = max(xMax, rd.Samples[len(rd.Samples)-1].S)
		}
	}
	xMax *= 1.05
	xStep := plot.NiceStep(xMax, 10)
	xMax = math.Ceil(xMax/xStep) * xStep
	yStep := plot.NiceStep(float64(res.Replicas), 6)
	yMax := math.Ceil(float64(res.Replicas)*1.1/yStep) * yStep

	img := plot.NewImage()
	x0, x1, y0, y1 := plot.MarginL, plot.W-plot.MarginR, plot.MarginT, plot.H-plot.MarginB
	px := func(s float64) int { return x0 + int(math.Round(s/xMax*float64(x1-x0))) }
	py := func(v float64) int { return y1 - int(math.Round(v/yMax*float64(y1-y0))) }

	m := res.Machine
	network := "own network namespaces"
	if !res.Root {
		network = "host network"
	}
	plot.Heading(img, fmt.Sprintf("Berth node failure: %d replicas on two agents (%s), one agent killed", res.Replicas, network),
		fmt.Sprintf("%d CPUs, %s, %s. Grace period %gs, toleration %ds. Medians of %d rounds: NotReady %.1f s, evicted %.1f s, replacements Ready %.1f s.",
			m.CPUs, m.Go, m.OS, res.GracePeriodS, res.TolerationS, len(res.Rounds), res.NotReadyS, res.EvictedS, res.ReplacedS))
	var legend []plot.LegendEntry
	for i := range res.Rounds {
		legend = append(legend, plot.LegendEntry{C: roundColour(i), Label: fmt.Sprintf("round %d", i+1)})
	}
	legend = append(legend, plot.LegendEntry{C: plot.Target, Label: "grace period, + toleration (upper bounds)"})
	plot.LineLegend(img, legend)

	plot.ValueGrid(img, x0, x1, yMax, yStep, py)
	plot.Text(img, 10, y0-24, "Ready replicas (Running, Ready, not being deleted)", 2, plot.Ink)
	for s := 0.0; s <= xMax+xStep/2; s += xStep {
		plot.FillRect(img, px(s), y0, 1, y1-y0, plot.Minor)
		label := strconv.FormatFloat(round(s, 2), 'f', -1, 64)
		plot.Text(img, px(s)-plot.TextWidth(label, 2)/2, y1+10, label, 2, plot.Ink)
	}
	const title = "seconds since the agent was killed (SIGKILL)"
	plot.Text(img, (x0+x1)/2-plot.TextWidth(title, 2)/2, plot.H-34, title, 2, plot.Ink)
	for _, s := range []float64{res.GracePeriodS, res.BoundS} {
		plot.Line(img, px(s), y0, px(s), y1, 2, 10, plot.Target)
	}
	for i, rd := range res.Rounds {
		c := roundColour(i)
		prevX, prevY := px(0), py(float64(res.Replicas))
		for _, smp := range rd.Samples {
			x, y := px(smp.S), py(float64(smp.Ready))
			plot.Line(img, prevX, prevY, x, prevY, 3, 0, c)
			plot.Line(img, x, prevY, x, y, 3, 0, c)
			prevX, prevY = x, y
		}
	}
	plot.Axes(img, x0, y0, x1, y1)
	return img, nil
}

// roundColour is the colour of round i: the palette without its red, which
// marks the bounds.
func roundColour(i int) color.RGBA {
	var cs []color.RGBA
	for _, c := range plot.Palette {
		if c != (color.RGBA{214, 39, 40, 255}) {
			cs = append(cs, c)
		}
	}
	return cs[i%len(cs)]
}
