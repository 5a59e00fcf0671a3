package interop

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/imgtool/imgtool/internal/dockertest"
)

const denied = "denied: requested access to the resource is denied"

// tokenRegistry is distribution with TLS (a private CA) and bearer tokens
// from a separate token server, as Docker Hub, GHCR and Harbor run:
// "reader" may pull, "writer" pull and push, anonymous nothing.
func tokenRegistry(t *testing.T) (*distRegistry, *dockertest.TokenServer, *dockertest.PKI) {
	t.Helper()
	pki := dockertest.NewPKI(t)
	ts := dockertest.StartTokenServer(t, pki, map[string]dockertest.TokenUser{
		"reader": {Password: "r3ad", Actions: []string{"pull"}, Catalog: true},
		"writer": {Password: "wr1te", Actions: []string{"pull", "push"}, Catalog: true},
		"":       {},
	})
	reg := startDistribution(t, distOpts{tls: pki.Issue(t, "registry", dockertest.ServerCert), auth: ts.RegistryConfig(pki.CAFile)})
	return reg, ts, pki
}

// Item 1: a logged-in user without push rights is denied, not
// "unauthorized"; wrong credentials are unauthorized; anonymous pulls are
// denied with Docker's hint; each as Docker says it on the same registry.
func TestTokenScopes(t *testing.T) {
	reg, ts, pki := tokenRegistry(t)
	certs := filepath.Join(t.TempDir(), "certs")
	pki.CertsDir(t, certs, nil)
	d := dockertest.Shared(t)
	store := newStore(t)
	arch := filepath.Join(t.TempDir(), "tok.tar")
	writeArchive(t, arch, synthThree(t, "regtok:1", "regtok"))
	dockertest.MustImgtool(t, "--root", store, "load", "-i", arch)
	ref := reg.host + "/team/app:1"
	imgtool := func(user string, args ...string) *dockertest.Result {
		t.Helper()
		auths := map[string]string{}
		if user != "" {
			auths[reg.host] = user
		}
		isolateDockerConfig(t, auths)
		return dockertest.Imgtool(t, append([]string{"--root", store}, args...)...)
	}

	// writer pushes; Docker, logged in as reader, pulls the same image.
	var res pushJSON
	decodeJSON(t, mustOK(t, imgtool("writer:wr1te", "push", "--cert-dir", certs, "--json", "regtok:1", ref)), &res)
	if msg := dockerLogin(t, d, reg.host, "reader", "r3ad"); msg != "" {
		t.Fatalf("docker login as reader: %s", msg)
	}
	d.Docker(t, "pull", ref)
	wantID := imageIDIn(t, store, "regtok:1")
	if got := d.ImageID(t, ref); got != wantID {
		t.Errorf("docker pulled %s, imgtool pushed %s", got, wantID)
	}

	// reader pushes: Docker and imgtool both say denied.
	other := reg.host + "/team/other:1"
	d.Docker(t, "tag", ref, other)
	_, dockerErr, err := d.DockerErr("push", other)
	if err == nil || !strings.Contains(dockerErr, denied) {
		t.Errorf("docker push as reader: %v %s", err, dockerErr)
	}
	t.Logf("docker push as reader: %s", strings.TrimSpace(dockerErr))
	r := imgtool("reader:r3ad", "push", "--cert-dir", certs, "regtok:1", other)
	if r.OK() || !strings.Contains(r.Stderr, denied) || strings.Contains(r.Stderr, "unauthorized") || !strings.Contains(r.Stderr, other) {
		t.Errorf("imgtool push as reader: %s", r)
	}
	oneLine(t, "push as reader", r)
	t.Logf("imgtool push as reader: %s", strings.TrimSpace(r.Stderr))
	if !grantedWithout(ts, "reader", "push") {
		t.Errorf("the token server never refused reader push access: %+v", ts.Requests())
	}

	tokenErrors(t, d, reg.host, certs, imgtool)

	// writer pushes to another repository: layers are mounted (the token
	// carries pull access to the source repository).
	var res2 pushJSON
	decodeJSON(t, mustOK(t, imgtool("writer:wr1te", "push", "--cert-dir", certs, "--json", "regtok:1", reg.host+"/copy/app:1")), &res2)
	for _, l := range res2.Layers {
		if l.Status != "mounted" || l.From != "team/app" {
			t.Errorf("layer not mounted: %+v", l)
		}
	}
}

// tokenErrors: a wrong password, an anonymous pull, a missing repository.
func tokenErrors(t *testing.T, d *dockertest.Daemon, host, certs string, imgtool func(string, ...string) *dockertest.Result) {
	t.Helper()
	ref, other := host+"/team/app:1", host+"/team/other:1"
	// Wrong password: unauthorized, for both.
	r := imgtool("reader:wrong", "pull", "--cert-dir", certs, ref)
	if r.OK() || !strings.Contains(r.Stderr, "unauthorized") || !strings.Contains(r.Stderr, "docker login "+host) {
		t.Errorf("imgtool pull with a wrong password: %s", r)
	}
	oneLine(t, "pull with a wrong password", r)
	if msg := dockerLogin(t, d, host, "reader", "wrong"); !strings.Contains(msg, "unauthorized") {
		t.Errorf("docker login with a wrong password: %q", msg)
	}

	// Anonymous pull: Docker's "pull access denied … may require 'docker login'".
	d.DockerErr("logout", host)
	d.Docker(t, "rmi", ref, other)
	_, dockerErr, err := d.DockerErr("pull", ref)
	t.Logf("docker pull, anonymous: %s", strings.TrimSpace(dockerErr))
	r = imgtool("", "pull", "--cert-dir", certs, ref)
	want := "pull access denied for " + host + "/team/app, repository does not exist or may require 'docker login': " + denied
	if r.OK() || !strings.Contains(r.Stderr, want) {
		t.Errorf("imgtool pull, anonymous: %s\nwant %q", r, want)
	}
	if err == nil || !strings.Contains(dockerErr, want) {
		t.Errorf("docker pull, anonymous: %v %s\nwant %q", err, dockerErr, want)
	}

	// A missing repository, as reader: not found, not denied.
	r = imgtool("reader:r3ad", "pull", "--cert-dir", certs, host+"/no/such:1")
	if r.OK() || !strings.Contains(r.Stderr, "not found") {
		t.Errorf("imgtool pull of a missing repository: %s", r)
	}
}

// Docker pushes (as writer) a Docker-built image; imgtool pulls it as
// reader through the token server with the same ID and layers.
func TestTokenDockerPushImgtoolPull(t *testing.T) {
	reg, _, pki := tokenRegistry(t)
	certs := filepath.Join(t.TempDir(), "certs")
	pki.CertsDir(t, certs, nil)
	d := dockertest.Shared(t)
	id := richImage(t, d, "regtokd:1", "regtokd")
	layers := rootFSLayers(t, d, "regtokd:1")
	ref := reg.host + "/docker/app:1"
	d.Docker(t, "tag", "regtokd:1", ref)
	if msg := dockerLogin(t, d, reg.host, "writer", "wr1te"); msg != "" {
		t.Fatalf("docker login as writer: %s", msg)
	}
	d.Docker(t, "push", ref)
	isolateDockerConfig(t, map[string]string{reg.host: "reader:r3ad"})
	store := newStore(t)
	var res pullJSON
	decodeJSON(t, dockertest.MustImgtool(t, "--root", store, "pull", "--cert-dir", certs, "--json", ref), &res)
	if len(res.Images) != 1 || res.Images[0].ID != id || !equalStrings(res.Images[0].DiffIDs, layers) {
		t.Errorf("pulled %+v, want id %s diff_ids %v", res, id, layers)
	}
}

// grantedWithout reports whether user asked the token server for action
// and got a token without it.
func grantedWithout(ts *dockertest.TokenServer, user, action string) bool {
	for _, r := range ts.Requests() {
		if r.User != user || r.Status != 200 || !strings.Contains(strings.Join(r.Scopes, " "), action) {
			continue
		}
		if !strings.Contains(strings.Join(r.Granted, " "), action) {
			return true
		}
	}
	return false
}

func mustOK(t *testing.T, r *dockertest.Result) string {
	t.Helper()
	if !r.OK() {
		t.Fatalf("imgtool failed: %s", r)
	}
	return r.Stdout
}
