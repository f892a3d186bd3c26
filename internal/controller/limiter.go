package controller

import "golang.org/x/time/rate"

// newLimiter is the overall retry budget of one queue: 50 per second with
// bursts of 300, as in Kubernetes' default controller rate limiter.
func newLimiter() *rate.Limiter { return rate.NewLimiter(rate.Limit(50), 300) }
