//go:build !linux

package network

import (
	"errors"
	"os/exec"
)

// errNotLinux is returned by every namespace operation off Linux.
var errNotLinux = errors.New("network: network namespaces need Linux")

func createNetNS(string) error            { return errNotLinux }
func removeNetNS(string) error            { return nil }
func isNetNS(string) bool                 { return false }
func makeSharedMount(string) error        { return errNotLinux }
func probeNetNS() error                   { return errNotLinux }
func enableForwarding(bool) (bool, error) { return false, errNotLinux }
func forwardingWritable(bool) error       { return errNotLinux }
func flockFile(string) (func(), error)    { return func() {}, nil }
func killGroupOnCancel(*exec.Cmd)         {}
