package localcluster

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/acme/platform/internal/pki"
)

// pki is the cluster's self-made public key infrastructure: a cluster CA and
// the API server's serving certificate, a front-proxy CA and client
// certificate for the aggregation layer, an etcd CA with etcd's serving and
// peer certificates and the API server's etcd client certificate, the
// service-account signing key pair, and static bearer tokens for the admin
// and the control-plane components.
type clusterPKI struct {
	dir string
}

func (p clusterPKI) path(name string) string { return filepath.Join(p.dir, name) }

// ensure creates whatever is missing, so that a restarted cluster keeps its
// identity (and kubeconfigs handed out stay valid), and a cluster made by an
// earlier version gains what this one adds.
func (p clusterPKI) ensure() error {
	if _, err := os.Stat(p.path("ca.crt")); err != nil {
		if err := p.create(); err != nil {
			return err
		}
	}
	if err := p.ensureKubeletClient(); err != nil {
		return err
	}
	if err := p.ensureEtcd(); err != nil {
		return err
	}
	return p.tokens()
}

// ensureEtcd makes etcd's own CA, as kubeadm does: etcd serves and peers
// over TLS and takes a client only with a certificate of that CA, which
// only the API server holds. A plain-http etcd on 127.0.0.1 would let any
// local user write the cluster's objects, a privileged pod on the real node
// (root on the host) among them.
func (p clusterPKI) ensureEtcd() error {
	if _, err := os.Stat(p.path("apiserver-etcd-client.crt")); err == nil {
		return nil
	}
	now := time.Now()
	ca, err := p.ca("etcd-ca", "local-cluster-etcd-ca", now)
	if err != nil {
		return err
	}
	member := pki.Leaf{
		CommonName: "etcd", DNSNames: []string{"localhost"}, IPs: []net.IP{net.ParseIP("127.0.0.1")},
		Usages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
	}
	for _, name := range []string{"etcd-server", "etcd-peer"} {
		if err := p.signed(name, ca, member, now); err != nil {
			return err
		}
	}
	return p.signed("apiserver-etcd-client", ca, pki.Leaf{
		CommonName: "kube-apiserver-etcd-client", Usages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}, now)
}

// ensureKubeletClient makes the API server's client certificate for the
// kubelets (logs, exec, port-forward), an admin as kubeadm makes it.
func (p clusterPKI) ensureKubeletClient() error {
	if _, err := os.Stat(p.path("apiserver-kubelet-client.crt")); err == nil {
		return nil
	}
	ca, err := p.loadCA("ca")
	if err != nil {
		return err
	}
	return p.signed("apiserver-kubelet-client", ca, pki.Leaf{
		CommonName: "kube-apiserver-kubelet-client", Organization: []string{"system:masters"},
		Usages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}, time.Now())
}

func (p clusterPKI) create() error {
	if err := os.MkdirAll(p.dir, 0o700); err != nil {
		return err
	}
	now := time.Now()
	ca, err := p.ca("ca", "local-cluster-ca", now)
	if err != nil {
		return err
	}
	if err := p.signed("apiserver", ca, pki.Leaf{
		CommonName: "kube-apiserver",
		DNSNames:   []string{"localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc", "kubernetes.default.svc.cluster.local"},
		IPs:        []net.IP{net.ParseIP("127.0.0.1"), net.ParseIP(serviceIP)},
		Usages:     []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}, now); err != nil {
		return err
	}
	frontCA, err := p.ca("front-proxy-ca", "local-cluster-front-proxy-ca", now)
	if err != nil {
		return err
	}
	if err := p.signed("front-proxy-client", frontCA, pki.Leaf{
		CommonName: frontProxyClientName, Usages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}, now); err != nil {
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
	return writePEM(p.path("sa.pub"), "PUBLIC KEY", pub)
}

// users are the identities with static tokens: the admin (system:masters),
// kwok (which plays every node, so it is an admin too), and the two
// control-plane components under the user names the bootstrap RBAC binds.
var users = []struct{ name, group string }{
	{"admin", "system:masters"},
	{"kwok", "system:masters"},
	{"system:kube-controller-manager", ""},
	{"system:kube-scheduler", ""},
	// The real node's: the kubelet as a node (Node authorizer), kube-proxy
	// and CoreDNS under the names their bootstrap RBAC binds.
	{"system:node:" + NodeName, "system:nodes"},
	{"system:kube-proxy", ""},
	{"system:coredns", ""},
}

// tokens gives every user a token, keeping the tokens already made.
func (p clusterPKI) tokens() error {
	existing, err := os.ReadFile(p.path("tokens.csv"))
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	lines := string(existing)
	for i, u := range users {
		if _, err := p.token(u.name); err == nil {
			continue
		}
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
	if lines == string(existing) {
		return nil
	}
	return os.WriteFile(p.path("tokens.csv"), []byte(lines), 0o600)
}

// token returns the bearer token of a user.
func (p clusterPKI) token(user string) (string, error) {
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

// ca makes a CA valid for ten years and writes it as NAME.crt and NAME.key.
func (p clusterPKI) ca(name, commonName string, now time.Time) (*pki.CA, error) {
	ca, err := pki.NewCA(commonName, 10*365*24*time.Hour, now)
	if err != nil {
		return nil, err
	}
	return ca, p.write(name, ca.KeyPair)
}

// loadCA reads the CA written as NAME.crt and NAME.key.
func (p clusterPKI) loadCA(name string) (*pki.CA, error) {
	cert, err := os.ReadFile(p.path(name + ".crt"))
	if err != nil {
		return nil, err
	}
	key, err := os.ReadFile(p.path(name + ".key"))
	if err != nil {
		return nil, err
	}
	return pki.LoadCA(pki.KeyPair{Certificate: string(cert), Key: string(key)})
}

// signed makes a certificate valid for a year and writes it as NAME.crt and NAME.key.
func (p clusterPKI) signed(name string, ca *pki.CA, leaf pki.Leaf, now time.Time) error {
	pair, err := ca.Sign(leaf, 365*24*time.Hour, now)
	if err != nil {
		return err
	}
	return p.write(name, pair)
}

func (p clusterPKI) write(name string, pair pki.KeyPair) error {
	if err := os.WriteFile(p.path(name+".key"), []byte(pair.Key), 0o600); err != nil {
		return err
	}
	return os.WriteFile(p.path(name+".crt"), []byte(pair.Certificate), 0o600)
}

func writePEM(path, kind string, der []byte) error {
	return os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: kind, Bytes: der}), 0o600)
}
