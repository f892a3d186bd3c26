package controller

import (
	"log/slog"

	"github.com/prometheus/client_golang/prometheus"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/scheme"
	typedcorev1 "k8s.io/client-go/kubernetes/typed/core/v1"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/record"
)

// Context is what controllers are built from.
type Context struct {
	// Client talks to the API server.
	Client kubernetes.Interface
	// RestConfig is Client's configuration, for controllers that need
	// other clients (scale, metrics); nil in tests that do not.
	RestConfig *rest.Config
	// Informers is the shared informer factory; controllers register the
	// informers they need before the Manager starts it.
	Informers informers.SharedInformerFactory
	// Recorder emits Kubernetes Events, aggregated like Kubernetes does
	// (count and lastTimestamp on repeats).
	Recorder record.EventRecorder
	// Logger is the parent logger; each controller adds its name.
	Logger *slog.Logger
	// Workers is the number of reconcile goroutines per controller.
	Workers int
	// Metrics registers the controllers' Prometheus metrics (served on the
	// API server's /metrics); nil means a private registry.
	Metrics prometheus.Registerer
}

// NewRecorder returns an event broadcaster writing to the API and a
// recorder whose events name component as their source. Stop the
// broadcaster with Shutdown.
func NewRecorder(client kubernetes.Interface, component string) (record.EventBroadcaster, record.EventRecorder) {
	b := record.NewBroadcaster()
	b.StartRecordingToSink(&typedcorev1.EventSinkImpl{Interface: client.CoreV1().Events("")})
	return b, b.NewRecorder(scheme.Scheme, corev1.EventSource{Component: component})
}
