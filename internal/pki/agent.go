package pki

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"path/filepath"
	"time"
)

// AgentClientName is the common name of the client certificate the API
// server presents to node agents; agents accept no other.
const AgentClientName = "berth-apiserver-agent-client"

// LoadOrCreateAgentClient loads the API server's client certificate for
// node agents from dir (the directory of LoadOrCreate), issuing it from the
// CA there when it is missing or expires within 30 days.
func LoadOrCreateAgentClient(dir string) (tls.Certificate, error) {
	certFile, keyFile := filepath.Join(dir, "agent-client.crt"), filepath.Join(dir, "agent-client.key")
	if pair, err := tls.LoadX509KeyPair(certFile, keyFile); err == nil && covers(pair, nil) {
		return pair, nil
	}
	ca, caKey, _, err := loadOrCreateCA(dir)
	if err != nil {
		return tls.Certificate{}, err
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("pki: generate agent client key: %w", err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial(),
		Subject:      pkix.Name{CommonName: AgentClientName},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().AddDate(5, 0, 0),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("pki: issue agent client certificate: %w", err)
	}
	if err := writeKeyPair(certFile, keyFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), key); err != nil {
		return tls.Certificate{}, err
	}
	pair, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("pki: load agent client certificate: %w", err)
	}
	return pair, nil
}

// SelfSigned returns a fresh self-signed serving certificate for hosts
// (DNS names or IP addresses), valid for a year. Node agents serve with
// one; the API server does not verify it (as kube-apiserver without
// --kubelet-certificate-authority), the agent verifies the API server.
func SelfSigned(cn string, hosts []string) (tls.Certificate, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("pki: generate key: %w", err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial(),
		Subject:      pkix.Name{CommonName: cn},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().AddDate(1, 0, 0),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	addHosts(tmpl, hosts)
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("pki: self-sign: %w", err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, nil
}
