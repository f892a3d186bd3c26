package bench

import (
	"errors"
	"fmt"
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
		err = writePNG(file, img)
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
	xStep := niceStep(xMax, 10)
	xMax = math.Ceil(xMax/xStep) * xStep
	yStep := niceStep(float64(res.Replicas), 6)
	yMax := math.Ceil(float64(res.Replicas)*1.1/yStep) * yStep

	img := newPlotImage()
	x0, x1, y0, y1 := marginL, plotW-marginR, marginT, plotH-marginB
	px := func(s float64) int { return x0 + int(math.Round(s/xMax*float64(x1-x0))) }
	py := func(v float64) int { return y1 - int(math.Round(v/yMax*float64(y1-y0))) }

	m := res.Machine
	network := "own network namespaces"
	if !res.Root {
		network = "host network"
	}
	drawHeading(img, fmt.Sprintf("Berth node failure: %d replicas on two agents (%s), one agent killed", res.Replicas, network),
		fmt.Sprintf("%d CPUs, %s, %s. Grace period %gs, toleration %ds. Medians of %d rounds: NotReady %.1f s, evicted %.1f s, replacements Ready %.1f s.",
			m.CPUs, m.Go, m.OS, res.GracePeriodS, res.TolerationS, len(res.Rounds), res.NotReadyS, res.EvictedS, res.ReplacedS))
	var legend []legendEntry
	for i := range res.Rounds {
		legend = append(legend, legendEntry{roundColour(i), fmt.Sprintf("round %d", i+1)})
	}
	legend = append(legend, legendEntry{plotTarget, "grace period, + toleration (upper bounds)"})
	drawLineLegend(img, legend)

	drawValueGrid(img, x0, x1, yMax, yStep, py)
	drawText(img, 10, y0-24, "Ready replicas (Running, Ready, not being deleted)", 2, plotInk)
	for s := 0.0; s <= xMax+xStep/2; s += xStep {
		fillRect(img, px(s), y0, 1, y1-y0, plotMinor)
		label := strconv.FormatFloat(round(s, 2), 'f', -1, 64)
		drawText(img, px(s)-textWidth(label, 2)/2, y1+10, label, 2, plotInk)
	}
	const title = "seconds since the agent was killed (SIGKILL)"
	drawText(img, (x0+x1)/2-textWidth(title, 2)/2, plotH-34, title, 2, plotInk)
	for _, s := range []float64{res.GracePeriodS, res.BoundS} {
		drawLine(img, px(s), y0, px(s), y1, 2, 10, plotTarget)
	}
	for i, rd := range res.Rounds {
		c := roundColour(i)
		prevX, prevY := px(0), py(float64(res.Replicas))
		for _, smp := range rd.Samples {
			x, y := px(smp.S), py(float64(smp.Ready))
			drawLine(img, prevX, prevY, x, prevY, 3, 0, c)
			drawLine(img, x, prevY, x, y, 3, 0, c)
			prevX, prevY = x, y
		}
	}
	drawAxes(img, x0, y0, x1, y1)
	return img, nil
}

// roundColour is the colour of round i: the palette without its red, which
// marks the bounds.
func roundColour(i int) color.RGBA {
	var cs []color.RGBA
	for _, c := range plotPalette {
		if c != (color.RGBA{214, 39, 40, 255}) {
			cs = append(cs, c)
		}
	}
	return cs[i%len(cs)]
}
