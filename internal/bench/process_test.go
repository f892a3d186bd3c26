package bench

import (
	"errors"
	"testing"
)

func TestPortTaken(t *testing.T) {
	exited := errors.New("bench: server exited before it was ready (exit status 1)")
	for _, tc := range []struct {
		name   string
		err    error
		stderr string
		taken  bool
		isNil  bool
	}{
		{name: "listen failed", err: exited, stderr: "berth server: listen tcp 127.0.0.1:41051: bind: address already in use", taken: true},
		{name: "other failure", err: exited, stderr: "berth server: etcd: no space left on device"},
		{name: "no failure, whatever was logged", stderr: "address already in use", isNil: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := portTaken(tc.err, tc.stderr)
			if tc.isNil {
				if got != nil {
					t.Fatalf("portTaken(nil) = %v", got)
				}
				return
			}
			if errors.Is(got, errPortTaken) != tc.taken || !errors.Is(got, tc.err) {
				t.Fatalf("portTaken = %v: taken %v, want %v (and the original error kept)", got, errors.Is(got, errPortTaken), tc.taken)
			}
		})
	}
}
