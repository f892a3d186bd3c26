package process

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"

	"github.com/berth-dev/berth/internal/agent/runtime"
	"github.com/berth-dev/berth/internal/atomicfile"
)

// The state directory:
//
//	<StateDir>/sandboxes/<id>.json          sandboxRecord
//	<StateDir>/containers/<id>/container.json containerRecord
//	<StateDir>/containers/<id>/stdout, stderr the process's raw output
//	<StateDir>/containers/<id>/offsets       how far the raw output is logged
//	<StateDir>/containers/<id>/container.log  CRI log (+ container.log.1)
//	<StateDir>/containers/<id>/work          default working directory
const (
	sandboxesDir  = "sandboxes"
	containersDir = "containers"
	recordFile    = "container.json"
	workDirName   = "work"
)

// sandboxRecord is a sandbox as persisted.
type sandboxRecord struct {
	// Sandbox is what RunSandbox returned; Spec what it was asked.
	Sandbox runtime.Sandbox     `json:"sandbox"`
	Spec    runtime.SandboxSpec `json:"spec"`
	// Stopped: StopSandbox ran; NetworkReleased: Teardown succeeded.
	Stopped         bool `json:"stopped,omitempty"`
	NetworkReleased bool `json:"networkReleased,omitempty"`
}

// containerRecord is a container as persisted.
type containerRecord struct {
	// Status is the container's current status; Spec its request (with
	// LogMaxBytes defaulted).
	Status runtime.ContainerStatus `json:"status"`
	Spec   runtime.ContainerSpec   `json:"spec"`
	// StartTime is the process's start time from /proc/<pid>/stat: with
	// Status.PID it identifies the process across PID reuse.
	StartTime uint64 `json:"startTime,omitempty"`
	// CgroupPath is what CgroupManager.Create returned ("" for none).
	CgroupPath string `json:"cgroupPath,omitempty"`
	// WorkDir is the resolved working directory.
	WorkDir string `json:"workDir"`
	// Killed: the driver sent SIGKILL (an exit it cannot observe is then
	// reported as 137).
	Killed bool `json:"killed,omitempty"`
}

// newID returns a random 32 hex digit ID.
func newID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // never fails on Linux
	return hex.EncodeToString(b[:])
}

// writeJSON writes v to file atomically (a temporary file renamed over it).
func writeJSON(file string, v any) error {
	data, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return fmt.Errorf("process: encode %s: %w", file, err)
	}
	if err := atomicfile.Write(file, append(data, '\n'), 0o600); err != nil {
		return fmt.Errorf("process: %w", err)
	}
	return nil
}

// readJSON reads file into v.
func readJSON(file string, v any) error {
	data, err := os.ReadFile(file)
	if err != nil {
		return fmt.Errorf("process: read %s: %w", file, err)
	}
	if err := json.Unmarshal(data, v); err != nil {
		return fmt.Errorf("process: decode %s: %w", file, err)
	}
	return nil
}
