//go:build !linux

package main

import "log/slog"

// trimAgentMemory does nothing off Linux.
func trimAgentMemory(*slog.Logger) {}
