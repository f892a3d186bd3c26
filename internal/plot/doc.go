// Package plot draws the PNG charts of Berth's benchmarks and simulations
// with the standard library only: a fixed chart geometry and palette, a
// built-in bitmap font, lines, rectangles, grids, legends and axes.
package plot
