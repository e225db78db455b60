package localcluster

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// pki is the cluster's self-made public key infrastructure: a cluster CA and
// the API server's serving certificate, a front-proxy CA and client
// certificate for the aggregation layer, the service-account signing key pair,
// and static bearer tokens for the admin and the control-plane components.
type pki struct {
	dir string
}

func (p pki) path(name string) string { return filepath.Join(p.dir, name) }

// ensure creates whatever is missing, so that a restarted cluster keeps its
// identity (and kubeconfigs handed out stay valid).
func (p pki) ensure() error {
	if _, err := os.Stat(p.path("ca.crt")); err == nil {
		return nil
	}
	if err := os.MkdirAll(p.dir, 0o700); err != nil {
		return err
	}
	ca, caKey, err := p.selfSignedCA("ca", "local-cluster-ca")
	if err != nil {
		return err
	}
	if err := p.signed("apiserver", ca, caKey, x509.ExtKeyUsageServerAuth, pkix.Name{CommonName: "kube-apiserver"},
		[]string{"localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc", "kubernetes.default.svc.cluster.local"},
		[]net.IP{net.ParseIP("127.0.0.1"), net.ParseIP(serviceIP)}); err != nil {
		return err
	}
	frontCA, frontKey, err := p.selfSignedCA("front-proxy-ca", "local-cluster-front-proxy-ca")
	if err != nil {
		return err
	}
	if err := p.signed("front-proxy-client", frontCA, frontKey, x509.ExtKeyUsageClientAuth,
		pkix.Name{CommonName: frontProxyClientName}, nil, nil); err != nil {
		return err
	}
	saKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return err
	}
	if err := writePEM(p.path("sa.key"), "RSA PRIVATE KEY", x509.MarshalPKCS1PrivateKey(saKey)); err != nil {
		return err
	}
	pub, err := x509.MarshalPKIXPublicKey(&saKey.PublicKey)
	if err != nil {
		return err
	}
	if err := writePEM(p.path("sa.pub"), "PUBLIC KEY", pub); err != nil {
		return err
	}
	return p.tokens()
}

// users are the identities with static tokens: the admin (system:masters),
// kwok (which plays every node, so it is an admin too), and the two
// control-plane components under the user names the bootstrap RBAC binds.
var users = []struct{ name, group string }{
	{"admin", "system:masters"},
	{"kwok", "system:masters"},
	{"system:kube-controller-manager", ""},
	{"system:kube-scheduler", ""},
}

func (p pki) tokens() error {
	var lines string
	for i, u := range users {
		token := make([]byte, 24)
		if _, err := rand.Read(token); err != nil {
			return err
		}
		line := fmt.Sprintf("%s,%s,uid-%d", hex.EncodeToString(token), u.name, i)
		if u.group != "" {
			line += "," + u.group
		}
		lines += line + "\n"
	}
	return os.WriteFile(p.path("tokens.csv"), []byte(lines), 0o600)
}

// token returns the bearer token of a user.
func (p pki) token(user string) (string, error) {
	data, err := os.ReadFile(p.path("tokens.csv"))
	if err != nil {
		return "", err
	}
	for _, line := range strings.Split(string(data), "\n") {
		if fields := strings.Split(line, ","); len(fields) >= 2 && fields[1] == user {
			return fields[0], nil
		}
	}
	return "", fmt.Errorf("no token for user %q in %s", user, p.path("tokens.csv"))
}

func (p pki) selfSignedCA(name, commonName string) (*x509.Certificate, crypto.Signer, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial(),
		Subject:               pkix.Name{CommonName: commonName},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().AddDate(10, 0, 0),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		return nil, nil, err
	}
	if err := p.writeKeyPair(name, der, key); err != nil {
		return nil, nil, err
	}
	cert, err := x509.ParseCertificate(der)
	return cert, key, err
}

func (p pki) signed(name string, ca *x509.Certificate, caKey crypto.Signer, usage x509.ExtKeyUsage, subject pkix.Name, dns []string, ips []net.IP) error {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial(),
		Subject:      subject,
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().AddDate(1, 0, 0),
		KeyUsage:     x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
		ExtKeyUsage:  []x509.ExtKeyUsage{usage},
		DNSNames:     dns,
		IPAddresses:  ips,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, key.Public(), caKey)
	if err != nil {
		return err
	}
	return p.writeKeyPair(name, der, key)
}

func (p pki) writeKeyPair(name string, certDER []byte, key *ecdsa.PrivateKey) error {
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return err
	}
	if err := writePEM(p.path(name+".key"), "EC PRIVATE KEY", keyDER); err != nil {
		return err
	}
	return writePEM(p.path(name+".crt"), "CERTIFICATE", certDER)
}

func writePEM(path, kind string, der []byte) error {
	return os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: kind, Bytes: der}), 0o600)
}

func serial() *big.Int {
	n, _ := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 62))
	return n
}
