package dockertest

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"
)

// PKI is a private certificate authority for one test, its files under
// Dir: CAFile (ca.crt, PEM), and whatever Issue writes.
type PKI struct {
	Dir    string
	CAFile string
	CA     *x509.Certificate
	caKey  crypto.Signer
	serial atomic.Int64
}

// NewPKI creates a CA ("imgtool test CA", ECDSA P-256, valid one day).
func NewPKI(t testing.TB) *PKI {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	p := &PKI{Dir: t.TempDir(), caKey: key}
	p.serial.Store(1)
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "imgtool test CA"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	if p.CA, err = x509.ParseCertificate(der); err != nil {
		t.Fatal(err)
	}
	p.CAFile = filepath.Join(p.Dir, "ca.crt")
	writePEM(t, p.CAFile, "CERTIFICATE", der)
	return p
}

// Cert is an issued certificate: its files and its parsed form.
type Cert struct {
	CertFile, KeyFile string
	Cert              *x509.Certificate
	Key               crypto.Signer
}

// CertKind selects what a certificate is for.
type CertKind int

// Certificate kinds.
const (
	ServerCert  CertKind = iota // TLS server, SANs 127.0.0.1 and localhost
	ClientCert                  // TLS client
	SigningCert                 // RSA 2048, signs tokens (RS256)
)

// Issue writes NAME.crt and NAME.key (PEM; PKCS#8 key) signed by the CA.
func (p *PKI) Issue(t testing.TB, name string, kind CertKind) *Cert {
	t.Helper()
	var key crypto.Signer
	var err error
	if kind == SigningCert {
		key, err = rsa.GenerateKey(rand.Reader, 2048)
	} else {
		key, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	}
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(p.serial.Add(1)),
		Subject:      pkix.Name{CommonName: name},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
	}
	switch kind {
	case ServerCert:
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
		tmpl.IPAddresses = []net.IP{net.IPv4(127, 0, 0, 1)}
		tmpl.DNSNames = []string{"localhost"}
	case ClientCert:
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, p.CA, key.Public(), p.caKey)
	if err != nil {
		t.Fatal(err)
	}
	c := &Cert{CertFile: filepath.Join(p.Dir, name+".crt"), KeyFile: filepath.Join(p.Dir, name+".key"), Key: key}
	if c.Cert, err = x509.ParseCertificate(der); err != nil {
		t.Fatal(err)
	}
	writePEM(t, c.CertFile, "CERTIFICATE", der)
	kder, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	writePEM(t, c.KeyFile, "PRIVATE KEY", kder)
	return c
}

func writePEM(t testing.TB, path, typ string, der []byte) {
	t.Helper()
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
}

// CertsDir writes a Docker certs.d directory into dir: ca.crt, and the
// client certificate as client.cert + client.key when client is not nil.
func (p *PKI) CertsDir(t testing.TB, dir string, client *Cert) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	copyFile := func(from, to string) {
		b, err := os.ReadFile(from)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(to, b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	copyFile(p.CAFile, filepath.Join(dir, "ca.crt"))
	if client != nil {
		copyFile(client.CertFile, filepath.Join(dir, "client.cert"))
		copyFile(client.KeyFile, filepath.Join(dir, "client.key"))
	}
}
