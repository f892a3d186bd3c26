package process

import (
	"os"
	"testing"
)

// TestMain lets the test binary act as the container init: the driver
// under test starts it with InitCommand (see testConfig).
func TestMain(m *testing.M) {
	if len(os.Args) > 1 && os.Args[1] == InitCommand {
		os.Exit(InitMain(os.Args[2:]))
	}
	os.Exit(m.Run())
}
