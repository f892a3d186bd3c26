// Package gctune adapts the Go garbage collector's target percentage
// (GOGC) to the load of a long-running Berth process.
//
// The API server's live heap is small (tens of MiB), so with the default
// GOGC=100 a busy server collects several times a second: at 64 concurrent
// clients on 2 cores a collection started every ~110 ms and marked for
// ~30 ms, a quarter of the server's CPU went to the collector, and the
// requests in flight during a cycle made most of the latency tail. A
// higher percentage collects less often for the same live heap, at the
// price of a larger heap, which an idle process should not pay.
//
// Run samples the allocation rate ten times a second. When the process
// allocates faster than Config.BusyRate it counts as busy and runs with
// Config.Busy (400), capped so that the heap grows by at most
// Config.MaxHeadroom (256 MiB) between collections (never less than the
// idle percentage lets it); once the rate has stayed below BusyRate for
// Config.IdleAfter (3 s) it collects, returns the freed memory to the
// system and runs with Config.Idle (100) again. A GOGC set in the
// environment wins: Run then changes nothing.
package gctune
