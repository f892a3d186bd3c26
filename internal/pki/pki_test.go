package pki

import (
	"crypto/x509"
	"path/filepath"
	"testing"
)

func TestLoadOrCreateReusesAndReissues(t *testing.T) {
	dir := t.TempDir()
	b1, err := LoadOrCreate(dir, []string{"localhost", "127.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	b2, err := LoadOrCreate(dir, []string{"localhost", "127.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	if string(b1.CAPEM) != string(b2.CAPEM) {
		t.Fatal("CA regenerated on second start")
	}
	if string(b1.ServerCert.Certificate[0]) != string(b2.ServerCert.Certificate[0]) {
		t.Fatal("serving certificate reissued although it covers the hosts")
	}
	b3, err := LoadOrCreate(dir, []string{"localhost", "127.0.0.1", "10.1.2.3"})
	if err != nil {
		t.Fatal(err)
	}
	if string(b3.CAPEM) != string(b1.CAPEM) {
		t.Fatal("CA changed when reissuing")
	}
	cert, _ := x509.ParseCertificate(b3.ServerCert.Certificate[0])
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(b3.CAPEM)
	if _, err := cert.Verify(x509.VerifyOptions{Roots: pool}); err != nil {
		t.Fatalf("serving certificate not signed by CA: %v", err)
	}
	if err := cert.VerifyHostname("10.1.2.3"); err != nil {
		t.Fatalf("new host not covered: %v", err)
	}
}

func TestLoadOrCreateToken(t *testing.T) {
	f := filepath.Join(t.TempDir(), "token")
	a, err := LoadOrCreateToken(f)
	if err != nil || len(a) != 48 {
		t.Fatalf("token %q err %v", a, err)
	}
	b, _ := LoadOrCreateToken(f)
	if a != b {
		t.Fatalf("token changed: %q then %q", a, b)
	}
}

func TestAgentClientCertificate(t *testing.T) {
	dir := t.TempDir()
	b, err := LoadOrCreate(dir, []string{"localhost"})
	if err != nil {
		t.Fatal(err)
	}
	c1, err := LoadOrCreateAgentClient(dir)
	if err != nil {
		t.Fatal(err)
	}
	c2, err := LoadOrCreateAgentClient(dir)
	if err != nil {
		t.Fatal(err)
	}
	if string(c1.Certificate[0]) != string(c2.Certificate[0]) {
		t.Fatal("agent client certificate reissued although valid")
	}
	cert, _ := x509.ParseCertificate(c1.Certificate[0])
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(b.CAPEM)
	if _, err := cert.Verify(x509.VerifyOptions{Roots: pool, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
		t.Fatalf("client certificate not a CA-signed client certificate: %v", err)
	}
	if cert.Subject.CommonName != AgentClientName {
		t.Fatalf("CN %q", cert.Subject.CommonName)
	}
	ss, err := SelfSigned("node-a", []string{"10.0.0.5", "node-a"})
	if err != nil {
		t.Fatal(err)
	}
	leaf, _ := x509.ParseCertificate(ss.Certificate[0])
	if err := leaf.VerifyHostname("10.0.0.5"); err != nil {
		t.Fatal(err)
	}
	if _, err := leaf.Verify(x509.VerifyOptions{Roots: pool}); err == nil {
		t.Fatal("a self-signed certificate verified against the cluster CA")
	}
}
