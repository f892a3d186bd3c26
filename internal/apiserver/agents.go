package apiserver

import (
	"crypto/subtle"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/berth-dev/berth/internal/nodeapi"
	corev1 "k8s.io/api/core/v1"
)

// agentTransports keeps one transport per node agent, pinned to the
// certificate fingerprint the node publishes: agents serve with
// self-signed certificates, so the fingerprint (written by the agent with
// the node's credentials) is what the API server trusts.
type agentTransports struct {
	mu sync.Mutex
	m  map[string]*pinnedTransport // by node name
}

type pinnedTransport struct {
	fingerprint string
	rt          *http.Transport
}

// transportFor returns the transport for n's agent, or an error when the
// node publishes no fingerprint.
func (s *Server) transportFor(n *corev1.Node) (http.RoundTripper, error) {
	fp := n.Annotations[nodeapi.CertAnnotation]
	if fp == "" {
		return nil, fmt.Errorf("node %s does not publish its agent's certificate (annotation %s)", n.Name, nodeapi.CertAnnotation)
	}
	a := &s.agents
	a.mu.Lock()
	defer a.mu.Unlock()
	if t, ok := a.m[n.Name]; ok && t.fingerprint == fp {
		return t.rt, nil
	}
	if a.m == nil {
		a.m = map[string]*pinnedTransport{}
	}
	if old, ok := a.m[n.Name]; ok {
		old.rt.CloseIdleConnections()
	}
	cfg := s.cfg.AgentTLS.Clone()
	cfg.InsecureSkipVerify = true // replaced by the pin below
	cfg.VerifyPeerCertificate = func(raw [][]byte, _ [][]*x509.Certificate) error {
		if len(raw) == 0 || subtle.ConstantTimeCompare([]byte(nodeapi.CertFingerprint(raw[0])), []byte(fp)) != 1 {
			return errors.New("the agent's certificate does not match the fingerprint its node publishes")
		}
		return nil
	}
	rt := &http.Transport{
		TLSClientConfig:     cfg,
		DialContext:         (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		TLSHandshakeTimeout: 10 * time.Second,
		MaxIdleConnsPerHost: 2,
		IdleConnTimeout:     90 * time.Second,
	}
	a.m[n.Name] = &pinnedTransport{fingerprint: fp, rt: rt}
	return rt, nil
}

// forgetAgents drops the transports of nodes not in keep.
func (s *Server) forgetAgents(keep map[string]bool) {
	a := &s.agents
	a.mu.Lock()
	defer a.mu.Unlock()
	for name, t := range a.m {
		if !keep[name] {
			t.rt.CloseIdleConnections()
			delete(a.m, name)
		}
	}
}
