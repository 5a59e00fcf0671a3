package registry

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// DockerCertsDir is where Docker keeps per-registry trust:
// DockerCertsDir/HOST[:PORT]/ holds *.crt (CA certificates, added to the
// system's) and *.cert + *.key (a client certificate and its key), read
// the way dockerd reads them (registry.ReadCertsDirectory). A variable so
// tests can point it elsewhere.
var DockerCertsDir = "/etc/docker/certs.d"

// certsDirFor is the directory whose certificates apply to host: the
// --cert-dir one when given (skopeo's --cert-dir: that directory itself,
// for every registry), else Docker's DockerCertsDir/HOST[:PORT].
func (o Options) certsDirFor(host string) string {
	if o.CertDir != "" {
		return o.CertDir
	}
	if host == "" {
		return ""
	}
	return filepath.Join(DockerCertsDir, host)
}

// tlsConfig is the client TLS configuration for host: verification
// against the system roots plus the CA certificates of host's certs
// directory, its client certificate, or no verification with --insecure.
func (o Options) tlsConfig(host string) (*tls.Config, error) {
	cfg := &tls.Config{MinVersion: tls.VersionTLS12}
	if o.Insecure {
		cfg.InsecureSkipVerify = true //nolint:gosec // --insecure asks for it
	}
	dir := o.certsDirFor(host)
	if dir == "" {
		return cfg, nil
	}
	if err := readCertsDir(cfg, dir); err != nil {
		return nil, err
	}
	return cfg, nil
}

// readCertsDir adds dir's certificates to cfg as Docker does: every *.crt
// is a CA (on top of the system roots), every *.cert needs the *.key of
// the same name (and the other way round). A missing dir is no error
// unless it was named with --cert-dir (the caller checks that).
func readCertsDir(cfg *tls.Config, dir string) error {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("reading certificates in %s: %w", dir, err)
	}
	names := make([]string, 0, len(entries))
	for _, e := range entries {
		if !e.IsDir() {
			names = append(names, e.Name())
		}
	}
	sort.Strings(names)
	has := func(n string) bool { i := sort.SearchStrings(names, n); return i < len(names) && names[i] == n }
	for _, n := range names {
		p := filepath.Join(dir, n)
		switch {
		case strings.HasSuffix(n, ".crt"):
			if err := addCA(cfg, p); err != nil {
				return err
			}
		case strings.HasSuffix(n, ".cert"):
			key := strings.TrimSuffix(n, ".cert") + ".key"
			if !has(key) {
				return fmt.Errorf("missing key %s for client certificate %s (CA certificates must use the extension .crt)", filepath.Join(dir, key), p)
			}
			c, err := tls.LoadX509KeyPair(p, filepath.Join(dir, key))
			if err != nil {
				return fmt.Errorf("client certificate %s: %w", p, err)
			}
			cfg.Certificates = append(cfg.Certificates, c)
		case strings.HasSuffix(n, ".key"):
			if !has(strings.TrimSuffix(n, ".key") + ".cert") {
				return fmt.Errorf("missing client certificate %s for key %s", strings.TrimSuffix(p, ".key")+".cert", p)
			}
		}
	}
	return nil
}

func addCA(cfg *tls.Config, path string) error {
	pem, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("CA certificate %s: %w", path, err)
	}
	if cfg.RootCAs == nil {
		pool, err := x509.SystemCertPool()
		if err != nil || pool == nil {
			pool = x509.NewCertPool()
		}
		cfg.RootCAs = pool
	}
	if !cfg.RootCAs.AppendCertsFromPEM(pem) {
		return fmt.Errorf("CA certificate %s: no PEM certificate in it", path)
	}
	return nil
}

// httpTransport is the plain HTTP transport for host, with its TLS
// configuration.
func (o Options) httpTransport(host string) (http.RoundTripper, error) {
	if o.CertDir != "" {
		if fi, err := os.Stat(o.CertDir); err != nil || !fi.IsDir() {
			return nil, fmt.Errorf("--cert-dir %s: not a directory", o.CertDir)
		}
	}
	cfg, err := o.tlsConfig(host)
	if err != nil {
		return nil, err
	}
	t := defaultHTTPTransport().Clone()
	t.TLSClientConfig = cfg
	return t, nil
}
