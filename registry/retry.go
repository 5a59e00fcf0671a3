package registry

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// DefaultBackoff is the retry schedule: 3 tries, waiting 1s then 3s (and
// at least what a Retry-After asks for).
var DefaultBackoff = remote.Backoff{Duration: time.Second, Factor: 3, Jitter: 0.1, Steps: 3}

// retryStatusCodes are the answers retried with backoff, on every request
// (ggcr's own list: throttling, gateway and transient server errors).
var retryStatusCodes = []int{
	http.StatusRequestTimeout,
	http.StatusTooManyRequests,
	http.StatusInternalServerError,
	http.StatusBadGateway,
	http.StatusServiceUnavailable,
	http.StatusGatewayTimeout,
}

// MaxRetryAfter bounds the wait a Retry-After header can impose before the
// next request (a registry asking for hours gets retried within the
// backoff's bound and then reported).
var MaxRetryAfter = 30 * time.Second

func defaultHTTPTransport() *http.Transport { return remote.DefaultTransport.(*http.Transport) }

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

// wire sits directly on the HTTP transport, under ggcr's retry and auth
// wrappers. It honours Retry-After (a 429 or 503 that carries one holds
// every following request of the operation until then, so ggcr's retry
// waits at least that long), and it makes a bearer challenge's
// error="insufficient_scope" visible in the error body as DENIED, as
// Docker's distribution client does (ggcr reads only the body).
type wire struct {
	inner http.RoundTripper

	mu        sync.Mutex
	notBefore time.Time
}

func newWire(inner http.RoundTripper) *wire { return &wire{inner: inner} }

func (w *wire) RoundTrip(req *http.Request) (*http.Response, error) {
	w.mu.Lock()
	wait := time.Until(w.notBefore)
	w.mu.Unlock()
	if wait > 0 {
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-req.Context().Done():
			t.Stop()
			return nil, req.Context().Err()
		}
	}
	resp, err := w.inner.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	switch resp.StatusCode {
	case http.StatusTooManyRequests, http.StatusServiceUnavailable:
		if d, ok := retryAfter(resp.Header.Get("Retry-After"), time.Now()); ok {
			w.mu.Lock()
			if nb := time.Now().Add(min(d, MaxRetryAfter)); nb.After(w.notBefore) {
				w.notBefore = nb
			}
			w.mu.Unlock()
		}
	case http.StatusUnauthorized, http.StatusForbidden:
		if challengeError(resp.Header.Values("WWW-Authenticate")) == "insufficient_scope" {
			markDenied(resp)
		}
	}
	return resp, nil
}

// retryAfter parses a Retry-After value: delay-seconds or an HTTP date.
func retryAfter(v string, now time.Time) (time.Duration, bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false
	}
	if n, err := strconv.Atoi(v); err == nil {
		if n < 0 {
			return 0, false
		}
		return time.Duration(n) * time.Second, true
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(t.Sub(now), 0), true
	}
	return 0, false
}

// challengeError is the error parameter of a Bearer challenge
// (RFC 6750 §3: invalid_token, insufficient_scope…), "" if none.
func challengeError(headers []string) string {
	for _, h := range headers {
		scheme, params, _ := strings.Cut(strings.TrimSpace(h), " ")
		if !strings.EqualFold(scheme, "bearer") {
			continue
		}
		for _, p := range splitParams(params) {
			k, v, _ := strings.Cut(p, "=")
			if strings.EqualFold(strings.TrimSpace(k), "error") {
				return strings.Trim(strings.TrimSpace(v), `"`)
			}
		}
	}
	return ""
}

// splitParams splits auth-params at the commas outside quotes.
func splitParams(s string) []string {
	var out []string
	quoted, start := false, 0
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '"':
			quoted = !quoted
		case ',':
			if !quoted {
				out = append(out, s[start:i])
				start = i + 1
			}
		}
	}
	return append(out, s[start:])
}

// deniedCode is the registry error code a denial is reported with.
const deniedCode = "DENIED"

// markDenied puts a DENIED diagnostic first in the response's error body,
// keeping the registry's own ones after it.
func markDenied(resp *http.Response) {
	var body struct {
		Errors []json.RawMessage `json:"errors"`
	}
	var raw []byte
	if resp.Body != nil {
		raw, _ = io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		resp.Body.Close()
	}
	_ = json.Unmarshal(raw, &body)
	denied, _ := json.Marshal(map[string]string{"code": deniedCode, "message": "requested access to the resource is denied"})
	body.Errors = append([]json.RawMessage{denied}, body.Errors...)
	out, _ := json.Marshal(body)
	resp.Body = io.NopCloser(bytes.NewReader(out))
	resp.ContentLength = int64(len(out))
	resp.Header.Set("Content-Length", strconv.Itoa(len(out)))
	resp.Header.Set("Content-Type", "application/json")
}
