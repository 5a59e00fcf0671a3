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
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"syscall"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
)

// Options configure registry access.
type Options struct {
	// Insecure allows plain http (and https without certificate
	// verification). localhost, 127.0.0.0/8 and RFC 1918 addresses use
	// http anyway, as ggcr (and Docker for 127.0.0.0/8) does.
	Insecure bool
	// Jobs bounds concurrent blob transfers (0 = 4).
	Jobs int
	// Platforms to take from a multi-platform index on pull; empty means
	// the host's (linux/GOARCH).
	Platforms []v1.Platform
	// AllPlatforms takes every image of an index.
	AllPlatforms bool
	// Keychain resolves credentials; nil means authn.DefaultKeychain
	// (~/.docker/config.json, $DOCKER_CONFIG, credential helpers).
	Keychain authn.Keychain
	// Transport is the base HTTP transport (nil = remote.DefaultTransport).
	Transport http.RoundTripper
	// Backoff of retries on transient errors (zero = 3 tries, 1s then 3s).
	Backoff remote.Backoff
	// DataRoot, when set, is the store's data root: pushes and pulls record
	// Docker's distribution metadata there (diff ID <-> blob digest and
	// source repository), and pushes use it to skip compressing layers the
	// registry already has and to mount blobs across repositories.
	DataRoot string
	// Log, if set, receives progress lines ("<digest>: Pushed").
	Log func(format string, args ...any)
	// UserAgent is sent with every request.
	UserAgent string
}

// DefaultBackoff is the retry schedule: 3 tries, waiting 1s then 3s.
var DefaultBackoff = remote.Backoff{Duration: time.Second, Factor: 3, Jitter: 0.1, Steps: 3}

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

// baseTransport is the transport under ggcr's retry/auth wrappers.
func (o Options) baseTransport() http.RoundTripper {
	if o.Transport != nil {
		return o.Transport
	}
	t := remote.DefaultTransport.(*http.Transport).Clone()
	if o.Insecure {
		t.TLSClientConfig = &tls.Config{InsecureSkipVerify: true} //nolint:gosec // --insecure asks for it
	}
	return t
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
	r, err := name.ParseReference(ref, opts.nameOptions()...)
	if err != nil {
		return nil, fmt.Errorf("invalid reference format %q: %v", ref, err)
	}
	return r, nil
}

func (o Options) remoteOptions(ctx context.Context) []remote.Option {
	ro := []remote.Option{
		remote.WithContext(ctx),
		remote.WithAuthFromKeychain(o.keychain()),
		remote.WithTransport(o.baseTransport()),
		remote.WithJobs(o.jobs()),
		remote.WithRetryBackoff(o.backoff()),
		remote.WithRetryPredicate(retryable),
	}
	if o.UserAgent != "" {
		ro = append(ro, remote.WithUserAgent(o.UserAgent))
	}
	return ro
}

// retryable is ggcr's default predicate plus refused connections (a
// registry that is restarting), without logging.
func retryable(err error) bool {
	if err == nil {
		return false
	}
	var te interface{ Temporary() bool }
	if errors.As(err, &te) && te.Temporary() {
		return true
	}
	return errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) || errors.Is(err, syscall.EPIPE) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, net.ErrClosed)
}

// authTransport returns an authenticated round tripper for repo with the
// given scopes (for requests ggcr has no API for: HEAD probes, mounts).
func (o Options) authTransport(ctx context.Context, repo name.Repository, scopes []string) (http.RoundTripper, error) {
	auth, err := authn.Resolve(ctx, o.keychain(), repo)
	if err != nil {
		return nil, err
	}
	base := transport.NewRetry(o.baseTransport(), transport.WithRetryBackoff(o.backoff()), transport.WithRetryPredicate(retryable))
	if o.UserAgent != "" {
		base = transport.NewUserAgent(base, o.UserAgent)
	}
	return transport.NewWithContext(ctx, repo.Registry, auth, base, scopes)
}

// Error is a registry failure described in one line, naming the reference.
type Error struct {
	Ref    string // the reference (or registry) the operation was about
	Op     string // "pull", "push", "search"
	Status int    // HTTP status, 0 if none
	Code   string // registry error code (MANIFEST_UNKNOWN, UNAUTHORIZED…), "" if none
	Msg    string
	Err    error
}

func (e *Error) Error() string { return e.Msg }
func (e *Error) Unwrap() error { return e.Err }

// describe turns a ggcr/net error into an *Error with a clear message.
func describe(op, ref string, err error) error {
	return describePrefixed(op, ref, op+" "+ref+": ", err)
}

// describePrefixed is describe with the message prefix given (blob reads
// inside a pull use a shorter one: the caller names the reference).
func describePrefixed(op, ref, prefix string, err error) error {
	if err == nil {
		return nil
	}
	var already *Error
	if errors.As(err, &already) {
		return err
	}
	e := &Error{Ref: ref, Op: op, Err: err}
	host := registryOf(ref)
	if op == "search" { // ref is a registry host
		if r, err := name.NewRegistry(ref); err == nil {
			host = r.RegistryStr()
		}
	}
	var te *transport.Error
	if errors.As(err, &te) {
		e.Status = te.StatusCode
		if len(te.Errors) > 0 {
			e.Code = string(te.Errors[0].Code)
		}
		switch {
		case te.StatusCode == http.StatusUnauthorized || e.Code == string(transport.UnauthorizedErrorCode):
			e.Msg = prefix + fmt.Sprintf("unauthorized: authentication required (wrong or missing credentials; run `docker login %s`)", host)
		case te.StatusCode == http.StatusForbidden || e.Code == string(transport.DeniedErrorCode):
			e.Msg = prefix + "denied: requested access to the resource is denied"
		case e.Code == string(transport.ManifestUnknownErrorCode):
			e.Msg = prefix + fmt.Sprintf("manifest for %s not found: manifest unknown", ref)
		case e.Code == string(transport.NameUnknownErrorCode):
			e.Msg = prefix + fmt.Sprintf("repository %s not found: name unknown", repoOf(ref))
		case e.Code == string(transport.BlobUnknownErrorCode):
			e.Msg = prefix + fmt.Sprintf("blob unknown to registry (%s)", oneLine(te.Error()))
		case te.StatusCode == http.StatusNotFound:
			e.Msg = prefix + fmt.Sprintf("not found (%s)", oneLine(te.Error()))
		case te.StatusCode == http.StatusTooManyRequests:
			e.Msg = prefix + "too many requests (rate limited by the registry)"
		default:
			e.Msg = prefix + oneLine(te.Error())
		}
		return e
	}
	var ne net.Error
	var ue *url.Error
	switch {
	case errors.Is(err, syscall.ECONNREFUSED):
		e.Msg = prefix + fmt.Sprintf("cannot reach registry %s: connection refused", host)
	case errors.Is(err, syscall.ECONNRESET) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) || errors.Is(err, syscall.EPIPE):
		e.Msg = prefix + fmt.Sprintf("connection to registry %s lost: %s", host, rootCause(err))
	case errors.Is(err, context.Canceled):
		e.Msg = prefix + "canceled"
	case errors.As(err, &ne) && ne.Timeout():
		e.Msg = prefix + fmt.Sprintf("registry %s timed out", host)
	case errors.As(err, &ue):
		e.Msg = prefix + fmt.Sprintf("registry %s: %s", host, rootCause(err))
	default:
		e.Msg = prefix + oneLine(err.Error())
	}
	return e
}

func rootCause(err error) string {
	for {
		u := errors.Unwrap(err)
		if u == nil {
			return oneLine(err.Error())
		}
		err = u
	}
}

func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

func registryOf(ref string) string {
	if r, err := name.ParseReference(ref); err == nil {
		return r.Context().RegistryStr()
	}
	if r, err := name.NewRegistry(ref); err == nil {
		return r.RegistryStr()
	}
	return ref
}

func repoOf(ref string) string {
	if r, err := name.ParseReference(ref); err == nil {
		return r.Context().String()
	}
	return ref
}
