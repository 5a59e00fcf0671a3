package interop

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/imgtool/imgtool/internal/dockertest"
)

// Items 2 and 3: basic auth over TLS with a private CA (GitLab's and
// Harbor's set-up). Without the CA imgtool names the certificate problem
// and what to do, not the http fallback's 400; --insecure, --cert-dir and
// /etc/docker/certs.d/HOST/ca.crt each make it work. dockerd treats
// 127.0.0.0/8 as an insecure registry (TLS unverified) and cannot be told
// otherwise, so on loopback Docker succeeds without the CA: the Docker side
// checks the round trip, and client certificates (TestTLSClientCertificate)
// are where certs.d matters to both.
func TestTLSPrivateCA(t *testing.T) {
	pki := dockertest.NewPKI(t)
	reg := startDistribution(t, distOpts{tls: pki.Issue(t, "registry", dockertest.ServerCert), user: "user", pass: "s3cret"})
	isolateDockerConfig(t, map[string]string{reg.host: "user:s3cret"})
	store := newStore(t)
	arch := filepath.Join(t.TempDir(), "tls.tar")
	writeArchive(t, arch, synthThree(t, "regtls:1", "regtls"))
	dockertest.MustImgtool(t, "--root", store, "load", "-i", arch)
	ref := reg.host + "/tls/app:1"

	for _, args := range [][]string{{"push", "regtls:1", ref}, {"pull", ref}} {
		r := dockertest.Imgtool(t, append([]string{"--root", store}, args...)...)
		if r.OK() || !strings.Contains(r.Stderr, "x509: certificate signed by unknown authority") ||
			!strings.Contains(r.Stderr, "--insecure") || !strings.Contains(r.Stderr, "/etc/docker/certs.d/"+reg.host+"/ca.crt") ||
			strings.Contains(r.Stderr, "HTTP request to an HTTPS server") {
			t.Errorf("%s without the CA: %s", args[0], r)
		}
		oneLine(t, args[0]+" without the CA", r)
		t.Logf("%s without the CA: %s", args[0], strings.TrimSpace(r.Stderr))
	}

	dockertest.MustImgtool(t, "--root", store, "push", "--insecure", "regtls:1", ref)
	certs := filepath.Join(t.TempDir(), "certs")
	pki.CertsDir(t, certs, nil)
	other := newStore(t)
	dockertest.MustImgtool(t, "--root", other, "pull", "--cert-dir", certs, ref)
	r := dockertest.Imgtool(t, "--root", other, "pull", "--cert-dir", filepath.Join(certs, "missing"), ref)
	if r.OK() || !strings.Contains(r.Stderr, "cert-dir") {
		t.Errorf("--cert-dir of a missing directory: %s", r)
	}
	dockerCertsD(t, pki, reg.host, nil)
	dockertest.MustImgtool(t, "--root", newStore(t), "pull", ref)

	// Docker on the same registry, both directions.
	d := dockertest.Shared(t)
	if msg := dockerLogin(t, d, reg.host, "user", "s3cret"); msg != "" {
		t.Fatalf("docker login: %s", msg)
	}
	d.Docker(t, "pull", ref)
	if got, want := d.ImageID(t, ref), imageIDIn(t, store, "regtls:1"); got != want {
		t.Errorf("docker pulled %s, imgtool pushed %s", got, want)
	}
	id := richImage(t, d, "regtlsd:1", "regtlsd")
	dref := reg.host + "/tls/docker:1"
	d.Docker(t, "tag", "regtlsd:1", dref)
	d.Docker(t, "push", dref)
	var res pullJSON
	decodeJSON(t, dockertest.MustImgtool(t, "--root", other, "pull", "--json", dref), &res)
	if len(res.Images) != 1 || res.Images[0].ID != id {
		t.Errorf("imgtool pulled %+v, docker pushed %s", res, id)
	}
}

// Item 3: a registry that requires client certificates signed by the
// private CA. imgtool fails without client.cert/client.key in
// /etc/docker/certs.d/HOST/, saying so, and works with them; Docker's
// results on the same registry are logged (see below why it fails both).
func TestTLSClientCertificate(t *testing.T) {
	pki := dockertest.NewPKI(t)
	client := pki.Issue(t, "client", dockertest.ClientCert)
	reg := startDistribution(t, distOpts{tls: pki.Issue(t, "registry", dockertest.ServerCert), clientCA: pki.CAFile, client: client})
	isolateDockerConfig(t, nil)
	store := newStore(t)
	arch := filepath.Join(t.TempDir(), "mtls.tar")
	writeArchive(t, arch, synthThree(t, "regmtls:1", "regmtls"))
	dockertest.MustImgtool(t, "--root", store, "load", "-i", arch)
	ref := reg.host + "/mtls/app:1"
	d := dockertest.Shared(t)
	d.Docker(t, "tag", d.ImageID(t, dockertest.BaseImage(t, d, "")), reg.host+"/mtls/base:1")

	dir := dockerCertsD(t, pki, reg.host, nil) // the CA only
	r := dockertest.Imgtool(t, "--root", store, "push", "regmtls:1", ref)
	if r.OK() || !strings.Contains(r.Stderr, "client certificate") || !strings.Contains(r.Stderr, dir) {
		t.Errorf("push without a client certificate: %s", r)
	}
	oneLine(t, "push without a client certificate", r)
	t.Logf("imgtool push without a client certificate: %s", strings.TrimSpace(r.Stderr))
	_, dockerErr, err := d.DockerErr("push", reg.host+"/mtls/base:1")
	if err == nil {
		t.Errorf("docker pushed without a client certificate")
	}
	t.Logf("docker push without a client certificate: %s", strings.TrimSpace(dockerErr))

	os.RemoveAll(dir)
	pki.CertsDir(t, dir, client) // dockerCertsD's cleanup removes it
	dockertest.MustImgtool(t, "--root", store, "push", "regmtls:1", ref)
	pulled := newStore(t)
	var res pullJSON
	decodeJSON(t, dockertest.MustImgtool(t, "--root", pulled, "pull", "--json", ref), &res)
	if len(res.Images) != 1 || res.Images[0].ID != imageIDIn(t, store, "regmtls:1") {
		t.Errorf("pulled %+v", res)
	}
	// dockerd reads certs.d only for registries it verifies, and it never
	// verifies 127.0.0.0/8 (newTLSConfig: `if isSecure && CertsDir() != ""`):
	// on loopback it cannot present a client certificate at all, and says
	// so with the http fallback's 400, the message imgtool no longer gives.
	_, dockerErr, err = d.DockerErr("push", reg.host+"/mtls/base:1")
	t.Logf("docker push with client.cert in %s: err=%v %s", dir, err, strings.TrimSpace(dockerErr))

}

// Item 4: every Nth request through a throttling proxy answers 429 with
// Retry-After, 503, or loses its connection (blob downloads halfway),
// existence probes (HEAD) included; imgtool's push and pull complete,
// waiting at least Retry-After. Docker's result through
// the same proxy is logged beside it.
func TestThrottlePushPull(t *testing.T) {
	reg := startRegistry(t, "", "")
	isolateDockerConfig(t, nil)
	tp := newThrottle(t, reg.host, 3, 40)
	store := newStore(t)
	arch := filepath.Join(t.TempDir(), "thr.tar")
	writeArchive(t, arch, synthThree(t, "regthr:1", "regthr"))
	dockertest.MustImgtool(t, "--root", store, "load", "-i", arch)
	ref := tp.host + "/thr/app:1"

	var res pushJSON
	decodeJSON(t, dockertest.MustImgtool(t, "--root", store, "push", "--jobs", "1", "--json", "regthr:1", ref), &res)
	// Again: only existence probes and the manifest, and they are throttled too.
	dockertest.MustImgtool(t, "--root", store, "push", "--jobs", "1", "regthr:1", ref)
	refused, total, gaps := tp.stats()
	t.Logf("push: %d refused %v", total, refused)
	if refused["HEAD blobs"] == 0 || total == 0 {
		t.Errorf("no existence probe was throttled: %v", refused)
	}
	if len(gaps) == 0 {
		t.Errorf("no request followed a 429")
	}
	for _, g := range gaps {
		if g < 900*time.Millisecond {
			t.Errorf("a request came %v after a 429 with Retry-After: 1", g)
		}
	}

	tp.reset()
	tp.dropBlobs.Store(true) // and every blob's first download breaks off halfway
	pulled := newStore(t)
	var pres pullJSON
	decodeJSON(t, dockertest.MustImgtool(t, "--root", pulled, "pull", "--json", ref), &pres)
	if pres.Digest != res.Digest || len(pres.Images) != 1 || pres.Images[0].ID != imageIDIn(t, store, "regthr:1") {
		t.Errorf("pulled %+v after pushing %+v", pres, res)
	}
	refused, total, _ = tp.stats()
	t.Logf("pull: %d refused %v", total, refused)
	if refused["GET blobs cut"] < 4 { // config and three layers
		t.Errorf("the pull's downloads were not cut: %v", refused)
	}

	// Docker through the same proxy (logged: dockerd's own retry policy).
	d := dockertest.Shared(t)
	tp.reset()
	tp.dropBlobs.Store(false)
	_, dockerErr, err := d.DockerErr("pull", ref)
	refused, total, _ = tp.stats()
	t.Logf("docker pull through the throttle: err=%v refused=%d %v %s", err, total, refused, strings.TrimSpace(dockerErr))
}
