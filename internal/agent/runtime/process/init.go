package process

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"syscall"

	"github.com/berth-dev/berth/internal/agent/runtime"
	"golang.org/x/sys/unix"
)

// The init protocol: the driver starts Config.InitBinary followed by
// initArgs, in a new mount namespace, with two pipes: fd 3, from which the
// init reads its initConfig as JSON until EOF (the driver sends it once
// the process is in its cgroup), and fd 4, on which it reports a failure
// as text. On success fd 4 is closed by the exec (close-on-exec), so the
// driver reads EOF without data.
const (
	initConfigFD = 3
	initStatusFD = 4
)

// initArgs are the arguments the driver appends to Config.InitBinary.
var initArgs = []string{"--config-fd=3", "--status-fd=4"}

// initConfig is what the driver sends to the init.
type initConfig struct {
	// Argv is the command, Env its exact environment, Dir its working
	// directory and Mounts the bind mounts to make first.
	Argv   []string        `json:"argv"`
	Env    []string        `json:"env"`
	Dir    string          `json:"dir"`
	Mounts []runtime.Mount `json:"mounts"`
}

// InitMain is the container init: the berth binary must call it for the
// hidden subcommand InitCommand and exit with its result:
//
//	if len(os.Args) > 1 && os.Args[1] == process.InitCommand {
//		os.Exit(process.InitMain(os.Args[2:]))
//	}
//
// (before parsing flags or starting anything else). args are the
// arguments after the subcommand (os.Args[1:] works too): the driver
// passes the file descriptors of its pipes; anything else, such as a run
// by hand, is refused with exit code 2. Started by the driver in a new
// mount namespace, it reads its configuration from fd 3, makes the mounts
// private, bind-mounts each HostPath at its ContainerPath
// (creating the target, read-only if asked), changes to the working
// directory and executes the command with exactly the given env. It only
// returns on failure, after reporting the error to the driver (fd 4) and
// on stderr (the container's log).
func InitMain(args []string) int {
	if len(args) > 0 && args[0] == InitCommand { // also accept os.Args[1:]
		args = args[1:]
	}
	if !slices.Equal(args, initArgs) || !isPipe(initConfigFD) || !isPipe(initStatusFD) {
		fmt.Fprintf(os.Stderr, "berth %s: internal command of the process driver, not to be run by hand\n", InitCommand)
		return 2
	}
	unix.CloseOnExec(initStatusFD)
	status := os.NewFile(initStatusFD, "init-status")
	if err := initContainer(os.NewFile(initConfigFD, "init-config")); err != nil {
		msg := err.Error()
		_, _ = io.WriteString(status, msg)
		fmt.Fprintf(os.Stderr, "berth container init: %s\n", msg)
		return 1
	}
	return 0 // not reached: initContainer executes the command
}

// isPipe reports whether fd is an open pipe.
func isPipe(fd int) bool {
	var st unix.Stat_t
	return unix.Fstat(fd, &st) == nil && st.Mode&unix.S_IFMT == unix.S_IFIFO
}

// initContainer sets the container up and executes its command.
func initContainer(cfgFile *os.File) error {
	data, err := io.ReadAll(cfgFile)
	cfgFile.Close()
	if err != nil {
		return fmt.Errorf("read configuration: %w", err)
	}
	var cfg initConfig
	if err := json.Unmarshal(data, &cfg); err != nil {
		return fmt.Errorf("decode configuration: %w", err)
	}
	if len(cfg.Argv) == 0 {
		return errors.New("no command")
	}
	if len(cfg.Mounts) > 0 {
		if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
			return fmt.Errorf("make mounts private: %w", err)
		}
		for _, m := range cfg.Mounts {
			if err := bindMount(m); err != nil {
				return err
			}
		}
	}
	if cfg.Dir != "" {
		if err := os.Chdir(cfg.Dir); err != nil {
			return fmt.Errorf("working directory: %w", err)
		}
	}
	path, err := lookPath(cfg.Argv[0], cfg.Env, cfg.Dir)
	if err != nil {
		return err
	}
	if err := syscall.Exec(path, cfg.Argv, cfg.Env); err != nil {
		return fmt.Errorf("exec %s: %w", path, err)
	}
	return nil
}

// bindMount mounts m.HostPath at m.ContainerPath, creating the target (a
// directory or an empty file, like the source).
func bindMount(m runtime.Mount) error {
	if !filepath.IsAbs(m.ContainerPath) {
		return fmt.Errorf("mount %s: container path is not absolute", m.ContainerPath)
	}
	fi, err := os.Stat(m.HostPath)
	if err != nil {
		return fmt.Errorf("mount %s: %w", m.ContainerPath, err)
	}
	if fi.IsDir() {
		err = os.MkdirAll(m.ContainerPath, 0o755)
	} else if err = os.MkdirAll(filepath.Dir(m.ContainerPath), 0o755); err == nil {
		var f *os.File
		if f, err = os.OpenFile(m.ContainerPath, os.O_CREATE|os.O_RDONLY, 0o644); err == nil {
			f.Close()
		}
	}
	if err != nil {
		return fmt.Errorf("mount %s: create target: %w", m.ContainerPath, err)
	}
	if err := unix.Mount(m.HostPath, m.ContainerPath, "", unix.MS_BIND|unix.MS_REC, ""); err != nil {
		return fmt.Errorf("mount %s at %s: %w", m.HostPath, m.ContainerPath, err)
	}
	if m.ReadOnly {
		var st unix.Statfs_t
		flags := uintptr(unix.MS_BIND | unix.MS_REMOUNT | unix.MS_RDONLY)
		if err := unix.Statfs(m.ContainerPath, &st); err == nil {
			// Keep the flags a remount may not drop.
			flags |= uintptr(st.Flags) & (unix.MS_NOSUID | unix.MS_NODEV | unix.MS_NOEXEC)
		}
		if err := unix.Mount("", m.ContainerPath, "", flags, ""); err != nil {
			return fmt.Errorf("mount %s read-only: %w", m.ContainerPath, err)
		}
	}
	return nil
}
