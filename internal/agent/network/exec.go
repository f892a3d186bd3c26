package network

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// errPluginNotFound is wrapped when no plugin directory has the binary.
var errPluginNotFound = errors.New("CNI plugin not found")

// findPlugin returns the path of the executable named name in the first of
// dirs that has one.
func findPlugin(dirs []string, name string) (string, error) {
	for _, d := range dirs {
		p := filepath.Join(d, name)
		fi, err := os.Stat(p)
		if err == nil && fi.Mode().IsRegular() && fi.Mode().Perm()&0o111 != 0 {
			return p, nil
		}
	}
	return "", fmt.Errorf("network: %w: %s in %s", errPluginNotFound, name, strings.Join(dirs, ":"))
}

// invocation is one run of a plugin.
type invocation struct {
	// Command is ADD, DEL or VERSION.
	Command string
	// ContainerID, NetNS and IfName are CNI_CONTAINERID, CNI_NETNS and
	// CNI_IFNAME (unset when empty).
	ContainerID, NetNS, IfName string
	// Stdin is the configuration.
	Stdin []byte
}

// pluginEnv returns the plugin's environment: the agent's without any CNI_
// variable, GOMAXPROCS=1 unless the agent's sets it, then the
// invocation's. The reference plugins are Go programs that run for a few
// milliseconds and mostly wait on system calls; with one P their runtime
// starts fewer threads (measured: ~10 % less plugin CPU per ADD and DEL).
func pluginEnv(base []string, inv invocation, pluginDirs []string) []string {
	env := make([]string, 0, len(base)+7)
	procs := false
	for _, kv := range base {
		if !strings.HasPrefix(kv, "CNI_") {
			env = append(env, kv)
			procs = procs || strings.HasPrefix(kv, "GOMAXPROCS=")
		}
	}
	if !procs {
		env = append(env, "GOMAXPROCS=1")
	}
	env = append(env, "CNI_COMMAND="+inv.Command, "CNI_PATH="+strings.Join(pluginDirs, string(os.PathListSeparator)))
	if inv.ContainerID != "" {
		env = append(env, "CNI_CONTAINERID="+inv.ContainerID)
	}
	if inv.NetNS != "" {
		env = append(env, "CNI_NETNS="+inv.NetNS)
	}
	if inv.IfName != "" {
		env = append(env, "CNI_IFNAME="+inv.IfName)
	}
	return env
}

// execPlugin runs the plugin binary of the given type and returns its
// standard output; a failure is a *PluginError.
func execPlugin(ctx context.Context, pluginDirs []string, plugin string, inv invocation) ([]byte, error) {
	path, err := findPlugin(pluginDirs, plugin)
	if err != nil {
		return nil, err
	}
	var stdout, stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, path)
	cmd.Env = pluginEnv(os.Environ(), inv, pluginDirs)
	cmd.Stdin = bytes.NewReader(inv.Stdin)
	cmd.Stdout = &stdout
	cmd.Stderr = &stderr
	// The plugin runs in a process group of its own, killed whole when ctx
	// ends: the bridge plugin runs host-local as its child, which must not
	// go on allocating after the ADD was given up and undone.
	killGroupOnCancel(cmd)
	cmd.WaitDelay = 5 * time.Second
	if err := cmd.Run(); err != nil {
		if ctxErr := ctx.Err(); ctxErr != nil && !errors.Is(err, ctxErr) {
			err = fmt.Errorf("%w (%w)", ctxErr, err)
		}
		return nil, parsePluginError(plugin, inv.Command, stdout.Bytes(), stderr.Bytes(), err)
	}
	return stdout.Bytes(), nil
}
