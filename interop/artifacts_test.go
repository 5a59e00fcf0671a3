package interop

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/imgtool/imgtool/internal/dockertest"
)

// OCI artifacts (signatures, SBOMs, referrers, empty-config manifests,
// indexes of them) are carried unchanged between OCI locations, as
// `skopeo copy --all` does, and skipped with a line by every other sink.

// layoutIndex is an OCI layout's index.json entries, each as canonical
// JSON (sorted keys), sorted.
func layoutIndex(t *testing.T, dir string) []string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "index.json"))
	if err != nil {
		t.Fatal(err)
	}
	var idx struct {
		Manifests []map[string]any `json:"manifests"`
	}
	if err := json.Unmarshal(b, &idx); err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, m := range idx.Manifests {
		c, _ := json.Marshal(m) // map keys are marshalled sorted
		out = append(out, string(c))
	}
	sort.Strings(out)
	return out
}

// layoutBlobs maps each blob of a layout to its bytes' digest.
func layoutBlobs(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	ents, err := os.ReadDir(filepath.Join(dir, "blobs", "sha256"))
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		b, err := os.ReadFile(filepath.Join(dir, "blobs", "sha256", e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		out[e.Name()] = digestOf(b)
	}
	return out
}

func topDigest(t *testing.T, dir string) string {
	t.Helper()
	var idx struct {
		Manifests []struct{ Digest string } `json:"manifests"`
	}
	b, err := os.ReadFile(filepath.Join(dir, "index.json"))
	if err != nil || json.Unmarshal(b, &idx) != nil || len(idx.Manifests) != 1 {
		t.Fatalf("%s/index.json: %v %s", dir, err, b)
	}
	return idx.Manifests[0].Digest
}

// TestArtifactsCarriedLikeSkopeo: for refs of regclient's testrepo that
// are artifacts, indexes of artifacts, referrer indexes and images with
// attestations, and for image-spec's valid examples, `imgtool convert
// SRC:REF oci:DST:x` (directly and through an oci-archive) writes the
// index.json entry and the blob set `skopeo copy --all --preserve-digests`
// writes, every blob the source's bytes. skopeo 1.9.3 rewrites or refuses
// an index whose descriptors carry artifactType or a media type it does
// not know (its image-spec predates them); there imgtool keeps the
// source's bytes, as regclient does, and the test says so.
func TestArtifactsCarriedLikeSkopeo(t *testing.T) {
	dockertest.Require(t, "skopeo")
	repo := peerFixture(t, "regclient/testrepo")
	for _, ref := range []string{"a1", "a2", "a3", "ai", "loop", "v1", "v3", "mirror", "child", "a-docker-oci",
		"sha256-7e87ffc91b9ceafa85be2777b16b1be10e4664fd4f3acc86e4295b97da5163ba"} {
		compareWithSkopeo(t, "oci:"+repo+":"+ref, layoutBlobs(t, repo))
	}
	dir := peerFixture(t, "imagespec")
	for _, c := range []string{"manifest-03", "manifest-07", "manifest-10", "manifest-11", "index-06", "index-07",
		"index-08", "index-09", "index-10", "config-07", "mixed-image-and-artifact"} {
		tarPath := filepath.Join(dir, "ispec-"+c+".tar")
		src := filepath.Join(t.TempDir(), "src")
		dockertest.MustImgtool(t, "convert", "oci-archive:"+tarPath, "oci:"+src) // whole: the source's blobs
		ref := "1.0"
		if c == "mixed-image-and-artifact" {
			ref = "sbom"
		}
		compareWithSkopeo(t, "oci-archive:"+tarPath+":"+ref, layoutBlobs(t, src))
	}
}

// compareWithSkopeo copies src (TRANSPORT:PATH:REF) to oci:…:x with
// skopeo and with imgtool (and through an oci-archive) and compares.
func compareWithSkopeo(t *testing.T, src string, srcBlobs map[string]string) {
	t.Helper()
	tmp := t.TempDir()
	sk, im, rt := filepath.Join(tmp, "skopeo"), filepath.Join(tmp, "imgtool"), filepath.Join(tmp, "roundtrip")
	dockertest.MustImgtool(t, "convert", src, "oci:"+im+":x")
	dockertest.MustImgtool(t, "convert", src, "oci-archive:"+filepath.Join(tmp, "a.tar")+":x")
	dockertest.MustImgtool(t, "convert", "oci-archive:"+filepath.Join(tmp, "a.tar"), "oci:"+rt)
	imBlobs := layoutBlobs(t, im)
	for name, sum := range imBlobs {
		if srcBlobs[name] != sum || "sha256:"+name != sum {
			t.Errorf("%s: blob %s is not the source's bytes", src, name)
		}
	}
	imTop := topDigest(t, im)
	if _, ok := srcBlobs[strings.TrimPrefix(imTop, "sha256:")]; !ok {
		t.Errorf("%s: imgtool wrote %s, not the source's manifest", src, imTop)
	}
	out, err := runCmd("skopeo", "copy", "-q", "--all", "--preserve-digests", src, "oci:"+sk+":x")
	switch {
	case err != nil && strings.Contains(out, "cannot modify it"):
		t.Logf("%s: skopeo 1.9.3 cannot copy it unchanged (%s); imgtool kept the source's %s", src, strings.TrimSpace(out), imTop)
	case err != nil:
		t.Fatalf("skopeo copy %s: %v\n%s", src, err, out)
	default:
		skBlobs := layoutBlobs(t, sk)
		if skTop := topDigest(t, sk); skTop != imTop {
			t.Errorf("%s: imgtool wrote %s, skopeo %s", src, imTop, skTop)
		}
		if got, want := entryCore(t, im), entryCore(t, sk); !equalStrings(got, want) {
			t.Errorf("%s: index.json entries\nimgtool %q\nskopeo  %q", src, got, want)
		}
		if !equalStrings(sortedKeys(imBlobs), sortedKeys(skBlobs)) {
			t.Errorf("%s: blob sets differ\nimgtool %q\nskopeo  %q", src, sortedKeys(imBlobs), sortedKeys(skBlobs))
		}
	}
	if got, want := layoutIndex(t, rt), layoutIndex(t, im); !equalStrings(got, want) {
		t.Errorf("%s: through oci-archive the entries are %q, directly %q", src, got, want)
	}
	if !equalStrings(sortedKeys(layoutBlobs(t, rt)), sortedKeys(imBlobs)) {
		t.Errorf("%s: through oci-archive the blob set differs", src)
	}
}

// entryCore is the fields of each index.json entry skopeo writes:
// mediaType, digest, size and the ref name (imgtool also keeps the
// source entry's artifactType, platform and other annotations).
func entryCore(t *testing.T, dir string) []string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "index.json"))
	if err != nil {
		t.Fatal(err)
	}
	var idx struct {
		Manifests []struct {
			MediaType   string            `json:"mediaType"`
			Digest      string            `json:"digest"`
			Size        int64             `json:"size"`
			Annotations map[string]string `json:"annotations"`
		} `json:"manifests"`
	}
	if err := json.Unmarshal(b, &idx); err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, m := range idx.Manifests {
		out = append(out, strings.Join([]string{m.MediaType, m.Digest, fmt.Sprint(m.Size), m.Annotations["org.opencontainers.image.ref.name"]}, " "))
	}
	sort.Strings(out)
	return out
}

func sortedKeys(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// TestWholeLayoutCarriesArtifacts: convert of all of regclient's testrepo
// (no :REF, which skopeo cannot copy) writes the same index.json entries
// (annotations, artifactType, platform) and the same blobs as the source.
func TestWholeLayoutCarriesArtifacts(t *testing.T) {
	repo := peerFixture(t, "regclient/testrepo")
	out := filepath.Join(t.TempDir(), "out")
	r := dockertest.Imgtool(t, "convert", "oci:"+repo, "oci:"+out)
	if r.Code != 0 || strings.Contains(r.Stderr, "skipping") {
		t.Fatalf("convert: %s", r)
	}
	if got, want := layoutIndex(t, out), layoutIndex(t, repo); !equalStrings(got, want) {
		t.Errorf("index.json entries\n got %q\nwant %q", got, want)
	}
	src, dst := layoutBlobs(t, repo), layoutBlobs(t, out)
	if !equalStrings(sortedKeys(dst), sortedKeys(src)) {
		t.Errorf("blob sets differ: got %d, source %d", len(dst), len(src))
	}
	for n, sum := range dst {
		if src[n] != sum {
			t.Errorf("blob %s differs from the source's", n)
		}
	}
	// image-spec's mixed layout: the image and the empty-config artifact
	// both travel; the store takes the image and says what it skipped.
	mixed := peerFixture(t, "imagespec/ispec-mixed-image-and-artifact.tar")
	m := filepath.Join(t.TempDir(), "m")
	dockertest.MustImgtool(t, "convert", "oci-archive:"+mixed, "oci:"+m)
	if n := len(layoutIndex(t, m)); n != 2 {
		t.Errorf("mixed layout: %d entries written, want the image and the artifact", n)
	}
	store := newStore(t)
	l := dockertest.Imgtool(t, "--root", store, "load", "-i", "oci:"+m)
	if l.Code != 0 || !strings.Contains(l.Stderr, "skipping sha256:56d059c0dc60") {
		t.Errorf("load of the mixed layout: %s", l)
	}
}

// TestArtifactsSkippedByImageSinks: a docker-archive or the store does not
// take an artifact: naming one fails with one line saying so, the store
// unchanged; a load of the whole testrepo takes its images and names
// every artifact and artifact-only index it skipped.
func TestArtifactsSkippedByImageSinks(t *testing.T) {
	repo := peerFixture(t, "regclient/testrepo")
	store := newStore(t)
	before := dockertest.StoreListing(store)
	for _, args := range [][]string{
		{"convert", "oci:" + repo + ":a1", "docker-archive:" + filepath.Join(t.TempDir(), "a.tar")},
		{"--root", store, "load", "-i", "oci:" + repo + ":ai"},
		{"--root", store, "load", "-i", "oci:" + repo + ":a1"},
	} {
		r := dockertest.Imgtool(t, args...)
		if r.Code == 0 {
			t.Errorf("%v: exit 0", args)
			continue
		}
		oneLine(t, strings.Join(args, " "), r)
		if !strings.Contains(r.Stderr, "artifact") {
			t.Errorf("%v: %s", args, r.Stderr)
		}
	}
	if d := dockertest.ListingDiff(before, dockertest.StoreListing(store)); d != "" {
		t.Errorf("refused loads changed the store:\n%s", d)
	}
	r := dockertest.Imgtool(t, "--root", store, "load", "-i", "oci:"+repo)
	if r.Code != 0 {
		t.Fatalf("load of the whole testrepo: %s", r)
	}
	for _, want := range []string{"(ai): it holds only artifacts", "(loop): it holds only artifacts", "skipping sha256:0484e93c23cd"} {
		if !strings.Contains(r.Stderr, want) {
			t.Errorf("load stderr lacks %q:\n%s", want, r.Stderr)
		}
	}
}

// TestInvalidOCIDocumentsAreNotLoaded: every document image-spec's schema
// tests call invalid is refused by load (one line naming the field, store
// unchanged), by convert and by verify; every valid image document loads,
// except manifest-06, whose sha256+b64 digests are valid by the grammar
// but cannot be verified (skopeo fails on it too). manifest-05 (no layer)
// is the one deliberate deviation: loaded, with a verify warning.
func TestInvalidOCIDocumentsAreNotLoaded(t *testing.T) {
	dir := peerFixture(t, "imagespec")
	f, err := os.Open(filepath.Join(dir, "cases.tsv"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	store := newStore(t)
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		cols := strings.Split(sc.Text(), "\t")
		name, verdict := cols[0], cols[1]
		tarPath := filepath.Join(dir, name+".tar")
		before := dockertest.StoreListing(store)
		l := dockertest.Imgtool(t, "--root", store, "load", "-i", tarPath)
		v := dockertest.Imgtool(t, "verify", "oci-archive:"+tarPath)
		switch {
		case name == "ispec-manifest-05":
			// invalid by the schema only for having no layer, which Docker,
			// BuildKit and ggcr write for config-only images: loaded, and
			// verify says what the schema would refuse
			if l.Code != 0 || v.Code != 0 || !strings.Contains(v.Stdout, "WARNING") || !strings.Contains(v.Stdout, "no layer") {
				t.Errorf("%s: a zero-layer manifest: load %s\nverify %s", name, l, v)
			}
		case verdict == "invalid":
			if l.Code == 0 || v.Code == 0 {
				t.Errorf("%s (%s): load exit %d, verify exit %d", name, cols[3], l.Code, v.Code)
			}
			oneLine(t, name, l)
			if d := dockertest.ListingDiff(before, dockertest.StoreListing(store)); d != "" {
				t.Errorf("%s: refused load changed the store:\n%s", name, d)
			}
			c := dockertest.Imgtool(t, "convert", "oci-archive:"+tarPath, "oci:"+filepath.Join(t.TempDir(), "x"))
			if c.Code == 0 {
				t.Errorf("%s: convert of an invalid document exit 0", name)
			}
		case name == "ispec-manifest-06":
			if l.Code == 0 || !strings.Contains(l.Stderr, `algorithm "sha256+b64" is not one imgtool can verify`) {
				t.Errorf("%s: %s", name, l)
			}
		case name == "ispec-manifest-10" || name == "ispec-manifest-11" || name == "ispec-index-08":
			// valid artifacts (and an index of a custom media type): nothing
			// to load, but an OCI sink carries them
			c := dockertest.Imgtool(t, "convert", "oci-archive:"+tarPath, "oci:"+filepath.Join(t.TempDir(), "x"))
			if c.Code != 0 {
				t.Errorf("%s: convert of a valid artifact: %s", name, c)
			}
		default:
			if l.Code != 0 || v.Code != 0 {
				t.Errorf("%s (valid): load %s; verify %s", name, l, v)
			}
		}
	}
}

// TestArtifactBlobsAreVerified: verify re-hashes an artifact's blobs, and
// a carried artifact whose blob no longer matches its digest fails the
// convert naming it, as a layer would.
func TestArtifactBlobsAreVerified(t *testing.T) {
	repo := filepath.Join(t.TempDir(), "repo")
	if out, err := runCmd("cp", "-r", peerFixture(t, "regclient/testrepo"), repo); err != nil {
		t.Fatalf("cp: %v %s", err, out)
	}
	ok := dockertest.Imgtool(t, "verify", "oci:"+repo+":a1")
	if ok.Code != 0 || !strings.Contains(ok.Stdout, "2 blob(s) re-hashed ok") {
		t.Fatalf("verify of a1: %s", ok)
	}
	man, err := os.ReadFile(filepath.Join(repo, "blobs", "sha256", "0484e93c23cddf24a8400547119558312023295af241d4cd1eaf1b27145c5026"))
	if err != nil {
		t.Fatal(err)
	}
	var m struct {
		Layers []struct{ Digest string } `json:"layers"`
	}
	if err := json.Unmarshal(man, &m); err != nil || len(m.Layers) == 0 {
		t.Fatalf("a1's manifest: %v", err)
	}
	blob := filepath.Join(repo, "blobs", "sha256", strings.TrimPrefix(m.Layers[0].Digest, "sha256:"))
	b, err := os.ReadFile(blob)
	if err != nil {
		t.Fatal(err)
	}
	b[0] ^= 0xff
	if err := os.WriteFile(blob, b, 0o644); err != nil {
		t.Fatal(err)
	}
	bad := dockertest.Imgtool(t, "verify", "oci:"+repo+":a1")
	if bad.Code == 0 || !strings.Contains(bad.Stderr, m.Layers[0].Digest) {
		t.Errorf("verify of a corrupted artifact blob: %s", bad)
	}
	c := dockertest.Imgtool(t, "convert", "oci:"+repo+":a1", "oci:"+filepath.Join(t.TempDir(), "out"))
	if c.Code == 0 || !strings.Contains(c.Stderr, m.Layers[0].Digest) {
		t.Errorf("convert of a corrupted artifact blob: %s", c)
	}
}

// TestRegistryManifestsAreValidated: the registry reader runs the same
// validation: image-spec's invalid manifest-00 (a config media type that
// is no type/subtype), pushed by skopeo, which does not validate, is
// refused by pull with one line; the valid manifest-04 and the zero-layer
// manifest-05 (read as Docker reads it) pull.
func TestRegistryManifestsAreValidated(t *testing.T) {
	dockertest.Require(t, "skopeo", "docker-registry")
	reg := startRegistry(t, "", "")
	isolateDockerConfig(t, nil)
	for _, tc := range []struct {
		name  string
		valid bool
	}{{"ispec-manifest-00", false}, {"ispec-manifest-05", true}, {"ispec-manifest-04", true}} {
		ref := reg.host + "/ispec/" + strings.TrimPrefix(tc.name, "ispec-") + ":1"
		if out, err := runCmd("skopeo", "copy", "-q", "--dest-tls-verify=false", "oci-archive:"+peerFixture(t, "imagespec/"+tc.name+".tar"), "docker://"+ref); err != nil {
			t.Fatalf("skopeo copy %s: %v\n%s", tc.name, err, out)
		}
		store := newStore(t)
		before := dockertest.StoreListing(store)
		r := dockertest.Imgtool(t, "--root", store, "pull", ref)
		if tc.valid {
			if r.Code != 0 {
				t.Errorf("%s: pull of a valid manifest: %s", tc.name, r)
			}
			continue
		}
		if r.Code == 0 || !strings.Contains(r.Stderr, "invalid by the OCI image-spec schema") {
			t.Errorf("%s: pull of an invalid manifest: %s", tc.name, r)
		}
		oneLine(t, tc.name, r)
		if d := dockertest.ListingDiff(before, dockertest.StoreListing(store)); d != "" {
			t.Errorf("%s: refused pull changed the store:\n%s", tc.name, d)
		}
	}
}
