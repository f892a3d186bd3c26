package bench

import (
	"errors"
	"fmt"
	"image"
	"image/color"
	"math"
	"strconv"

	"github.com/berth-dev/berth/internal/plot"
)

// Colours of the hpa chart: one per setting, and the Kubernetes
// references.
var (
	hpaDefaultColour = plot.Palette[0]
	hpaFastColour    = plot.Palette[2]
	hpaK8sMeanColour = color.RGBA{134, 142, 150, 255}
	hpaK8sMaxColour  = color.RGBA{73, 80, 87, 255}
)

// WriteHPAPlot writes a PNG chart of res to file: the reaction time of
// every round as a bar (lighter behind it: the time until the expected
// replicas were asked for), grouped by setting, on a seconds axis, with
// the fast setting's 5 s target and Kubernetes' 27.5 s mean and 55 s
// worst case as dashed lines.
func WriteHPAPlot(file string, res *HPAResult) error {
	img, err := renderHPAPlot(res)
	if err == nil {
		err = plot.WritePNG(file, img)
	}
	return err
}

func renderHPAPlot(res *HPAResult) (*image.RGBA, error) {
	if res == nil {
		return nil, errors.New("bench: plot: no result")
	}
	bars, top := 0, float64(KubernetesReactionMaxS)
	for _, s := range res.Settings {
		bars += len(s.Rounds)
		for _, rd := range s.Rounds {
			top = max(top, rd.ReactionS, rd.ExpectedS)
		}
	}
	if bars == 0 {
		return nil, errors.New("bench: plot: no load step was timed")
	}
	yStep := plot.NiceStep(top*1.08, 8)
	yMax := math.Ceil(top*1.08/yStep) * yStep

	img := plot.NewImage()
	x0, x1, y0, y1 := plot.MarginL, plot.W-plot.MarginR, plot.MarginT, plot.H-plot.MarginB
	py := func(v float64) int { return y1 - int(math.Round(v/yMax*float64(y1-y0))) }

	m := res.Machine
	plot.Heading(img, "Berth HPA: load step to scale request (Deployment spec.replicas changed), per round",
		fmt.Sprintf("%d CPUs, %s, %s. Pods metric requests per second, target %g per pod. Load %g to %g req/s, open loop through the Service proxy. %d to %d replicas.",
			m.CPUs, m.Go, m.OS, res.TargetRPS, res.LowRPS, res.HighRPS, res.MinReplicas, res.ExpectedReplicas))
	var legend []plot.LegendEntry
	for _, s := range res.Settings {
		legend = append(legend, plot.LegendEntry{C: hpaSettingColour(s.Name),
			Label: fmt.Sprintf("%s: sync %gs, resolution %gs", s.Name, s.SyncPeriodS, s.MetricResolutionS)})
	}
	legend = append(legend, plot.LegendEntry{C: plot.Target, Label: fmt.Sprintf("target (fast) %g s", res.Targets.FastMaxS)},
		plot.LegendEntry{C: hpaK8sMeanColour, Label: fmt.Sprintf("Kubernetes mean %g s", res.Kubernetes.MeanS)},
		plot.LegendEntry{C: hpaK8sMaxColour, Label: fmt.Sprintf("Kubernetes worst %g s", res.Kubernetes.MaxS)})
	plot.LineLegend(img, legend)

	plot.ValueGrid(img, x0, x1, yMax, yStep, py)
	plot.Text(img, 10, y0-24, "s", 2, plot.Ink)
	for _, ref := range []struct {
		v     float64
		c     color.RGBA
		label string
	}{
		{res.Targets.FastMaxS, plot.Target, fmt.Sprintf("target %g s", res.Targets.FastMaxS)},
		{res.Kubernetes.MeanS, hpaK8sMeanColour, fmt.Sprintf("Kubernetes mean %g s", res.Kubernetes.MeanS)},
		{res.Kubernetes.MaxS, hpaK8sMaxColour, fmt.Sprintf("Kubernetes worst %g s", res.Kubernetes.MaxS)},
	} {
		if ref.v <= 0 || ref.v > yMax {
			continue
		}
		plot.Line(img, x0, py(ref.v), x1, py(ref.v), 2, 10, ref.c)
		plot.Text(img, x1-6-plot.TextWidth(ref.label, 1), py(ref.v)-12, ref.label, 1, ref.c)
	}

	// One group per setting, one bar per round; a gap of one bar between
	// groups.
	slots := float64(bars + len(res.Settings) + 1)
	slotW := float64(x1-x0) / slots
	barW := min(60, max(2, int(math.Round(slotW*0.7))))
	slot := 1.0
	for _, s := range res.Settings {
		c := hpaSettingColour(s.Name)
		gx0 := float64(x0) + slot*slotW
		gx1 := gx0 + float64(len(s.Rounds))*slotW
		if len(s.Rounds) > 0 {
			// The median as a line across the group, behind the bars.
			plot.Line(img, int(gx0), py(s.MedianS), int(gx1), py(s.MedianS), 1, 4, plot.Ink)
		}
		for i, rd := range s.Rounds {
			cx := float64(x0) + (slot+0.5)*slotW
			left := int(math.Round(cx)) - barW/2
			if rd.ExpectedS > rd.ReactionS {
				// Light: until the expected replicas were asked for.
				full := max(py(rd.ExpectedS), y0)
				plot.FillRect(img, left, full, barW, y1-full, plot.Tint(c))
			}
			top := min(py(rd.ReactionS), y1-2) // a zero still shows
			plot.FillRect(img, left, top, barW, y1-top, c)
			label := strconv.FormatFloat(rd.ReactionS, 'f', 1, 64)
			lx, lw := int(math.Round(cx))-plot.TextWidth(label, 1)/2, plot.TextWidth(label, 1)
			plot.FillRect(img, lx-2, top-14, lw+4, 11, plot.BG) // over the median line
			plot.Text(img, lx, top-12, label, 1, plot.Ink)
			n := strconv.Itoa(i + 1)
			plot.Text(img, int(math.Round(cx))-plot.TextWidth(n, 1)/2, y1+8, n, 1, plot.Ink)
			slot++
		}
		for j, line := range []string{
			fmt.Sprintf("%s (sync %gs, resolution %gs)", s.Name, s.SyncPeriodS, s.MetricResolutionS),
			fmt.Sprintf("median %.1f s, mean %.1f s, max %.1f s, flaps %d", s.MedianS, s.MeanS, s.MaxS, s.Flaps),
		} {
			plot.Text(img, int((gx0+gx1)/2)-plot.TextWidth(line, 1)/2, y1+24+j*14, line, 1, plot.Ink)
		}
		slot++
	}
	const title = "rounds per setting (dotted line: median). Bar: load step to the first scale request, light: to the expected replicas"
	plot.Text(img, (x0+x1)/2-plot.TextWidth(title, 1)/2, plot.H-22, title, 1, plot.Ink)
	plot.Axes(img, x0, y0, x1, y1)
	return img, nil
}

// hpaSettingColour is the colour of a setting's bars.
func hpaSettingColour(name string) color.RGBA {
	if name == HPASettingFast {
		return hpaFastColour
	}
	return hpaDefaultColour
}
