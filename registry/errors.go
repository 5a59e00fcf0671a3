package registry

import (
	"cmp"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
)

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
	// TLS first: with an untrusted certificate the http fallback's answer
	// ("400 Client sent an HTTP request to an HTTPS server") is noise.
	if msg := cmp.Or(describeTLS(host, err), describeRealm(host, err), describeHTTPSFailure(host, err)); msg != "" {
		e.Msg = prefix + msg
		return e
	}
	var te *transport.Error
	if errors.As(err, &te) {
		e.Status = te.StatusCode
		if len(te.Errors) > 0 {
			e.Code = string(te.Errors[0].Code)
		}
		e.Msg = prefix + describeStatus(op, ref, host, e.Code, te)
		return e
	}
	e.Msg = prefix + describeNet(host, err)
	return e
}

// describeHTTPSFailure describes the https attempt's failure when the
// http fallback only showed that the registry speaks https (ggcr tries
// both for loopback and private addresses), "" otherwise.
func describeHTTPSFailure(host string, err error) string {
	var te *transport.Error
	if !errors.As(err, &te) || te.StatusCode != http.StatusBadRequest || !strings.Contains(te.Error(), "HTTP request to an HTTPS server") {
		return ""
	}
	var ue *url.Error
	if !errors.As(err, &ue) || !strings.HasPrefix(ue.URL, "https://") {
		return fmt.Sprintf("registry %s speaks https, but the https connection failed", host)
	}
	return fmt.Sprintf("registry %s speaks https, but the TLS connection failed: %s (a registry that requires a client certificate closes it like this: put client.cert and client.key in %s, or point --cert-dir at a directory holding them)",
		host, rootCause(ue), filepath.Join(DockerCertsDir, host))
}

// describeRealm explains ggcr's refusal of a token server on a private
// address (its SSRF guard), "" for other errors.
func describeRealm(host string, err error) string {
	msg := err.Error()
	if !strings.Contains(msg, "realm") || !strings.Contains(msg, "private or link-local") {
		return ""
	}
	return fmt.Sprintf("registry %s sends clients to a token server at a private IP address (%s); go-containerregistry only accepts that at the registry's own host:port, so give the token server's realm a host name",
		host, oneLine(msg))
}

// describeStatus reads a registry's answer as Docker does: the error
// code first (an insufficient_scope challenge counts as DENIED), then the
// status.
func describeStatus(op, ref, host, code string, te *transport.Error) string {
	switch {
	case code == deniedCode || te.StatusCode == http.StatusForbidden:
		const denied = "denied: requested access to the resource is denied"
		switch op {
		case "pull":
			return fmt.Sprintf("pull access denied for %s, repository does not exist or may require 'docker login': %s", repoOf(ref), denied)
		case "push":
			return fmt.Sprintf("%s (the credentials used for %s do not allow pushing to %s)", denied, host, repoOf(ref))
		}
		return denied
	case te.StatusCode == http.StatusUnauthorized || code == string(transport.UnauthorizedErrorCode):
		return fmt.Sprintf("unauthorized: authentication required (wrong or missing credentials; run `docker login %s`)", host)
	case code == string(transport.ManifestUnknownErrorCode):
		return fmt.Sprintf("manifest for %s not found: manifest unknown", ref)
	case code == string(transport.NameUnknownErrorCode):
		return fmt.Sprintf("repository %s not found: name unknown", repoOf(ref))
	case code == string(transport.BlobUnknownErrorCode):
		return fmt.Sprintf("blob unknown to registry (%s)", oneLine(te.Error()))
	case te.StatusCode == http.StatusNotFound:
		return fmt.Sprintf("not found (%s)", oneLine(te.Error()))
	case te.StatusCode == http.StatusTooManyRequests || code == string(transport.TooManyRequestsErrorCode):
		msg := "too many requests"
		if len(te.Errors) > 0 && te.Errors[0].Message != "" {
			msg = oneLine(te.Errors[0].Message)
		}
		return fmt.Sprintf("toomanyrequests: %s (registry %s kept rate-limiting after retries; try again later)", msg, host)
	case te.StatusCode == http.StatusBadGateway || te.StatusCode == http.StatusServiceUnavailable ||
		te.StatusCode == http.StatusGatewayTimeout || code == string(transport.UnavailableErrorCode):
		return fmt.Sprintf("registry %s unavailable: %d %s (still failing after retries)", host, te.StatusCode, http.StatusText(te.StatusCode))
	}
	return oneLine(te.Error())
}

// describeTLS explains a certificate problem and what to do about it, ""
// when err is none.
func describeTLS(host string, err error) string {
	var (
		cve   *tls.CertificateVerificationError
		ua    x509.UnknownAuthorityError
		he    x509.HostnameError
		ci    x509.CertificateInvalidError
		cause string
	)
	switch {
	case errors.As(err, &cve):
		cause = cve.Err.Error()
	case errors.As(err, &ua):
		cause = ua.Error()
	case errors.As(err, &he):
		cause = he.Error()
	case errors.As(err, &ci):
		cause = ci.Error()
	case strings.Contains(err.Error(), "tls: certificate required") || strings.Contains(err.Error(), "tls: bad certificate"):
		// The server's alert (Go has no exported type for it).
		return fmt.Sprintf("registry %s requires a TLS client certificate that it accepts: put client.cert and client.key in %s, or point --cert-dir at a directory holding them",
			host, filepath.Join(DockerCertsDir, host))
	case strings.Contains(err.Error(), "server gave HTTP response to HTTPS client"):
		return fmt.Sprintf("registry %s answers plain http, not https; use --insecure to allow http", host)
	default:
		return ""
	}
	return fmt.Sprintf("registry %s: TLS certificate not trusted: x509: %s (install the registry's CA as %s, or in the system store, or point --cert-dir at a directory holding it; --insecure skips verification)",
		host, strings.TrimPrefix(cause, "x509: "), filepath.Join(DockerCertsDir, host, "ca.crt"))
}

// describeNet describes a failure below HTTP.
func describeNet(host string, err error) string {
	var ne net.Error
	var ue *url.Error
	switch {
	case errors.Is(err, syscall.ECONNREFUSED):
		return fmt.Sprintf("cannot reach registry %s: connection refused", host)
	case errors.Is(err, syscall.ECONNRESET) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) || errors.Is(err, syscall.EPIPE):
		return fmt.Sprintf("connection to registry %s lost: %s", host, rootCause(err))
	case errors.Is(err, context.Canceled):
		return "canceled"
	case errors.As(err, &ne) && ne.Timeout():
		return fmt.Sprintf("registry %s timed out", host)
	case errors.As(err, &ue):
		return fmt.Sprintf("registry %s: %s", host, rootCause(err))
	}
	return oneLine(err.Error())
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
