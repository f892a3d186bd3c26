// Package runtime defines the interface between the agent and the runtime
// drivers that run pods: a pod is a sandbox (network namespace, cgroup,
// shared resources) holding containers. Drivers: process (plain processes),
// mock (in memory, for tests); docker arrives later. The package runtimetest
// holds the one test harness every driver must pass.
package runtime
