// Package atomicfile replaces files whole: readers see the old content or
// the new, never a part, also when the writer dies halfway.
package atomicfile
