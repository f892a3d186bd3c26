package prober

import "time"

// Clock is the time source of a Worker; tests inject a fake one.
type Clock interface {
	// Now returns the current time.
	Now() time.Time
	// NewTimer returns a timer that fires once after d.
	NewTimer(d time.Duration) Timer
}

// Timer is a one-shot timer of a Clock.
type Timer interface {
	// C delivers the time when the timer fires.
	C() <-chan time.Time
	// Stop prevents the timer from firing; it reports whether it did.
	Stop() bool
}

// RealClock is the wall clock.
type RealClock struct{}

// Now returns time.Now().
func (RealClock) Now() time.Time { return time.Now() }

// NewTimer returns a time.Timer.
func (RealClock) NewTimer(d time.Duration) Timer { return realTimer{time.NewTimer(d)} }

// realTimer adapts *time.Timer to Timer.
type realTimer struct{ t *time.Timer }

// C returns the timer's channel.
func (t realTimer) C() <-chan time.Time { return t.t.C }

// Stop stops the timer.
func (t realTimer) Stop() bool { return t.t.Stop() }
