// Package testenv starts the environment of a controller integration test:
// a Berth API server (embedded etcd in a temporary directory, listening on
// 127.0.0.1 on a free port) running the given controllers, a clientset for
// it, and optionally a fake kubelet. Everything stops when the test ends;
// under -short the test is skipped.
//
// testenv imports internal/server, which imports every controller, so only
// external test packages (package x_test) of a controller can use it.
package testenv
