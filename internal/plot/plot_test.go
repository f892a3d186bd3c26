package plot

import (
	"image/png"
	"os"
	"path/filepath"
	"testing"
)

func TestNiceStep(t *testing.T) {
	for _, tc := range []struct {
		span  float64
		ticks int
		want  float64
	}{
		{100, 10, 10}, {130, 10, 20}, {0.7, 7, 0.1}, {3600, 10, 500}, {0, 5, 1}, {45, 6, 10},
	} {
		if got := NiceStep(tc.span, tc.ticks); got != tc.want {
			t.Errorf("NiceStep(%g, %d) = %g, want %g", tc.span, tc.ticks, got, tc.want)
		}
	}
}

func TestWritePNG(t *testing.T) {
	img := NewImage()
	Heading(img, "title", "sub")
	LineLegend(img, []LegendEntry{{C: Palette[0], Label: "a"}, {C: Target, Label: "b"}})
	Line(img, MarginL, MarginT, W-MarginR, H-MarginB, 2, 4, Palette[1])
	Axes(img, MarginL, MarginT, W-MarginR, H-MarginB)
	if img.RGBAAt(MarginL-1, H-MarginB) != Ink {
		t.Errorf("the axes are not drawn in Ink")
	}
	file := filepath.Join(t.TempDir(), "p.png")
	if err := WritePNG(file, img); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	got, err := png.Decode(f)
	if err != nil {
		t.Fatal(err)
	}
	if b := got.Bounds(); b.Dx() != W || b.Dy() != H {
		t.Errorf("size %v, want %dx%d", b, W, H)
	}
}
