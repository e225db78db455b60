package pki

import (
	"crypto/x509"
	"net"
	"testing"
	"time"
)

func TestSignedCertificateVerifiesAndMatchesItsKey(t *testing.T) {
	now := time.Now()
	ca, err := NewCA("test CA", 48*time.Hour, now)
	if err != nil {
		t.Fatal(err)
	}
	pair, err := ca.Sign(Leaf{CommonName: "server", DNSNames: []string{"server.test"}, IPs: []net.IP{net.ParseIP("127.0.0.1")},
		Usages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}, 24*time.Hour, now)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := ParseCertificate(pair.Certificate)
	if err != nil {
		t.Fatal(err)
	}
	root, err := ParseCertificate(ca.Certificate)
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AddCert(root)
	for _, name := range []string{"server.test", "127.0.0.1"} {
		if _, err := cert.Verify(x509.VerifyOptions{DNSName: name, Roots: roots, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
	if _, err := cert.Verify(x509.VerifyOptions{DNSName: "server.test", Roots: roots, CurrentTime: now.Add(25 * time.Hour)}); err == nil {
		t.Error("the certificate verifies after it expired")
	}
	if err := MatchesKey(cert, pair.Key); err != nil {
		t.Error(err)
	}
	if err := MatchesKey(cert, ca.Key); err == nil {
		t.Error("the CA's key matches the leaf certificate")
	}
}
