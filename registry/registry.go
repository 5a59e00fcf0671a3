// Package registry moves images between imgtool and Docker registries
// (distribution v2 / OCI distribution): Source reads a reference as lazy
// v1.Images for transfer.Load or archive.Write, Push uploads images and
// indexes, Search lists repositories.
//
// Network access goes through go-containerregistry's remote and transport
// packages (auth from Docker's config through authn.DefaultKeychain,
// bearer/basic challenges, retries with backoff). Layer bytes never go
// through ggcr's gzip: pulled blobs are verified and decompressed here
// (pgzip/zstd), and uncompressed layers are compressed once, into a temp
// file, while both digests are computed (see compressedLayer).
package registry

import (
	"context"
	"fmt"
	"net/http"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
	"github.com/imgtool/imgtool/progress"
	"github.com/imgtool/imgtool/reference"
)

// Options configure registry access.
type Options struct {
	// Insecure allows plain http (and https without certificate
	// verification). localhost, 127.0.0.0/8 and RFC 1918 addresses fall
	// back to http when https fails, as ggcr (and Docker for 127.0.0.0/8)
	// does; https is tried first and verified.
	Insecure bool
	// CertDir, when set, holds the certificates for every registry (*.crt
	// CAs, *.cert/*.key client certificate), as skopeo's --cert-dir; by
	// default DockerCertsDir/HOST[:PORT] is read, as dockerd does.
	CertDir string
	// Jobs bounds concurrent blob transfers (0 = 4).
	Jobs int
	// Keychain resolves credentials; nil means authn.DefaultKeychain
	// (~/.docker/config.json, $DOCKER_CONFIG, credential helpers).
	Keychain authn.Keychain
	// Transport is the base HTTP transport (nil = remote.DefaultTransport
	// with the registry's TLS configuration).
	Transport http.RoundTripper
	// Backoff of retries on throttling (429), unavailable registries
	// (502/503/504) and dropped connections (zero = DefaultBackoff).
	Backoff remote.Backoff
	// DataRoot, when set, is the store's data root: pushes and pulls record
	// Docker's distribution metadata there (diff ID <-> blob digest and
	// source repository), and pushes use it to skip compressing layers the
	// registry already has and to mount blobs across repositories.
	DataRoot string
	// Log, if set, receives progress lines ("<digest>: Pushed").
	Log func(format string, args ...any)
	// Progress, if set, counts each layer a push compresses and uploads.
	Progress progress.Reporter
	// UserAgent is sent with every request.
	UserAgent string

	wire *wire // set for one operation, so all its requests share one Retry-After
}

func (o Options) jobs() int {
	if o.Jobs > 0 {
		return o.Jobs
	}
	return 4
}

func (o Options) keychain() authn.Keychain {
	if o.Keychain != nil {
		return o.Keychain
	}
	return authn.DefaultKeychain
}

func (o Options) backoff() remote.Backoff {
	if o.Backoff.Steps > 0 {
		return o.Backoff
	}
	return DefaultBackoff
}

func (o Options) logf(format string, args ...any) {
	if o.Log != nil {
		o.Log(format, args...)
	}
}

// baseTransport is the transport under ggcr's retry/auth wrappers, for
// the registry host ("" when unknown): TLS as configured for it, and the
// wire wrapper (Retry-After, insufficient_scope).
func (o Options) baseTransport(host string) (http.RoundTripper, error) {
	if o.wire != nil {
		return o.wire, nil
	}
	t := o.Transport
	if t == nil {
		var err error
		if t, err = o.httpTransport(host); err != nil {
			return nil, err
		}
	}
	return newWire(t), nil
}

func (o Options) nameOptions() []name.Option {
	if o.Insecure {
		return []name.Option{name.Insecure}
	}
	return nil
}

// ParseReference parses an image reference ("app:1", "host:5000/a/b@sha256:…")
// the way the registry commands do; a name without tag gets ":latest".
func ParseReference(ref string, opts Options) (name.Reference, error) {
	// Docker's grammar first (package reference): ggcr's alone takes tags
	// such as "x:..", which docker pull and push refuse.
	if _, err := reference.Parse(ref); err != nil {
		return nil, err
	}
	r, err := name.ParseReference(ref, opts.nameOptions()...)
	if err != nil {
		return nil, fmt.Errorf("invalid reference format %q: %v", ref, err)
	}
	return r, nil
}

// withWire returns o with one base transport for host that every request
// of the operation shares.
func (o Options) withWire(host string) (Options, error) {
	t, err := o.baseTransport(host)
	if err != nil {
		return o, err
	}
	o.wire = t.(*wire)
	return o, nil
}

func (o Options) remoteOptions(ctx context.Context, host string) ([]remote.Option, error) {
	base, err := o.baseTransport(host)
	if err != nil {
		return nil, err
	}
	ro := []remote.Option{
		remote.WithContext(ctx),
		remote.WithAuthFromKeychain(o.keychain()),
		remote.WithTransport(base),
		remote.WithJobs(o.jobs()),
		remote.WithRetryBackoff(o.backoff()),
		remote.WithRetryPredicate(retryable),
		remote.WithRetryStatusCodes(retryStatusCodes...),
	}
	if o.UserAgent != "" {
		ro = append(ro, remote.WithUserAgent(o.UserAgent))
	}
	return ro, nil
}

// credentials are what the keychain gives for repo's registry (an empty
// config when anonymous or unresolvable), for distribution metadata HMACs.
func (o Options) credentials(ctx context.Context, repo name.Repository) *authn.AuthConfig {
	auth, err := authn.Resolve(ctx, o.keychain(), repo)
	if err != nil {
		return nil
	}
	cfg, err := authn.Authorization(ctx, auth)
	if err != nil {
		return nil
	}
	return cfg
}

// authTransport returns an authenticated round tripper for repo with the
// given scopes (for requests ggcr has no API for: HEAD probes, mounts).
func (o Options) authTransport(ctx context.Context, repo name.Repository, scopes []string) (http.RoundTripper, error) {
	auth, err := authn.Resolve(ctx, o.keychain(), repo)
	if err != nil {
		return nil, err
	}
	wire, err := o.baseTransport(repo.RegistryStr())
	if err != nil {
		return nil, err
	}
	base := transport.NewRetry(wire, transport.WithRetryBackoff(o.backoff()),
		transport.WithRetryPredicate(retryable), transport.WithRetryStatusCodes(retryStatusCodes...))
	if o.UserAgent != "" {
		base = transport.NewUserAgent(base, o.UserAgent)
	}
	return transport.NewWithContext(ctx, repo.Registry, auth, base, scopes)
}
