package trace

import (
	"bytes"
	"compress/gzip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// writeFile writes content to name in a fresh temporary directory and
// returns its path.
func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func pts(atRPS ...float64) []Point {
	var p []Point
	for i := 0; i+1 < len(atRPS); i += 2 {
		p = append(p, Point{At: atRPS[i], RPS: atRPS[i+1]})
	}
	return p
}

func TestLoad(t *testing.T) {
	tests := []struct {
		name     string
		file     string // a testdata file, or
		content  string // the content of a temporary file called name
		function string
		wantName string
		want     []Point
	}{
		{
			name:    "berth-seconds.csv",
			content: "time,rps\n10,1\n70,2.5\n130.5,0\n",
			want:    pts(0, 1, 60, 2.5, 120.5, 0),
		},
		{
			name:    "berth-rfc3339.csv",
			content: "time,rps\n2024-03-01T12:00:00Z,5\n2024-03-01T13:00:30+01:00,6\n2024-03-01T12:01:00.5Z,7\n",
			want:    pts(0, 5, 30, 6, 60.5, 7),
		},
		{
			name:    "berth-tolerant.csv",
			content: "\xef\xbb\xbf\n\n Time , RPS \r\n0, 1\r\n\r\n1.5 ,2e3\r\n",
			want:    pts(0, 1, 1.5, 2000),
		},
		{
			name:    "berth-no-final-newline.csv",
			content: "time,rps\n0,1\n60,2",
			want:    pts(0, 1, 60, 2),
		},
		{
			name:    "berth-negative-times.csv",
			content: "time,rps\n-60,1\n0,2\n",
			want:    pts(0, 1, 60, 2),
		},
		{
			name:     "wikipedia api json, gap filled with zero",
			file:     "wikipedia-hourly.json",
			wantName: "wikipedia-hourly",
			want:     pts(0, 0.5, 3600, 0.25, 7200, 0.1, 10800, 0, 18000, 0.2, 21600, 2),
		},
		{
			name:    "wiki-daily.json",
			content: `{"items":[{"granularity":"daily","timestamp":"2015100100","views":86400},{"granularity":"daily","timestamp":"2015100200","views":43200}]}`,
			want:    pts(0, 1, 86400, 0.5),
		},
		{
			name:    "wiki-other-keys.json",
			content: `{"meta":{"items":"not these"},"items":[{"timestamp":"2015100100","views":36,"extra":[1,2]}],"more":null}`,
			want:    pts(0, 0.01),
		},
		{
			name:     "wikipedia daily csv, gap filled with zero",
			file:     "wikipedia-daily.csv",
			wantName: "wikipedia-daily",
			want:     pts(0, 1, 86400, 2, 172800, 0.5, 259200, 0, 345600, 0.1),
		},
		{
			name:     "wikipedia hourly csv",
			file:     "wikipedia-hourly.csv",
			wantName: "wikipedia-hourly",
			want:     pts(0, 1, 3600, 2, 7200, 0, 10800, 0.5),
		},
		{
			name:    "wiki-formats.csv",
			content: "timestamp,views\n2015-10-01 00:00,3600\n2015-10-01 01:00:00,3600\n2015-10-01T02:00:00,3600\n2015-10-01T03:00:00Z,3600\n2015100104,3600\n",
			want:    pts(0, 1, 3600, 1, 7200, 1, 10800, 1, 14400, 1),
		},
		{
			name:    "wiki-dates.csv",
			content: "date,views\n20151001,864\n20151002,1728\n",
			want:    pts(0, 0.01, 86400, 0.02),
		},
		{
			name:     "azure functions, all rows",
			file:     "azure-functions.csv",
			wantName: "azure-functions",
			want:     azureWant(map[int]float64{1: 186, 2: 126, 3: 606, 1440: 36}, 6),
		},
		{
			name:     "azure functions, one function",
			file:     "azure-functions.csv",
			function: "f00d",
			wantName: "azure-functions:f00d",
			want:     azureWant(map[int]float64{1: 60, 2: 120, 1440: 30}, 0),
		},
		{
			name:     "azure functions, two functions",
			file:     "azure-functions.csv",
			function: "f00",
			wantName: "azure-functions:f00",
			want:     azureWant(map[int]float64{1: 180, 2: 120, 3: 600, 1440: 30}, 0),
		},
		{
			name:    "azure-short.csv",
			content: "HashOwner,HashApp,HashFunction,Trigger,1,2,3\no,a,f,http,1,0,2.5\no,a,g,http,5,0,0\n",
			want:    pts(0, 0.1, 60, 0, 120, 2.5/60),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join("testdata", tt.file)
			wantName := tt.wantName
			if tt.file == "" {
				path = writeFile(t, tt.name, tt.content)
				wantName = strings.TrimSuffix(tt.name, filepath.Ext(tt.name))
			}
			got, err := LoadOptions(path, Options{Function: tt.function})
			if err != nil {
				t.Fatal(err)
			}
			if got.Name != wantName {
				t.Errorf("Name = %q, want %q", got.Name, wantName)
			}
			if !slices.Equal(got.Points, tt.want) {
				t.Errorf("Points =\n%v\nwant\n%v", abbrev(got.Points), abbrev(tt.want))
			}
		})
	}
}

// azureWant is a day of minutes with count other except for counts.
func azureWant(counts map[int]float64, other float64) []Point {
	p := make([]Point, 1440)
	for i := range p {
		c, ok := counts[i+1]
		if !ok {
			c = other
		}
		p[i] = Point{At: float64(i) * 60, RPS: c / 60}
	}
	return p
}

func abbrev(p []Point) []Point {
	if len(p) > 8 {
		return append(slices.Clip(p[:4]), p[len(p)-4:]...)
	}
	return p
}

func TestLoadGzip(t *testing.T) {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	zw.Write([]byte("time,rps\n0,1\n60,2\n"))
	zw.Close()
	path := writeFile(t, "trace.csv.gz", buf.String())
	got, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if want := pts(0, 1, 60, 2); got.Name != "trace" || !slices.Equal(got.Points, want) {
		t.Errorf("Load = %q %v, want %q %v", got.Name, got.Points, "trace", want)
	}
}

func TestLoadErrors(t *testing.T) {
	azureHeader := "HashOwner,HashApp,HashFunction,Trigger,1,2\n"
	tests := []struct {
		name     string
		content  string
		function string
		want     string // the error after "trace <path>"
	}{
		// Any format.
		{"empty", "", "", ": empty file"},
		{"blank", " \n\r\n\t", "", ": empty file"},
		{"unknown header", "when,load\n0,1\n", "", `:1: unknown format: header "when,load" is not Berth's time,rps`},
		{"binary", "\x00\x01\x02\"x\x03\n", "", ":1: unknown format: "},
		{"bad gzip", "\x1f\x8bnot really", "", ": bad gzip data: "},

		// Berth's CSV.
		{"header only", "time,rps\n", "", ": no samples after the header"},
		{"header only, blank lines", "time,rps\n\n\n", "", ": no samples after the header"},
		{"rps not a number", "time,rps\n0,1\n60,abc\n", "", `:3: rps "abc" is not a number`},
		{"rps empty", "time,rps\n0,\n", "", `:2: rps "" is not a number`},
		{"rps negative", "time,rps\n0,1\n60,-2\n", "", `:3: rps -2 is negative`},
		{"rps NaN", "time,rps\n0,NaN\n", "", `:2: rps "NaN" is not a finite number`},
		{"rps infinite", "time,rps\n0,1e999\n", "", `:2: rps "1e999" is not a finite number`},
		{"time repeated", "time,rps\n0,1\n60,1\n60,2\n", "", `:4: time "60" is not after the previous sample's "60" (line 3)`},
		{"time decreasing", "time,rps\n0,1\n60,1\n30,2\n", "", `:4: time "30" is not after the previous sample's "60" (line 3)`},
		{"timestamp decreasing", "time,rps\n2024-01-01T00:01:00Z,1\n2024-01-01T01:00:00+01:00,1\n", "", `:3: time "2024-01-01T01:00:00+01:00" is not after the previous sample's "2024-01-01T00:01:00Z" (line 2)`},
		{"time garbage", "time,rps\n0,1\nsoon,1\n", "", `:3: time "soon" is neither a finite number of seconds nor an RFC 3339 timestamp`},
		{"time NaN", "time,rps\nNaN,1\n", "", `:2: time "NaN" is neither`},
		{"seconds then timestamp", "time,rps\n0,1\n2024-01-01T00:00:00Z,1\n", "", `:3: time "2024-01-01T00:00:00Z" is an RFC 3339 timestamp but the first sample's is in seconds`},
		{"timestamp then seconds", "time,rps\n2024-01-01T00:00:00Z,1\n60,1\n", "", `:3: time "60" is in seconds but the first sample's is an RFC 3339 timestamp`},
		{"too many fields", "time,rps\n0,1\n60,1,x\n", "", `:3: wrong number of fields, want 2 like the header`},
		{"too few fields", "time,rps\n0,1\n\n60\n", "", `:4: wrong number of fields, want 2 like the header`},
		{"bad quoting", "time,rps\n0,1\n60,\"2\n3\"x\n", "", `:4: extraneous or missing " in quoted-field`},
		{"function selector", "time,rps\n0,1\n", "f00d", `: a function selector ("f00d") only applies to Azure Functions traces`},

		// Wikipedia CSV.
		{"wiki csv header only", "date,views\n", "", ": no samples after the header"},
		{"wiki csv bad date", "date,views\n2015-10-01,1\n1 Oct 2015,2\n", "", `:3: timestamp "1 Oct 2015" is not a date`},
		{"wiki csv bad views", "timestamp,views\n2015100100,many\n", "", `:2: views "many" is not a number`},
		{"wiki csv negative views", "timestamp,views\n2015100100,-1\n", "", `:2: views -1 is negative`},
		{"wiki csv repeated", "date,views\n2015-10-01,1\n20151001,2\n", "", `:3: time "20151001" is not after the previous sample's "2015-10-01" (line 2)`},
		{"wiki csv mixed granularity", "date,views\n2015-10-01,1\n2015100201,2\n", "", `:3: timestamp "2015100201" is hourly but the first sample's is daily`},
		{"wiki csv function selector", "date,views\n2015-10-01,1\n", "x", `: a function selector ("x") only applies`},

		// Wikipedia JSON.
		{"json syntax", "{\"items\":[\n{\"timestamp\":\"2015100100\",\"views\":1},\n{\"timestamp\" \"2015100101\"}]}", "", `:3: invalid JSON: invalid character '"' after object key`},
		{"json truncated", "{\"items\":[\n{\"timestamp\":\"2015100100\",\"views\":1},\n", "", `:3: invalid JSON: unexpected EOF`},
		{"json no items", `{"type":"https://mediawiki.org/wiki/HyperSwitch/errors/not_found","title":"Not found."}`, "", `: no "items" array: not a Wikimedia per-article pageviews export`},
		{"json items not array", `{"items":{"views":1}}`, "", `:1: "items" is not an array`},
		{"json empty items", `{"items":[]}`, "", `: no samples after the header`},
		{"json views negative", "{\"items\":[\n{\"timestamp\":\"2015100100\",\"views\":1},\n  {\"timestamp\":\"2015100101\",\"views\":-4}]}", "", `:3: item 1: views -4 is negative`},
		{"json views string", "{\"items\":[\n{\"timestamp\":\"2015100100\",\"views\":\"7\"}]}", "", `:2: item 0: views is a JSON string, not a number`},
		{"json timestamp number", "{\"items\":[\n{\"timestamp\":2015100100,\"views\":7}]}", "", `:2: item 0: timestamp is a JSON number, not a string`},
		{"json no views", "{\"items\":[\n{\"timestamp\":\"2015100100\"}]}", "", `:2: item 0: no views`},
		{"json no timestamp", "{\"items\":[\n{\"views\":3}]}", "", `:2: item 0: no timestamp`},
		{"json bad timestamp", "{\"items\":[\n{\"timestamp\":\"2015-10-01\",\"views\":3}]}", "", `:2: item 0: timestamp "2015-10-01" is not YYYYMMDDHH`},
		{"json bad granularity", "{\"items\":[\n{\"granularity\":\"monthly\",\"timestamp\":\"2015100100\",\"views\":3}]}", "", `:2: item 0: granularity "monthly" is not hourly or daily`},
		{"json mixed granularity", "{\"items\":[\n{\"timestamp\":\"2015100100\",\"views\":3},\n{\"granularity\":\"daily\",\"timestamp\":\"2015100200\",\"views\":3}]}", "", `:3: timestamp "2015100200" is daily but the first sample's is hourly`},
		{"json repeated", "{\"items\":[\n{\"timestamp\":\"2015100100\",\"views\":3},\n\n{\"timestamp\":\"2015100100\",\"views\":3}]}", "", `:4: time "2015100100" is not after the previous sample's "2015100100" (line 2)`},
		{"json function selector", `{"items":[]}`, "x", `: a function selector ("x") only applies`},

		// Azure Functions.
		{"azure header only", azureHeader, "", ": no samples after the header"},
		{"azure no minutes", "HashOwner,HashApp,HashFunction,Trigger\no,a,f,http\n", "", ":1: Azure Functions header has no minute columns"},
		{"azure bad minute column", "HashOwner,HashApp,HashFunction,Trigger,1,3\n", "", `:1: Azure Functions header: column 6 is "3", want "2"`},
		{"azure short row", azureHeader + "o,a,f,http,1,2\no,a,g,http,1\n", "", ":3: wrong number of fields, want 6 like the header"},
		{"azure bad count", azureHeader + "o,a,f,http,1,2\no,a,g,http,1,lots\n", "", `:3: minute 2: count "lots" is not a number`},
		{"azure negative count", azureHeader + "o,a,f,http,-1,2\n", "", `:2: minute 1: count -1 is negative`},
		{"azure no such function", azureHeader + "o,a,f,http,1,2\n", "beef", `: no function's HashFunction starts with "beef"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := writeFile(t, "x.csv", tt.content)
			got, err := LoadOptions(path, Options{Function: tt.function})
			if err == nil {
				t.Fatalf("LoadOptions = %v, want an error", got)
			}
			if want := "trace " + path + tt.want; !strings.HasPrefix(err.Error(), want) {
				t.Errorf("error\n%s\ndoes not start with\n%s", err, want)
			}
		})
	}
}

func TestLoadMissingFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "nope.csv")
	_, err := Load(path)
	if err == nil || !strings.Contains(err.Error(), path) {
		t.Errorf("Load(%q) error = %v, want one naming the file", path, err)
	}
}
