package plot

import (
	"fmt"
	"image"
	"image/color"
	"image/png"
	"math"
	"os"
	"strconv"
)

// Chart geometry, in pixels: every chart is W × H with the plot area
// inside the margins.
const (
	W, H                               = 1280, 720
	MarginL, MarginR, MarginT, MarginB = 96, 24, 110, 80
)

// Colours shared by every chart.
var (
	// BG is the background.
	BG = color.RGBA{255, 255, 255, 255}
	// Ink is the colour of text and axes.
	Ink = color.RGBA{33, 37, 41, 255}
	// Grid is the colour of major grid lines.
	Grid = color.RGBA{222, 226, 230, 255}
	// Minor is the colour of minor grid lines.
	Minor = color.RGBA{241, 243, 245, 255}
	// Target is the colour of targets and bounds.
	Target = color.RGBA{200, 30, 30, 255}
	// Palette colours series in order (bar charts draw p99 in the colour
	// and p50 in a Tint of it).
	Palette = []color.RGBA{{31, 119, 180, 255}, {255, 127, 14, 255}, {44, 160, 44, 255}, {214, 39, 40, 255}, {148, 103, 189, 255}, {140, 86, 75, 255}}
)

// NewImage returns a blank chart of W × H pixels.
func NewImage() *image.RGBA {
	img := image.NewRGBA(image.Rect(0, 0, W, H))
	FillRect(img, 0, 0, W, H, BG)
	return img
}

// Heading draws the title of a chart and below it the line sub.
func Heading(img *image.RGBA, title, sub string) {
	Text(img, MarginL, 14, title, 2, Ink)
	Text(img, MarginL, 40, sub, 1, Ink)
}

// LegendEntry is a line of a chart: its colour and what it shows.
type LegendEntry struct {
	C     color.RGBA
	Label string
}

// LineLegend draws the legend of a line chart below its heading: left
// to right, a short stroke of each entry's colour and its label.
func LineLegend(img *image.RGBA, entries []LegendEntry) {
	lx := MarginL
	for _, l := range entries {
		FillRect(img, lx, 68, 24, 4, l.C)
		Text(img, lx+32, 63, l.Label, 1, Ink)
		lx += 32 + TextWidth(l.Label, 1) + 32
	}
}

// ValueGrid draws a horizontal grid line from column x0 to x1 at every
// multiple of step up to vMax, labelled left of x0; y maps a value to its
// row.
func ValueGrid(img *image.RGBA, x0, x1 int, vMax, step float64, y func(float64) int) {
	for v := 0.0; v <= vMax+step/2; v += step {
		FillRect(img, x0, y(v), x1-x0, 1, Grid)
		label := strconv.FormatFloat(v, 'f', -1, 64)
		Text(img, x0-10-TextWidth(label, 2), y(v)-7, label, 2, Ink)
	}
}

// Axes draws the axes of the plot area [x0, x1] × [y0, y1]: the x axis
// along row y1 and the y axis left of column x0.
func Axes(img *image.RGBA, x0, y0, x1, y1 int) {
	FillRect(img, x0, y1, x1-x0, 2, Ink)
	FillRect(img, x0-2, y0, 2, y1-y0+2, Ink)
}

// Tint mixes c with white, for p50 bars.
func Tint(c color.RGBA) color.RGBA {
	mix := func(v uint8) uint8 { return uint8(int(v) + (255-int(v))*55/100) }
	return color.RGBA{mix(c.R), mix(c.G), mix(c.B), 255}
}

// ShortNum formats a latency for a bar label with two or three significant
// digits.
func ShortNum(v float64) string {
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

// WritePNG writes img to file as a PNG.
func WritePNG(file string, img image.Image) error {
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

// Line draws a line of the given width from (ax, ay) to (bx, by); with
// dash > 0 it draws dash pixels on, dash pixels off.
func Line(img *image.RGBA, ax, ay, bx, by, width, dash int, c color.Color) {
	dx, dy := float64(bx-ax), float64(by-ay)
	n := int(math.Max(math.Abs(dx), math.Abs(dy)))
	for i := 0; i <= n; i++ {
		if dash > 0 && (i/dash)%2 == 1 {
			continue
		}
		f := 0.0
		if n > 0 {
			f = float64(i) / float64(n)
		}
		x, y := ax+int(math.Round(f*dx)), ay+int(math.Round(f*dy))
		FillRect(img, x-width/2, y-width/2, width, width, c)
	}
}

// NiceStep is a grid step of 1, 2 or 5 × 10^k that divides span into at
// most about maxTicks intervals.
func NiceStep(span float64, maxTicks int) float64 {
	if span <= 0 {
		return 1
	}
	raw := span / float64(maxTicks)
	p := math.Pow(10, math.Floor(math.Log10(raw)))
	for _, k := range []float64{1, 2, 5, 10} {
		if k*p >= raw {
			return k * p
		}
	}
	return 10 * p
}
