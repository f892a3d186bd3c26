package job

import (
	"time"

	"github.com/berth-dev/berth/internal/controller"
)

// NewWithBackoff is New with a shorter back-off base between pod failures
// (for integration tests).
func NewWithBackoff(base time.Duration) controller.Factory {
	return func(cctx *controller.Context) (controller.Controller, error) {
		return newController(cctx, base, defaultBackoffMax)
	}
}
