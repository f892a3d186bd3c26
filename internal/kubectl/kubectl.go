package kubectl

import (
	"os"

	"k8s.io/component-base/cli"
	"k8s.io/kubectl/pkg/cmd"
)

// Run runs the compiled-in kubectl with args (without the program name) and
// returns its exit code.
func Run(args []string) int {
	os.Args = append([]string{"kubectl"}, args...)
	command := cmd.NewDefaultKubectlCommand()
	return cli.Run(command)
}
