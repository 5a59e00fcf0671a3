package dockertest

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/tls"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// TokenUser is an account of a TokenServer: its password and the actions
// it gets on every repository ("pull", "push", "delete"; "*" for all).
// The user "" is the anonymous one (no Authorization header).
type TokenUser struct {
	Password string
	Actions  []string
	Catalog  bool // may list the catalog (registry:catalog:*)
}

// TokenServer issues bearer tokens as Docker Hub's, GHCR's or Harbor's
// auth services do for distribution's `auth: token:` (docs/spec/auth/
// jwt.md): RS256 JWTs whose header carries the signing certificate (x5c,
// issued by the test CA, so the CA file is the registry's rootcertbundle)
// and whose `access` claim grants the intersection of the requested scope
// and the user's actions. It serves https on 127.0.0.1 with a certificate
// of the same CA.
type TokenServer struct {
	URL string // https://127.0.0.1:PORT
	// Realm is https://localhost:PORT/token: by name, since
	// go-containerregistry refuses a realm at a private IP literal that is
	// not the registry's own host:port (an SSRF guard, ggcr#2258).
	Realm   string
	Service string
	Issuer  string

	srv    *httptest.Server
	signer *Cert
	users  map[string]TokenUser

	mu       sync.Mutex
	requests []TokenRequest
}

// TokenRequest is one token request the server answered.
type TokenRequest struct {
	User    string   // "" for anonymous
	Scopes  []string // as requested
	Granted []string // "repository:NAME:ACTIONS" as granted
	Status  int
}

// StartTokenServer starts a token server for users; it stops with the test.
func StartTokenServer(t testing.TB, pki *PKI, users map[string]TokenUser) *TokenServer {
	t.Helper()
	ts := &TokenServer{Service: "imgtool-test-registry", Issuer: "imgtool-test-token-server", users: users,
		signer: pki.Issue(t, "token-signer", SigningCert)}
	srvCert := pki.Issue(t, "token-server", ServerCert)
	kp, err := tls.LoadX509KeyPair(srvCert.CertFile, srvCert.KeyFile)
	if err != nil {
		t.Fatal(err)
	}
	ts.srv = httptest.NewUnstartedServer(http.HandlerFunc(ts.serveToken))
	ts.srv.TLS = &tls.Config{Certificates: []tls.Certificate{kp}, MinVersion: tls.VersionTLS12}
	ts.srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	ts.srv.StartTLS()
	t.Cleanup(ts.srv.Close)
	ts.URL = ts.srv.URL
	ts.Realm = "https://localhost:" + ts.URL[strings.LastIndex(ts.URL, ":")+1:] + "/token"
	return ts
}

// Requests returns the token requests answered so far.
func (ts *TokenServer) Requests() []TokenRequest {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	return append([]TokenRequest(nil), ts.requests...)
}

// RegistryConfig is the `auth:` section of a distribution config using
// this server, rootcertbundle being the CA file.
func (ts *TokenServer) RegistryConfig(caFile string) string {
	return fmt.Sprintf("auth:\n  token:\n    realm: %s\n    service: %s\n    issuer: %s\n    rootcertbundle: %s\n",
		ts.Realm, ts.Service, ts.Issuer, caFile)
}

func (ts *TokenServer) serveToken(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	req := TokenRequest{Scopes: q["scope"]}
	user, pass, hasAuth := r.BasicAuth()
	if r.Method == http.MethodPost { // OAuth2 password grant
		if err := r.ParseForm(); err == nil && r.PostForm.Get("grant_type") == "password" {
			user, pass, hasAuth = r.PostForm.Get("username"), r.PostForm.Get("password"), true
			req.Scopes = strings.Fields(r.PostForm.Get("scope"))
		}
	}
	acct, ok := ts.users[user]
	if !hasAuth {
		user, acct, ok = "", ts.users[""], true
	}
	req.User = user
	if hasAuth && (!ok || acct.Password != pass) {
		req.Status = http.StatusUnauthorized
		ts.record(req)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusUnauthorized)
		io.WriteString(w, `{"errors":[{"code":"UNAUTHORIZED","message":"authentication required","detail":"incorrect username or password"}]}`)
		return
	}
	access := ts.grant(acct, req.Scopes)
	for _, a := range access {
		req.Granted = append(req.Granted, a.Type+":"+a.Name+":"+strings.Join(a.Actions, ","))
	}
	tok, err := ts.sign(user, access)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	req.Status = http.StatusOK
	ts.record(req)
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(map[string]any{
		"token": tok, "access_token": tok, "expires_in": 300, "issued_at": time.Now().UTC().Format(time.RFC3339),
	})
}

func (ts *TokenServer) record(r TokenRequest) {
	ts.mu.Lock()
	ts.requests = append(ts.requests, r)
	ts.mu.Unlock()
}

type accessEntry struct {
	Type    string   `json:"type"`
	Name    string   `json:"name"`
	Actions []string `json:"actions"`
}

// grant intersects each requested scope ("repository:NAME:pull,push")
// with what the user may do.
func (ts *TokenServer) grant(u TokenUser, scopes []string) []accessEntry {
	out := []accessEntry{}
	for _, s := range scopes {
		for _, one := range strings.Fields(s) {
			typ, rest, ok := strings.Cut(one, ":")
			i := strings.LastIndex(rest, ":")
			if !ok || i < 0 {
				continue
			}
			name, actions := rest[:i], strings.Split(rest[i+1:], ",")
			e := accessEntry{Type: typ, Name: name, Actions: []string{}}
			for _, a := range actions {
				if typ == "registry" && name == "catalog" && u.Catalog ||
					typ == "repository" && (contains(u.Actions, a) || contains(u.Actions, "*")) {
					e.Actions = append(e.Actions, a)
				}
			}
			out = append(out, e)
		}
	}
	return out
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// sign makes the RS256 JWT distribution's token.Token verifies.
func (ts *TokenServer) sign(subject string, access []accessEntry) (string, error) {
	now := time.Now()
	header := map[string]any{"typ": "JWT", "alg": "RS256",
		"x5c": []string{base64.StdEncoding.EncodeToString(ts.signer.Cert.Raw)}}
	jti := make([]byte, 12)
	rand.Read(jti)
	claims := map[string]any{
		"iss": ts.Issuer, "sub": subject, "aud": ts.Service,
		"exp": now.Add(5 * time.Minute).Unix(), "nbf": now.Add(-time.Minute).Unix(), "iat": now.Unix(),
		"jti": base64.RawURLEncoding.EncodeToString(jti), "access": access,
	}
	hb, err := json.Marshal(header)
	if err != nil {
		return "", err
	}
	cb, err := json.Marshal(claims)
	if err != nil {
		return "", err
	}
	payload := base64.RawURLEncoding.EncodeToString(hb) + "." + base64.RawURLEncoding.EncodeToString(cb)
	sum := sha256.Sum256([]byte(payload))
	sig, err := rsa.SignPKCS1v15(rand.Reader, ts.signer.Key.(*rsa.PrivateKey), crypto.SHA256, sum[:])
	if err != nil {
		return "", err
	}
	return payload + "." + base64.RawURLEncoding.EncodeToString(sig), nil
}
