package bench

import (
	"errors"
	"fmt"
	"github.com/berth-dev/berth/internal/plot"
	"image"
	"math"
	"strconv"
)

// plotVerbs are the bar groups, left to right.
var plotVerbs = []string{"create", "get", "update", "list", "delete", "watch"}

// latencies returns the p50 and p99 of verb at level l.
func (l LevelResult) latencies(verb string) (p50, p99 float64) {
	switch verb {
	case "create":
		return l.Create.P50Ms, l.Create.P99Ms
	case "get":
		return l.Get.P50Ms, l.Get.P99Ms
	case "update":
		return l.Update.P50Ms, l.Update.P99Ms
	case "list":
		return l.List.P50Ms, l.List.P99Ms
	case "delete":
		return l.Delete.P50Ms, l.Delete.P99Ms
	}
	return l.WatchDelivery.P50Ms, l.WatchDelivery.P99Ms
}

// WritePlot writes a PNG bar chart of res to file: one group of bars per
// verb (watch = watch delivery), in each a pair of bars (p50 light, p99
// dark) per concurrency level, on a logarithmic millisecond axis.
func WritePlot(file string, res *APIResult) error {
	img, err := renderPlot(res)
	if err != nil {
		return err
	}
	return plot.WritePNG(file, img)
}

func renderPlot(res *APIResult) (*image.RGBA, error) {
	if len(res.Levels) == 0 {
		return nil, errors.New("bench: plot: no levels measured")
	}
	lo, hi := math.Inf(1), 0.0
	for _, l := range res.Levels {
		for _, v := range plotVerbs {
			p50, p99 := l.latencies(v)
			for _, x := range []float64{p50, p99} {
				if x > 0 {
					lo, hi = min(lo, x), max(hi, x)
				}
			}
		}
	}
	if hi == 0 {
		return nil, errors.New("bench: plot: no positive latency to draw")
	}
	decLo, decHi := math.Floor(math.Log10(lo)), math.Ceil(math.Log10(hi))
	if decHi <= decLo {
		decHi = decLo + 1
	}
	img := plot.NewImage()
	x0, x1, y0, y1 := plot.MarginL, plot.W-plot.MarginR, plot.MarginT, plot.H-plot.MarginB // y1 is the axis
	yOf := func(v float64) int {
		f := (math.Log10(v) - decLo) / (decHi - decLo)
		return y1 - int(math.Round(f*float64(y1-y0)))
	}

	// Title, machine and legend.
	m := res.Machine
	plot.Heading(img, "Berth API server latency per verb and client count (ms, log scale)",
		fmt.Sprintf("%d CPUs, %s, %s.  Light bar = p50, dark bar = p99.  Watch = update sent to event received.  Dashed: p99 target of mutating calls (%g ms).",
			m.CPUs, m.Go, m.OS, res.Targets.MutatingP99Ms))
	lx := plot.MarginL
	for i, l := range res.Levels {
		c := plot.Palette[i%len(plot.Palette)]
		plot.FillRect(img, lx, 62, 14, 14, plot.Tint(c))
		plot.FillRect(img, lx+14, 62, 14, 14, c)
		label := strconv.Itoa(l.Clients) + " clients"
		if l.Clients == 1 {
			label = "1 client"
		}
		plot.Text(img, lx+36, 63, label, 2, plot.Ink)
		lx += 36 + plot.TextWidth(label, 2) + 36
	}

	// Grid: decades with labels, 2× and 5× minor lines.
	for d := decLo; d <= decHi; d++ {
		base := math.Pow(10, d)
		for _, k := range []float64{2, 5} {
			if d < decHi {
				y := yOf(base * k)
				plot.FillRect(img, x0, y, x1-x0, 1, plot.Minor)
			}
		}
		y := yOf(base)
		plot.FillRect(img, x0, y, x1-x0, 1, plot.Grid)
		label := strconv.FormatFloat(base, 'f', -1, 64)
		plot.Text(img, x0-10-plot.TextWidth(label, 2), y-7, label, 2, plot.Ink)
	}
	plot.Text(img, 10, y0-24, "ms", 2, plot.Ink)

	// Bars.
	groupW := float64(x1-x0) / float64(len(plotVerbs))
	n := len(res.Levels)
	inner := groupW * 0.8
	barW := inner / (2*float64(n) + 0.6*float64(n-1))
	for g, verb := range plotVerbs {
		gx := float64(x0) + float64(g)*groupW + groupW*0.1
		for i, l := range res.Levels {
			c := plot.Palette[i%len(plot.Palette)]
			p50, p99 := l.latencies(verb)
			bx := gx + float64(i)*(2+0.6)*barW
			for j, v := range []float64{p50, p99} {
				if v <= 0 {
					continue
				}
				col := c
				if j == 0 {
					col = plot.Tint(c)
				}
				left := int(math.Round(bx + float64(j)*barW))
				w := int(math.Round(barW)) - 1
				top := max(yOf(v), y0)
				plot.FillRect(img, left, top, w, y1-top, col)
				if s := plot.ShortNum(v); plot.TextWidth(s, 1) <= w+4 {
					plot.Text(img, left+(w-plot.TextWidth(s, 1))/2, top-10, s, 1, plot.Ink)
				}
			}
			cl := strconv.Itoa(l.Clients)
			cx := int(math.Round(bx + barW - float64(plot.TextWidth(cl, 1))/2))
			plot.Text(img, cx, y1+8, cl, 1, plot.Ink)
		}
		plot.Text(img, int(gx+inner/2)-plot.TextWidth(verb, 2)/2, y1+26, verb, 2, plot.Ink)
	}
	if t := res.Targets.MutatingP99Ms; t > 0 && yOf(t) >= y0 && yOf(t) <= y1 {
		for x := x0; x < x1; x += 12 {
			plot.FillRect(img, x, yOf(t), min(7, x1-x), 2, plot.Target)
		}
	}
	plot.Axes(img, x0, y0, x1, y1)
	plot.Text(img, x0, plot.H-24, "bar pairs per verb: one per client count, left to right as in the legend", 1, plot.Ink)
	return img, nil
}

// drawSecondsAxis draws the time axis of a chart over seconds since the
// first create: a minor grid line at every multiple of step up to xMax
// across each panel (its top and bottom row), labelled below the last
// panel, and the axis title at the foot of the chart; x maps seconds to a
// column.
func drawSecondsAxis(img *image.RGBA, xMax, step float64, x func(float64) int, panels ...[2]int) {
	bottom := panels[len(panels)-1][1]
	for s := 0.0; s <= xMax+step/2; s += step {
		for _, p := range panels {
			plot.FillRect(img, x(s), p[0], 1, p[1]-p[0], plot.Minor)
		}
		label := strconv.FormatFloat(round(s, 2), 'f', -1, 64)
		plot.Text(img, x(s)-plot.TextWidth(label, 2)/2, bottom+10, label, 2, plot.Ink)
	}
	const title = "seconds since the first create"
	x0, x1 := x(0), x(xMax) // the ends of the axis
	plot.Text(img, (x0+x1)/2-plot.TextWidth(title, 2)/2, plot.H-34, title, 2, plot.Ink)
}
