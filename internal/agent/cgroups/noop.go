package cgroups

import (
	"fmt"

	"github.com/berth-dev/berth/internal/agent/runtime"
)

// NoopManager is a Manager that does nothing, for hosts where cgroups
// cannot be used. Create returns the path "", AddProcess and Delete
// succeed, OOMKilled reports false and Stats fails with
// runtime.ErrNotSupported.
type NoopManager struct {
	reason string
}

// Noop returns a Manager that does nothing; reason says why cgroups are
// not used ("not running as root", New's error, ...).
func Noop(reason string) *NoopManager {
	if reason == "" {
		reason = "cgroups disabled"
	}
	return &NoopManager{reason: reason}
}

// Reason tells why cgroups are not used.
func (n *NoopManager) Reason() string { return n.reason }

// Version implements Manager: Unsupported.
func (n *NoopManager) Version() Version { return Unsupported }

// Create implements Manager: it validates its arguments and returns "".
func (n *NoopManager) Create(name string, cpuMilliLimit, cpuMilliRequest, memoryLimitBytes int64) (string, error) {
	if err := validName(name); err != nil {
		return "", err
	}
	return "", validLimits(cpuMilliLimit, cpuMilliRequest, memoryLimitBytes)
}

// AddProcess implements Manager: it does nothing.
func (n *NoopManager) AddProcess(path string, pid int) error { return nil }

// Stats implements Manager: it fails with runtime.ErrNotSupported.
func (n *NoopManager) Stats(path string) (runtime.Stats, error) {
	return runtime.Stats{}, fmt.Errorf("cgroups: no stats (%s): %w", n.reason, runtime.ErrNotSupported)
}

// OOMKilled implements Manager: always false.
func (n *NoopManager) OOMKilled(path string) (bool, error) { return false, nil }

// Delete implements Manager: it does nothing.
func (n *NoopManager) Delete(path string) error { return nil }

// The managers implement Manager.
var (
	_ Manager = (*NoopManager)(nil)
	_ Manager = (*v1Manager)(nil)
	_ Manager = (*v2Manager)(nil)
)
