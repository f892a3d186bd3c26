// Package mock is an in-memory runtime driver for the agent's unit tests.
// It implements runtime.Driver, runtime.Execer and runtime.StatsReader
// without running anything, deterministically: CreateAndStart returns once
// the container's program has blocked or ended, IDs are sequential
// ("mock-sandbox-1", "mock-ctr-1"), and tests steer containers through
// hooks.
//
// What a container does:
//
//   - It first writes "started <name> attempt N" on stdout (N counts the
//     starts of that name in the sandbox).
//   - A command ["sh", "-c", script] (also /bin/sh, bash, ash, dash) is
//     interpreted. The supported statements, separated by ";" or newlines,
//     are ":", true, false, echo [-n], printf (%s, %d, %%, \n, \t), pwd,
//     cd, env, sleep N[smhd], trap "" TERM, trap - TERM, exit [N] and the
//     busy loop "while :; do ...; done"; words may be quoted ('...',
//     "..." with $NAME and ${NAME} from the container's env) and the
//     redirections >&2, 2>&1 and >/dev/null apply. Other commands write
//     "sh: NAME: not found" and set status 127; unsupported syntax (pipes,
//     &&, subshells, command substitution) ends the container with code 2.
//     The runtimetest.Behaviour scripts use exactly this subset.
//   - Any other command runs until stopped.
//   - Env MOCK_EXIT_AFTER=<duration> ends the container after that time
//     with MOCK_EXIT_CODE (default 0); MOCK_MEMORY_BYTES is the memory the
//     stats report.
//
// Stop delivers SIGTERM: the container ends with 143 at its next
// blocking statement (sleep, busy loop, or at once for a running command)
// unless the script trapped TERM; then it is killed with 137 after the
// grace period (at once when grace <= 0). StopSandbox, Remove and Close
// kill with 137.
// Exit codes give reason Completed (0) or Error.
//
// Hooks: Exit and OOMKill end a container with a code or as OOM-killed;
// Starts counts start attempts per container name; FailStarts injects
// start failures (an exited container with code 128 is left, its ID
// returned with the error); InjectError makes any method fail;
// SetExecHandler replaces Exec (by default scripts are interpreted in the
// container's env and working directory and other commands succeed
// silently); SetStats fixes the stats (by default the CPU usage is a
// tenth of the running time); Output adds log lines; ContainerSpec and
// SandboxSpec return the requests.
package mock
