// Package trace holds the demand traces that drive Berth's autoscaling
// simulator: a Trace is a named series of request rates over time.
//
// Traces are read from files with Load, which recognises Berth's own CSV
// format (written by WriteCSV), Wikipedia pageview exports (the Wikimedia
// per-article API's JSON and simple date,views / timestamp,views CSV files)
// and the Azure Functions 2019 trace's per-minute invocation counts. The
// synthetic generators Diurnal, DiurnalSpikes and Trend produce
// reproducible traces; the files in testdata were made with them
// (go test -run TestGenerateTestdata -update rewrites them).
//
// The synthetic traces start at midnight, have one point every step for the
// given number of days, and round their rates to 0.01 rps. The same
// arguments always produce the same trace: randomness comes from a
// generator seeded with seed. A trace with days < 1 or step <= 0 has no
// points.
package trace
