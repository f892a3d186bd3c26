package proxy

import (
	"net"
	"time"

	"github.com/berth-dev/berth/internal/proxy/lb"
)

// Modes of a Service port (annotation berth.io/lb-mode).
const (
	ModeTCP  = "tcp"
	ModeHTTP = "http"
)

// Port is what a listener forwards to: one Service port's settings and
// its endpoints' balancer.
type Port struct {
	// Service names the port in metrics and logs ("ns/name:port").
	Service string
	// Mode is ModeTCP or ModeHTTP (TCP listeners only).
	Mode string
	// ProxyProtocol sends the PROXY protocol v2 header (TCP mode).
	ProxyProtocol bool
	// Balancer picks the endpoints.
	Balancer *lb.Balancer
}

// dialTimeout bounds a connection attempt to an endpoint.
const dialTimeout = 2 * time.Second

// maxAttempts is how many endpoints a connection or request tries.
const maxAttempts = 3

// clientIP is the IP of a remote address ("" if it has none).
func clientIP(addr net.Addr) string {
	switch a := addr.(type) {
	case *net.TCPAddr:
		return a.IP.String()
	case *net.UDPAddr:
		return a.IP.String()
	}
	host, _, err := net.SplitHostPort(addr.String())
	if err != nil {
		return ""
	}
	return host
}

// triedSet remembers endpoints already tried by one connection.
type triedSet []string

func (t *triedSet) has(addr string) bool {
	for _, a := range *t {
		if a == addr {
			return true
		}
	}
	return false
}
