package bench

import (
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"math"
	"os"
	"strconv"
)

// Plot geometry, in pixels.
const (
	plotW, plotH                       = 1280, 720
	marginL, marginR, marginT, marginB = 96, 24, 110, 80
)

var (
	plotBG     = color.RGBA{255, 255, 255, 255}
	plotInk    = color.RGBA{33, 37, 41, 255}
	plotGrid   = color.RGBA{222, 226, 230, 255}
	plotMinor  = color.RGBA{241, 243, 245, 255}
	plotTarget = color.RGBA{200, 30, 30, 255}
	// plotPalette colours the levels in order; p99 bars use the colour,
	// p50 bars a lighter tint of it.
	plotPalette = []color.RGBA{{31, 119, 180, 255}, {255, 127, 14, 255}, {44, 160, 44, 255}, {214, 39, 40, 255}, {148, 103, 189, 255}, {140, 86, 75, 255}}
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
	return writePNG(file, img)
}

// writePNG writes img to file as a PNG.
func writePNG(file string, img image.Image) error {
	f, err := os.Create(file)
	if err != nil {
		return fmt.Errorf("bench: plot: %w", err)
	}
	if err := png.Encode(f, img); err != nil {
		f.Close()
		return fmt.Errorf("bench: plot: encode %s: %w", file, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("bench: plot: %w", err)
	}
	return nil
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
	img := newPlotImage()
	x0, x1, y0, y1 := marginL, plotW-marginR, marginT, plotH-marginB // y1 is the axis
	yOf := func(v float64) int {
		f := (math.Log10(v) - decLo) / (decHi - decLo)
		return y1 - int(math.Round(f*float64(y1-y0)))
	}

	// Title, machine and legend.
	m := res.Machine
	drawHeading(img, "Berth API server latency per verb and client count (ms, log scale)",
		fmt.Sprintf("%d CPUs, %s, %s.  Light bar = p50, dark bar = p99.  Watch = update sent to event received.  Dashed: p99 target of mutating calls (%g ms).",
			m.CPUs, m.Go, m.OS, res.Targets.MutatingP99Ms))
	lx := marginL
	for i, l := range res.Levels {
		c := plotPalette[i%len(plotPalette)]
		fillRect(img, lx, 62, 14, 14, tint(c))
		fillRect(img, lx+14, 62, 14, 14, c)
		label := strconv.Itoa(l.Clients) + " clients"
		if l.Clients == 1 {
			label = "1 client"
		}
		drawText(img, lx+36, 63, label, 2, plotInk)
		lx += 36 + textWidth(label, 2) + 36
	}

	// Grid: decades with labels, 2× and 5× minor lines.
	for d := decLo; d <= decHi; d++ {
		base := math.Pow(10, d)
		for _, k := range []float64{2, 5} {
			if d < decHi {
				y := yOf(base * k)
				fillRect(img, x0, y, x1-x0, 1, plotMinor)
			}
		}
		y := yOf(base)
		fillRect(img, x0, y, x1-x0, 1, plotGrid)
		label := strconv.FormatFloat(base, 'f', -1, 64)
		drawText(img, x0-10-textWidth(label, 2), y-7, label, 2, plotInk)
	}
	drawText(img, 10, y0-24, "ms", 2, plotInk)

	// Bars.
	groupW := float64(x1-x0) / float64(len(plotVerbs))
	n := len(res.Levels)
	inner := groupW * 0.8
	barW := inner / (2*float64(n) + 0.6*float64(n-1))
	for g, verb := range plotVerbs {
		gx := float64(x0) + float64(g)*groupW + groupW*0.1
		for i, l := range res.Levels {
			c := plotPalette[i%len(plotPalette)]
			p50, p99 := l.latencies(verb)
			bx := gx + float64(i)*(2+0.6)*barW
			for j, v := range []float64{p50, p99} {
				if v <= 0 {
					continue
				}
				col := c
				if j == 0 {
					col = tint(c)
				}
				left := int(math.Round(bx + float64(j)*barW))
				w := int(math.Round(barW)) - 1
				top := max(yOf(v), y0)
				fillRect(img, left, top, w, y1-top, col)
				if s := shortNum(v); textWidth(s, 1) <= w+4 {
					drawText(img, left+(w-textWidth(s, 1))/2, top-10, s, 1, plotInk)
				}
			}
			cl := strconv.Itoa(l.Clients)
			cx := int(math.Round(bx + barW - float64(textWidth(cl, 1))/2))
			drawText(img, cx, y1+8, cl, 1, plotInk)
		}
		drawText(img, int(gx+inner/2)-textWidth(verb, 2)/2, y1+26, verb, 2, plotInk)
	}
	if t := res.Targets.MutatingP99Ms; t > 0 && yOf(t) >= y0 && yOf(t) <= y1 {
		for x := x0; x < x1; x += 12 {
			fillRect(img, x, yOf(t), min(7, x1-x), 2, plotTarget)
		}
	}
	drawAxes(img, x0, y0, x1, y1)
	drawText(img, x0, plotH-24, "bar pairs per verb: one per client count, left to right as in the legend", 1, plotInk)
	return img, nil
}

// newPlotImage returns a blank chart of plotW × plotH pixels.
func newPlotImage() *image.RGBA {
	img := image.NewRGBA(image.Rect(0, 0, plotW, plotH))
	fillRect(img, 0, 0, plotW, plotH, plotBG)
	return img
}

// drawHeading draws the title of a chart and below it the line sub.
func drawHeading(img *image.RGBA, title, sub string) {
	drawText(img, marginL, 14, title, 2, plotInk)
	drawText(img, marginL, 40, sub, 1, plotInk)
}

// legendEntry is a line of a chart: its colour and what it shows.
type legendEntry struct {
	c     color.RGBA
	label string
}

// drawLineLegend draws the legend of a line chart below its heading: left
// to right, a short stroke of each entry's colour and its label.
func drawLineLegend(img *image.RGBA, entries []legendEntry) {
	lx := marginL
	for _, l := range entries {
		fillRect(img, lx, 68, 24, 4, l.c)
		drawText(img, lx+32, 63, l.label, 1, plotInk)
		lx += 32 + textWidth(l.label, 1) + 32
	}
}

// drawValueGrid draws a horizontal grid line from column x0 to x1 at every
// multiple of step up to vMax, labelled left of x0; y maps a value to its
// row.
func drawValueGrid(img *image.RGBA, x0, x1 int, vMax, step float64, y func(float64) int) {
	for v := 0.0; v <= vMax+step/2; v += step {
		fillRect(img, x0, y(v), x1-x0, 1, plotGrid)
		label := strconv.FormatFloat(v, 'f', -1, 64)
		drawText(img, x0-10-textWidth(label, 2), y(v)-7, label, 2, plotInk)
	}
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
			fillRect(img, x(s), p[0], 1, p[1]-p[0], plotMinor)
		}
		label := strconv.FormatFloat(round(s, 2), 'f', -1, 64)
		drawText(img, x(s)-textWidth(label, 2)/2, bottom+10, label, 2, plotInk)
	}
	const title = "seconds since the first create"
	x0, x1 := x(0), x(xMax) // the ends of the axis
	drawText(img, (x0+x1)/2-textWidth(title, 2)/2, plotH-34, title, 2, plotInk)
}

// drawAxes draws the axes of the plot area [x0, x1] × [y0, y1]: the x axis
// along row y1 and the y axis left of column x0.
func drawAxes(img *image.RGBA, x0, y0, x1, y1 int) {
	fillRect(img, x0, y1, x1-x0, 2, plotInk)
	fillRect(img, x0-2, y0, 2, y1-y0+2, plotInk)
}

// tint mixes c with white, for p50 bars.
func tint(c color.RGBA) color.RGBA {
	mix := func(v uint8) uint8 { return uint8(int(v) + (255-int(v))*55/100) }
	return color.RGBA{mix(c.R), mix(c.G), mix(c.B), 255}
}

// shortNum formats a latency for a bar label with two or three significant
// digits.
func shortNum(v float64) string {
	switch {
	case v >= 100:
		return strconv.FormatFloat(math.Round(v), 'f', 0, 64)
	case v >= 10:
		return strconv.FormatFloat(math.Round(v), 'f', 0, 64)
	case v >= 1:
		return strconv.FormatFloat(v, 'f', 1, 64)
	default:
		return strconv.FormatFloat(v, 'f', 2, 64)
	}
}
