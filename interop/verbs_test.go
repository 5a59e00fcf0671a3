package interop

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"runtime"
	"sort"
	"strings"
	"testing"

	"github.com/imgtool/imgtool/internal/dockertest"
)

// Item 5 of #14: digest, manifest, config, ls and inspect LOCATION, each
// compared with what skopeo (and docker save) say of the same image.

// skopeoOut runs skopeo and returns its stdout as bytes (skopeo's own
// warnings go to stderr and are not part of the data).
func skopeoOut(t *testing.T, args ...string) []byte {
	t.Helper()
	var stderr bytes.Buffer
	cmd := exec.Command("skopeo", args...)
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("skopeo %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	return out
}

// imgtoolOut runs imgtool and returns its stdout unchanged.
func imgtoolOut(t *testing.T, args ...string) string {
	t.Helper()
	r := dockertest.Imgtool(t, args...)
	if !r.OK() {
		t.Fatalf("imgtool %s: %s", strings.Join(args, " "), r)
	}
	return r.Stdout
}

// pushedFixture pushes a three-layer image to a fresh registry as
// app:1 and app:2 and returns the store and the registry host.
func pushedFixture(t *testing.T) (store, host string) {
	t.Helper()
	dockertest.Require(t, "skopeo")
	reg := startRegistry(t, "", "")
	isolateDockerConfig(t, nil)
	store = newStore(t)
	arch := filepath.Join(t.TempDir(), "verbs.tar")
	writeArchive(t, arch, synthThree(t, "verbs:1", "verbs"))
	dockertest.MustImgtool(t, "--root", store, "load", "-i", arch)
	for _, tag := range []string{"1", "2"} {
		dockertest.MustImgtool(t, "--root", store, "push", "-q", "verbs:1", reg.host+"/team/app:"+tag)
	}
	return store, reg.host
}

func TestVerbsRegistryMatchSkopeo(t *testing.T) {
	store, host := pushedFixture(t)
	loc := "docker://" + host + "/team/app:1"
	sk := func(args ...string) []byte {
		return skopeoOut(t, append(append([]string{"inspect", "--tls-verify=false"}, args...), loc)...)
	}
	img := func(args ...string) string {
		return imgtoolOut(t, append(append([]string{"--root", store}, args...), loc)...)
	}
	var doc map[string]any
	if err := json.Unmarshal(sk(), &doc); err != nil {
		t.Fatal(err)
	}
	if got, want := strings.TrimSpace(img("digest")), doc["Digest"].(string); got != want {
		t.Errorf("digest: imgtool %s, skopeo %s", got, want)
	}
	if got, want := img("manifest"), string(sk("--raw")); got != want {
		t.Errorf("manifest differs from skopeo inspect --raw:\n%s\n%s", got, want)
	}
	if got, want := img("config"), string(sk("--config", "--raw")); got != want {
		t.Errorf("config differs from skopeo inspect --config --raw:\n%s\n%s", got, want)
	}
	for _, flags := range [][]string{{"--raw"}, {"--config"}, {"--config", "--raw"}} {
		if got, want := img(append([]string{"inspect"}, flags...)...), string(sk(flags...)); got != want {
			t.Errorf("inspect %v differs from skopeo:\n%s\n%s", flags, got, want)
		}
	}
	compareInspect(t, img("inspect"), sk(), sk("--raw"))
	const tmpl = "{{.Name}} {{.Digest}} {{.Os}}/{{.Architecture}} {{len .Layers}} {{.Labels}}"
	if got, want := img("inspect", "-f", tmpl), string(sk("--format", tmpl)); got != want {
		t.Errorf("inspect -f: imgtool %q, skopeo --format %q", got, want)
	}
	var tags struct{ Tags []string }
	skopeoJSON(t, &tags, "list-tags", "--tls-verify=false", "docker://"+host+"/team/app")
	got := strings.Fields(imgtoolOut(t, "ls", host+"/team/app"))
	sort.Strings(got)
	sort.Strings(tags.Tags)
	if !reflect.DeepEqual(got, tags.Tags) || len(got) != 2 {
		t.Errorf("ls: imgtool %v, skopeo list-tags %v", got, tags.Tags)
	}
	r := dockertest.Imgtool(t, "digest", "docker://"+host+"/team/app:nope")
	if r.OK() || !strings.Contains(r.Stderr, "manifest unknown") {
		t.Errorf("digest of a missing tag: %s", r)
	}
	oneLine(t, "digest of a missing tag", r)
}

// compareInspect: every key skopeo prints is the same in imgtool's
// document, in the same order; LayersData (newer skopeo's) lists the
// manifest's layers.
func compareInspect(t *testing.T, ours string, theirs, rawManifest []byte) {
	t.Helper()
	var o, s map[string]json.RawMessage
	if err := json.Unmarshal([]byte(ours), &o); err != nil {
		t.Fatalf("imgtool inspect: %v\n%s", err, ours)
	}
	if err := json.Unmarshal(theirs, &s); err != nil {
		t.Fatal(err)
	}
	for k, v := range s {
		if !bytes.Equal(compactJSON(t, o[k]), compactJSON(t, v)) {
			t.Errorf("inspect %s: imgtool %s, skopeo %s", k, o[k], v)
		}
	}
	var ld []struct {
		MIMEType, Digest string
		Size             int64
	}
	if err := json.Unmarshal(o["LayersData"], &ld); err != nil {
		t.Fatal(err)
	}
	var m struct {
		Layers []struct {
			MediaType, Digest string
			Size              int64
		}
	}
	if err := json.Unmarshal(rawManifest, &m); err != nil {
		t.Fatal(err)
	}
	if len(ld) != len(m.Layers) || len(ld) == 0 {
		t.Fatalf("LayersData %v, manifest layers %v", ld, m.Layers)
	}
	for i, l := range m.Layers {
		if ld[i].MIMEType != l.MediaType || ld[i].Digest != l.Digest || ld[i].Size != l.Size {
			t.Errorf("LayersData[%d] = %+v, manifest has %+v", i, ld[i], l)
		}
	}
	if keys := jsonKeys(t, ours); !strings.HasPrefix(strings.Join(keys, ","), "Name,Digest,RepoTags,Created,DockerVersion,Labels,Architecture,Os,Layers,LayersData,Env") {
		t.Errorf("inspect key order: %v", keys)
	}
}

func compactJSON(t *testing.T, b []byte) []byte {
	t.Helper()
	if b == nil {
		return nil
	}
	var out bytes.Buffer
	if err := json.Compact(&out, b); err != nil {
		t.Fatal(err)
	}
	return out.Bytes()
}

// jsonKeys lists an object's top-level keys in document order.
func jsonKeys(t *testing.T, s string) []string {
	t.Helper()
	dec := json.NewDecoder(strings.NewReader(s))
	var keys []string
	if _, err := dec.Token(); err != nil {
		t.Fatal(err)
	}
	for dec.More() {
		k, err := dec.Token()
		if err != nil {
			t.Fatal(err)
		}
		keys = append(keys, k.(string))
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			t.Fatal(err)
		}
	}
	return keys
}

// An OCI layout skopeo copied from the registry: digest, manifest and
// config are skopeo's for the layout too.
func TestVerbsOCILayoutMatchSkopeo(t *testing.T) {
	store, host := pushedFixture(t)
	lay := filepath.Join(t.TempDir(), "lay")
	skopeoOut(t, "copy", "--src-tls-verify=false", "docker://"+host+"/team/app:1", "oci:"+lay+":v1")
	loc := "oci:" + lay + ":v1"
	var doc map[string]any
	if err := json.Unmarshal(skopeoOut(t, "inspect", loc), &doc); err != nil {
		t.Fatal(err)
	}
	if got := strings.TrimSpace(imgtoolOut(t, "--root", store, "digest", loc)); got != doc["Digest"] {
		t.Errorf("digest %s: imgtool %s, skopeo %s", loc, got, doc["Digest"])
	}
	if got, want := imgtoolOut(t, "--root", store, "manifest", loc), string(skopeoOut(t, "inspect", "--raw", loc)); got != want {
		t.Errorf("manifest %s differs from skopeo", loc)
	}
	if got, want := imgtoolOut(t, "--root", store, "config", loc), string(skopeoOut(t, "inspect", "--config", "--raw", loc)); got != want {
		t.Errorf("config %s differs from skopeo", loc)
	}
}

// A store image's digest is that of the manifest imgtool save (and Docker
// 25+'s docker save) writes for it: its config is Docker's image ID, its
// layers Docker's diff IDs; the same for the image loaded from a docker
// save and for that archive itself; where the daemon's docker save writes
// an index.json (Docker 25+), its digest is that one.
func TestVerbsStoreDigestMatchesSave(t *testing.T) {
	d := dockertest.Shared(t)
	base := dockertest.BaseImage(t, d, "")
	saved := filepath.Join(t.TempDir(), "saved.tar")
	d.Docker(t, "save", "-o", saved, base)
	store := newStore(t)
	dockertest.MustImgtool(t, "--root", store, "load", "-i", saved)
	raw := imgtoolOut(t, "--root", store, "manifest", base)
	var m struct {
		MediaType string
		Config    struct{ Digest string }
		Layers    []struct{ MediaType, Digest string }
	}
	if err := json.Unmarshal([]byte(raw), &m); err != nil {
		t.Fatalf("manifest: %v\n%s", err, raw)
	}
	if m.Config.Digest != d.ImageID(t, base) || m.MediaType != "application/vnd.oci.image.manifest.v1+json" {
		t.Errorf("manifest %s: config %s, docker's image ID %s", raw, m.Config.Digest, d.ImageID(t, base))
	}
	layers := rootFSLayers(t, d, base)
	for i, l := range m.Layers {
		if i >= len(layers) || l.Digest != layers[i] || l.MediaType != "application/vnd.oci.image.layer.v1.tar" {
			t.Errorf("manifest layer %d %+v; docker's diff IDs %v", i, l, layers)
		}
	}
	want := digestOf([]byte(raw))
	out := filepath.Join(t.TempDir(), "out.tar")
	dockertest.MustImgtool(t, "--root", store, "save", "-o", out, base)
	if got := savedIndexDigest(t, out); got != want {
		t.Errorf("imgtool save's index.json names %s, imgtool digest's manifest hashes to %s", got, want)
	}
	if idx, ok := readArchive(t, saved).file("index.json"); ok {
		t.Logf("docker save wrote index.json: %s", idx)
		if got := savedIndexDigest(t, saved); got != want {
			t.Errorf("docker save's index.json names %s, imgtool digest %s", got, want)
		}
	}
	for _, loc := range []string{base, "docker-archive:" + saved, "docker-archive:" + out} {
		if got := strings.TrimSpace(imgtoolOut(t, "--root", store, "digest", loc)); got != want {
			t.Errorf("digest %s = %s, want %s", loc, got, want)
		}
	}
	if cfg := imgtoolOut(t, "--root", store, "config", base); digestOf([]byte(cfg)) != d.ImageID(t, base) {
		t.Errorf("config of %s does not hash to docker's image ID %s", base, d.ImageID(t, base))
	}
}

// savedIndexDigest is the one manifest digest of an archive's index.json.
func savedIndexDigest(t *testing.T, p string) string {
	t.Helper()
	raw, ok := readArchive(t, p).file("index.json")
	if !ok {
		t.Fatalf("%s has no index.json", p)
	}
	var idx struct{ Manifests []struct{ Digest string } }
	if err := json.Unmarshal(raw, &idx); err != nil || len(idx.Manifests) != 1 {
		t.Fatalf("index.json of %s: %v %s", p, err, raw)
	}
	return idx.Manifests[0].Digest
}

// crane's own verbs on the same registry image (the pinned crane that
// make test-deps installs).
func TestVerbsMatchCrane(t *testing.T) {
	crane := dockertest.Crane(t)
	_, host := pushedFixture(t)
	ref := host + "/team/app:1"
	for _, verb := range []string{"digest", "manifest", "config"} {
		want, err := exec.Command(crane, verb, "--insecure", ref).Output()
		if err != nil {
			t.Fatalf("crane %s: %v", verb, err)
		}
		if got := imgtoolOut(t, verb, "docker://"+ref); strings.TrimSpace(got) != strings.TrimSpace(string(want)) {
			t.Errorf("%s: imgtool %q, crane %q", verb, got, want)
		}
	}
	want, err := exec.Command(crane, "ls", "--insecure", host+"/team/app").Output()
	if err != nil {
		t.Fatalf("crane ls: %v", err)
	}
	if got := imgtoolOut(t, "ls", host+"/team/app"); got != string(want) {
		t.Errorf("ls: imgtool %q, crane %q", got, want)
	}
}

// Shell completion knows the new commands and their flags.
func TestVerbsCompletion(t *testing.T) {
	script := dockertest.MustImgtool(t, "completion", "bash")
	f := filepath.Join(t.TempDir(), "c.bash")
	if err := os.WriteFile(f, []byte(script), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("bash", "-c", `source `+f+`
for w in "mutate --ap" "inspect --ra" "login --password-" "ls --cr" "convert --cr" "digest --in" "mut" "logo"; do
  COMP_WORDS=(imgtool $w); COMP_CWORD=$((${#COMP_WORDS[@]}-1)); _imgtool; echo "${COMPREPLY[*]}"
done`).CombinedOutput()
	if err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	want := "--append\n--raw\n--password-stdin\n--creds\n--creds\n--insecure\nmutate\nlogout\n"
	if string(out) != want {
		t.Errorf("completions = %q, want %q", out, want)
	}
	for _, sh := range []string{"zsh", "fish"} {
		s := dockertest.MustImgtool(t, "completion", sh)
		for _, w := range []string{"mutate", "digest", "manifest", "login", "logout", "password-stdin", "append"} {
			if !strings.Contains(s, w) {
				t.Errorf("%s completion lacks %s", sh, w)
			}
		}
	}
}

// A two-platform index in a registry: digest and manifest are the
// index's, inspect and config take the host's image or --platform's, as
// skopeo (with --override-arch) does.
func TestVerbsIndexMatchSkopeo(t *testing.T) {
	store, host := pushedFixture(t)
	lay := filepath.Join(t.TempDir(), "multi")
	skopeoOut(t, "copy", "--src-tls-verify=false", "docker://"+host+"/team/app:1", "oci:"+lay)
	twoPlatformLayout(t, lay)
	ref := host + "/team/multi:1"
	dockertest.MustImgtool(t, "--root", store, "convert", "-q", "oci:"+lay+":latest", "docker://"+ref)
	loc := "docker://" + ref
	raw := skopeoOut(t, "inspect", "--tls-verify=false", "--raw", loc)
	if !strings.Contains(string(raw), "image.index") {
		t.Fatalf("the registry holds no index: %s", raw)
	}
	if got := strings.TrimSpace(imgtoolOut(t, "digest", loc)); got != digestOf(raw) {
		t.Errorf("digest of the index: imgtool %s, sha256 of skopeo's raw %s", got, digestOf(raw))
	}
	if got := imgtoolOut(t, "manifest", loc); got != string(raw) {
		t.Errorf("manifest of the index differs from skopeo inspect --raw")
	}
	var idx struct {
		Manifests []struct {
			Digest   string
			Platform struct{ Architecture string }
		}
	}
	if err := json.Unmarshal(raw, &idx); err != nil {
		t.Fatal(err)
	}
	hostManifest := ""
	for _, m := range idx.Manifests {
		if m.Platform.Architecture == runtime.GOARCH {
			hostManifest = m.Digest
		}
	}
	if hostManifest == "" {
		t.Skipf("the fixture index has no %s image", runtime.GOARCH)
	}
	compareInspect(t, imgtoolOut(t, "inspect", loc), skopeoOut(t, "inspect", "--tls-verify=false", loc),
		skopeoOut(t, "inspect", "--tls-verify=false", "--raw", "docker://"+host+"/team/multi@"+hostManifest))
	for _, arch := range []string{"amd64", "arm64"} {
		want := skopeoOut(t, "--override-arch", arch, "--override-os", "linux", "inspect", "--tls-verify=false", "--config", "--raw", loc)
		if got := imgtoolOut(t, "config", "--platform", "linux/"+arch, loc); got != string(want) {
			t.Errorf("config --platform linux/%s differs from skopeo --override-arch %s", arch, arch)
		}
	}
}

// A TLS registry whose CA is not trusted: the verbs refuse it with the
// certificate named, and --insecure (skopeo's --tls-verify=false) or
// --cert-dir reach it, as for push and pull.
func TestVerbsTLSInsecure(t *testing.T) {
	dockertest.Require(t, "skopeo")
	pki := dockertest.NewPKI(t)
	reg := startDistribution(t, distOpts{tls: pki.Issue(t, "registry", dockertest.ServerCert)})
	certs := filepath.Join(t.TempDir(), "certs")
	pki.CertsDir(t, certs, nil)
	isolateDockerConfig(t, nil)
	store := newStore(t)
	arch := filepath.Join(t.TempDir(), "tls.tar")
	writeArchive(t, arch, synthThree(t, "tls:1", "tls"))
	dockertest.MustImgtool(t, "--root", store, "load", "-i", arch)
	loc := "docker://" + reg.host + "/tls/app:1"
	dockertest.MustImgtool(t, "--root", store, "push", "-q", "--cert-dir", certs, "tls:1", reg.host+"/tls/app:1")
	r := dockertest.Imgtool(t, "digest", loc)
	if r.OK() || !strings.Contains(r.Stderr, "certificate") {
		t.Errorf("digest of an untrusted TLS registry: %s", r)
	}
	oneLine(t, "digest, untrusted TLS", r)
	var doc map[string]any
	if err := json.Unmarshal(skopeoOut(t, "inspect", "--tls-verify=false", loc), &doc); err != nil {
		t.Fatal(err)
	}
	for _, flag := range []string{"--insecure", "--cert-dir=" + certs} {
		if got := strings.TrimSpace(imgtoolOut(t, "digest", flag, loc)); got != doc["Digest"] {
			t.Errorf("digest %s: %s, skopeo %s", flag, got, doc["Digest"])
		}
		if got := strings.TrimSpace(imgtoolOut(t, "ls", flag, reg.host+"/tls/app")); got != "1" {
			t.Errorf("ls %s: %q", flag, got)
		}
	}
}
