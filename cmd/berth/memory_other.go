//go:build !linux

package main

import "log/slog"

// trimMemory does nothing off Linux.
func trimMemory(*slog.Logger) {}
