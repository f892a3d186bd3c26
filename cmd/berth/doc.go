// Command berth is Berth's single binary: the control plane (server), a
// local cluster (up), the compiled-in kubectl, and benchmarks (bench).
// Subcommands map their flags onto the typed configs of the internal
// packages; no logic lives here.
package main
