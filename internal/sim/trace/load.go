package trace

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// Options adjusts how LoadOptions reads a trace.
type Options struct {
	// Function selects rows of an Azure Functions trace: only the rows
	// whose HashFunction starts with Function are summed ("" sums every
	// row). It is an error to set it for any other format.
	Function string
}

// Load reads a trace file, detecting its format from its content (a
// gzip-compressed file is decompressed first):
//
//   - Berth's CSV: a `time,rps` header, then one line per sample with its
//     time, either in seconds (any float) or as an RFC 3339 timestamp, and
//     its demand in requests per second. Times must increase from line to
//     line; they are shifted so that the first is 0.
//   - Wikipedia pageviews: the Wikimedia REST API's per-article JSON
//     ({"items":[{"timestamp":"2015100100","views":N,...},...]}, hourly or
//     daily granularity) or a CSV export with a `date,views` or
//     `timestamp,views` header. Timestamps may be YYYYMMDDHH, YYYYMMDD,
//     YYYY-MM-DD, YYYY-MM-DD HH:MM[:SS] or RFC 3339; those with a time of
//     day are hourly counts, the others daily ones. The demand is the views
//     divided by the length of the period (rps = views/3600 for hourly
//     data). As the API leaves out periods without views, a gap in the
//     timestamps is filled with a zero sample.
//   - Azure Functions 2019 (invocations_per_function_md.anon.dNN.csv): a
//     `HashOwner,HashApp,HashFunction,Trigger,1,2,...,1440` header and one
//     row of per-minute invocation counts per function. The trace is the
//     sum of all rows, one sample per minute, rps = count/60.
//
// The trace is named after the file, without directory and extensions.
// Errors name the file, the line and what is wrong with it, as in
// `trace x.csv:7: rps "abc" is not a number`; an empty file, a header
// without samples, a negative rate, times that do not increase and an
// unknown format are errors.
func Load(path string) (*Trace, error) {
	return LoadOptions(path, Options{})
}

// LoadOptions is Load with options; see Options.
func LoadOptions(path string, opts Options) (*Trace, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("trace: %w", err)
	}
	defer f.Close()
	l := &loader{path: path, name: traceName(path), opts: opts}
	return l.load(f)
}

// traceName is the base name of path without its extensions (".csv.gz"
// included).
func traceName(path string) string {
	name := filepath.Base(path)
	name = strings.TrimSuffix(name, ".gz")
	return strings.TrimSuffix(name, filepath.Ext(name))
}

// loader reads one trace file.
type loader struct {
	path string
	name string
	opts Options
}

// errorf returns an error about line of the file (0: the whole file).
func (l *loader) errorf(line int, format string, args ...any) error {
	msg := fmt.Sprintf(format, args...)
	if line <= 0 {
		return fmt.Errorf("trace %s: %s", l.path, msg)
	}
	return fmt.Errorf("trace %s:%d: %s", l.path, line, msg)
}

func (l *loader) load(r io.Reader) (*Trace, error) {
	br := bufio.NewReader(r)
	if magic, _ := br.Peek(2); len(magic) == 2 && magic[0] == 0x1f && magic[1] == 0x8b {
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil, l.errorf(0, "bad gzip data: %v", err)
		}
		defer zr.Close()
		br = bufio.NewReader(zr)
	}
	if bom, _ := br.Peek(3); bytes.Equal(bom, []byte("\xef\xbb\xbf")) {
		br.Discard(3)
	}
	first, err := firstByte(br)
	if err == io.EOF {
		return nil, l.errorf(0, "empty file")
	}
	if err != nil {
		return nil, l.errorf(0, "%v", err)
	}
	var t *Trace
	if first == '{' {
		t, err = l.wikiJSON(br)
	} else {
		t, err = l.csv(br)
	}
	if err != nil {
		return nil, err
	}
	t.Name = l.name
	if l.opts.Function != "" {
		t.Name += ":" + l.opts.Function
	}
	return t, nil
}

// firstByte returns the first byte of r that is not white space, without
// consuming it.
func firstByte(r *bufio.Reader) (byte, error) {
	for i := 1; ; i++ {
		b, err := r.Peek(i)
		if len(b) < i {
			if err == nil {
				err = io.EOF
			}
			return 0, err
		}
		if c := b[i-1]; !strings.ContainsRune(" \t\r\n", rune(c)) {
			return c, nil
		}
		if i == r.Size() { // a buffer full of white space: drop it
			r.Discard(i)
			i = 0
		}
	}
}

// csv reads the CSV formats, telling them apart by their header.
func (l *loader) csv(r io.Reader) (*Trace, error) {
	cr := csv.NewReader(r)
	cr.ReuseRecord = true
	header, err := cr.Read()
	if err != nil {
		line := 1
		if pe := (*csv.ParseError)(nil); errors.As(err, &pe) {
			line = pe.Line
		}
		return nil, l.errorf(line, "unknown format: %v", err)
	}
	line, _ := cr.FieldPos(0)
	cols := make([]string, len(header))
	for i, h := range header {
		cols[i] = strings.ToLower(strings.TrimSpace(h))
	}
	var t *Trace
	switch {
	case len(cols) == 2 && cols[0] == "time" && cols[1] == "rps":
		err = l.noFunction()
		if err == nil {
			t, err = l.berthCSV(cr)
		}
	case len(cols) == 2 && (cols[0] == "date" || cols[0] == "timestamp") && cols[1] == "views":
		err = l.noFunction()
		if err == nil {
			t, err = l.wikiCSV(cr)
		}
	case len(cols) >= 4 && cols[0] == "hashowner" && cols[1] == "hashapp" && cols[2] == "hashfunction" && cols[3] == "trigger":
		t, err = l.azure(cr, line, header)
	default:
		h := strings.Join(header, ",")
		if len(h) > 60 {
			h = h[:60] + "..."
		}
		return nil, l.errorf(line, "unknown format: header %q is not Berth's time,rps, a Wikipedia date,views or timestamp,views export, or an Azure Functions HashOwner,HashApp,HashFunction,Trigger,1,2,... trace", h)
	}
	return t, err
}

func (l *loader) noFunction() error {
	if l.opts.Function != "" {
		return l.errorf(0, "a function selector (%q) only applies to Azure Functions traces", l.opts.Function)
	}
	return nil
}

// readErr turns an error from the CSV reader into one naming the file and
// line; want is the expected number of fields.
func (l *loader) readErr(err error, want int) error {
	var pe *csv.ParseError
	if !errors.As(err, &pe) {
		return l.errorf(0, "%v", err)
	}
	if errors.Is(pe.Err, csv.ErrFieldCount) {
		return l.errorf(pe.Line, "wrong number of fields, want %d like the header", want)
	}
	return l.errorf(pe.Line, "%v", pe.Err)
}

// sampler accumulates samples, checking that their times increase.
type sampler struct {
	l         *loader
	points    []Point
	prevLine  int
	prevField string
}

// add appends a sample read from line, whose time field was field.
func (s *sampler) add(line int, field string, at, rps float64) error {
	if n := len(s.points); n > 0 && at <= s.points[n-1].At {
		return s.l.errorf(line, "time %s is not after the previous sample's %s (line %d)", field, s.prevField, s.prevLine)
	}
	s.points = append(s.points, Point{At: at, RPS: rps})
	s.prevLine, s.prevField = line, field
	return nil
}

// trace returns the samples as a trace starting at 0, or an error if there
// are none.
func (s *sampler) trace() (*Trace, error) {
	if len(s.points) == 0 {
		return nil, s.l.errorf(0, "no samples after the header")
	}
	t0 := s.points[0].At
	for i := range s.points {
		s.points[i].At -= t0
	}
	return &Trace{Points: s.points}, nil
}

// rate parses a non-negative finite number from field what of line.
func (l *loader) rate(line int, what, field string) (float64, error) {
	v, err := strconv.ParseFloat(field, 64)
	switch {
	case err != nil && !errors.Is(err, strconv.ErrRange):
		return 0, l.errorf(line, "%s %q is not a number", what, field)
	case err != nil || !finite(v):
		return 0, l.errorf(line, "%s %q is not a finite number", what, field)
	case v < 0:
		return 0, l.errorf(line, "%s %s is negative", what, field)
	}
	return v, nil
}

// berthCSV reads the samples of Berth's time,rps format.
func (l *loader) berthCSV(cr *csv.Reader) (*Trace, error) {
	s := &sampler{l: l}
	var (
		rfc3339 bool      // the times are timestamps, not seconds
		t0      time.Time // the first timestamp
	)
	for {
		rec, err := cr.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, l.readErr(err, 2)
		}
		line, _ := cr.FieldPos(0)
		tf, rf := strings.TrimSpace(rec[0]), strings.TrimSpace(rec[1])
		var at float64
		secs, errSecs := strconv.ParseFloat(tf, 64)
		ts, errTS := time.Parse(time.RFC3339Nano, tf)
		switch {
		case errSecs == nil && finite(secs) && (len(s.points) == 0 || !rfc3339):
			at = secs
		case errSecs == nil && rfc3339:
			return nil, l.errorf(line, "time %q is in seconds but the first sample's is an RFC 3339 timestamp", tf)
		case errTS == nil && len(s.points) == 0:
			rfc3339, t0 = true, ts
			at = 0
		case errTS == nil && rfc3339:
			at = ts.Sub(t0).Seconds()
		case errTS == nil:
			return nil, l.errorf(line, "time %q is an RFC 3339 timestamp but the first sample's is in seconds", tf)
		default:
			return nil, l.errorf(line, "time %q is neither a finite number of seconds nor an RFC 3339 timestamp", tf)
		}
		rps, err := l.rate(line, "rps", rf)
		if err != nil {
			return nil, err
		}
		if err := s.add(line, strconv.Quote(tf), at, rps); err != nil {
			return nil, err
		}
	}
	return s.trace()
}

// Lengths of the periods that Wikipedia view counts cover.
const (
	hourly = 3600.0
	daily  = 86400.0
)

// wikiSampler turns view counts per period into samples, filling gaps with
// zeros.
type wikiSampler struct {
	sampler
	period   float64   // hourly or daily, set by the first sample
	t0       time.Time // the first timestamp
	fillUpTo float64   // a zero sample is due here if the next one is later
}

func (w *wikiSampler) add(line int, field string, ts time.Time, period, views float64) error {
	if w.period == 0 {
		w.period, w.t0 = period, ts
	} else if period != w.period {
		return w.l.errorf(line, "timestamp %s is %s but the first sample's is %s", field, granularity(period), granularity(w.period))
	}
	at := ts.Sub(w.t0).Seconds()
	if len(w.points) > 0 && at > w.fillUpTo {
		w.points = append(w.points, Point{At: w.fillUpTo})
	}
	w.fillUpTo = at + w.period
	return w.sampler.add(line, field, at, views/w.period)
}

func granularity(period float64) string {
	if period == hourly {
		return "hourly"
	}
	return "daily"
}

// wikiTime parses a Wikipedia timestamp and returns the period it starts.
func wikiTime(s string) (time.Time, float64, bool) {
	for _, f := range []struct {
		layout string
		period float64
	}{
		{"2006010215", hourly},
		{"20060102", daily},
		{"2006-01-02", daily},
		{"2006-01-02 15:04:05", hourly},
		{"2006-01-02T15:04:05", hourly},
		{"2006-01-02 15:04", hourly},
		{time.RFC3339Nano, hourly},
	} {
		if t, err := time.Parse(f.layout, s); err == nil {
			return t, f.period, true
		}
	}
	return time.Time{}, 0, false
}

// wikiCSV reads the samples of a date,views or timestamp,views export.
func (l *loader) wikiCSV(cr *csv.Reader) (*Trace, error) {
	w := &wikiSampler{sampler: sampler{l: l}}
	for {
		rec, err := cr.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, l.readErr(err, 2)
		}
		line, _ := cr.FieldPos(0)
		tf, vf := strings.TrimSpace(rec[0]), strings.TrimSpace(rec[1])
		ts, period, ok := wikiTime(tf)
		if !ok {
			return nil, l.errorf(line, "timestamp %q is not a date (YYYYMMDD, YYYY-MM-DD) or an hour (YYYYMMDDHH, YYYY-MM-DD HH:MM[:SS], RFC 3339)", tf)
		}
		views, err := l.rate(line, "views", vf)
		if err != nil {
			return nil, err
		}
		if err := w.add(line, strconv.Quote(tf), ts, period, views); err != nil {
			return nil, err
		}
	}
	return w.trace()
}

// wikiItem is one element of the per-article API's "items" array.
type wikiItem struct {
	Timestamp   *string  `json:"timestamp"`
	Views       *float64 `json:"views"`
	Granularity string   `json:"granularity"`
}

// wikiJSON reads the Wikimedia per-article pageviews API's JSON.
func (l *loader) wikiJSON(r io.Reader) (*Trace, error) {
	if err := l.noFunction(); err != nil {
		return nil, err
	}
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, l.errorf(0, "%v", err)
	}
	// lineAt returns the line of data[off], counting incrementally: offsets
	// only grow.
	line, counted := 1, 0
	lineAt := func(off int64) int {
		end := min(int(off), len(data))
		if end < counted { // an error before an item's start: recount
			line, counted = 1, 0
		}
		line += bytes.Count(data[counted:end], []byte("\n"))
		counted = end
		return line
	}
	// jsonErr reports a decoding error at the decoder's position.
	dec := json.NewDecoder(bytes.NewReader(data))
	jsonErr := func(err error) error {
		off := dec.InputOffset()
		if se := (*json.SyntaxError)(nil); errors.As(err, &se) {
			off = se.Offset
		}
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			err, off = io.ErrUnexpectedEOF, int64(len(data))
		}
		return l.errorf(lineAt(off), "invalid JSON: %v", err)
	}
	if _, err := dec.Token(); err != nil { // the opening '{'
		return nil, jsonErr(err)
	}
	w := &wikiSampler{sampler: sampler{l: l}}
	sawItems := false
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, jsonErr(err)
		}
		if key, _ := tok.(string); key != "items" {
			var skip json.RawMessage
			if err := dec.Decode(&skip); err != nil {
				return nil, jsonErr(err)
			}
			continue
		}
		sawItems = true
		itemsLine := lineAt(dec.InputOffset())
		if tok, err := dec.Token(); err != nil {
			return nil, jsonErr(err)
		} else if tok != json.Delim('[') {
			return nil, l.errorf(itemsLine, `"items" is not an array`)
		}
		for n := 0; dec.More(); n++ {
			// The item starts after the white space and comma that
			// follow the decoder's position.
			off := dec.InputOffset()
			for off < int64(len(data)) && strings.IndexByte(" \t\r\n,", data[off]) >= 0 {
				off++
			}
			itemLine := lineAt(off)
			var it wikiItem
			if err := dec.Decode(&it); err != nil {
				var te *json.UnmarshalTypeError
				if errors.As(err, &te) {
					want := "a number"
					if te.Field == "timestamp" || te.Field == "granularity" {
						want = "a string"
					}
					return nil, l.errorf(itemLine, "item %d: %s is a JSON %s, not %s", n, te.Field, te.Value, want)
				}
				return nil, jsonErr(err)
			}
			if err := l.wikiItem(w, itemLine, n, it); err != nil {
				return nil, err
			}
		}
		if _, err := dec.Token(); err != nil { // the closing ']'
			return nil, jsonErr(err)
		}
	}
	if _, err := dec.Token(); err != nil { // the closing '}'
		return nil, jsonErr(err)
	}
	if !sawItems {
		return nil, l.errorf(0, `no "items" array: not a Wikimedia per-article pageviews export`)
	}
	return w.trace()
}

func (l *loader) wikiItem(w *wikiSampler, line, n int, it wikiItem) error {
	if it.Timestamp == nil {
		return l.errorf(line, "item %d: no timestamp", n)
	}
	if it.Views == nil {
		return l.errorf(line, "item %d: no views", n)
	}
	period := hourly
	switch it.Granularity {
	case "", "hourly":
	case "daily":
		period = daily
	default:
		return l.errorf(line, "item %d: granularity %q is not hourly or daily", n, it.Granularity)
	}
	ts, err := time.Parse("2006010215", *it.Timestamp)
	if err != nil {
		return l.errorf(line, "item %d: timestamp %q is not YYYYMMDDHH", n, *it.Timestamp)
	}
	if v := *it.Views; v < 0 {
		return l.errorf(line, "item %d: views %v is negative", n, v)
	}
	return w.add(line, strconv.Quote(*it.Timestamp), ts, period, *it.Views)
}

// azure reads an Azure Functions invocations_per_function file whose header,
// on line headerLine, has been read.
func (l *loader) azure(cr *csv.Reader, headerLine int, header []string) (*Trace, error) {
	const first = 4 // the first column of counts
	minutes := len(header) - first
	if minutes == 0 {
		return nil, l.errorf(headerLine, "Azure Functions header has no minute columns")
	}
	for i, h := range header[first:] {
		if want := strconv.Itoa(i + 1); strings.TrimSpace(h) != want {
			return nil, l.errorf(headerLine, "Azure Functions header: column %d is %q, want %q", first+i+1, h, want)
		}
	}
	sums := make([]float64, minutes)
	rows, matched := 0, 0
	for {
		rec, err := cr.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, l.readErr(err, len(header))
		}
		rows++
		if !strings.HasPrefix(rec[2], l.opts.Function) {
			continue
		}
		matched++
		line, _ := cr.FieldPos(0)
		for i, f := range rec[first:] {
			if f == "0" { // by far the most common count
				continue
			}
			v, err := l.rate(line, fmt.Sprintf("minute %d: count", i+1), strings.TrimSpace(f))
			if err != nil {
				return nil, err
			}
			sums[i] += v
		}
	}
	switch {
	case rows == 0:
		return nil, l.errorf(0, "no samples after the header")
	case matched == 0:
		return nil, l.errorf(0, "no function's HashFunction starts with %q", l.opts.Function)
	}
	t := &Trace{Points: make([]Point, minutes)}
	for i, v := range sums {
		t.Points[i] = Point{At: float64(i) * 60, RPS: v / 60}
	}
	return t, nil
}
