package interop

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/imgtool/imgtool/internal/dockertest"
)

// A registry is an OCI location too: OCI artifacts (signatures, SBOMs,
// referrers, empty-config manifests, indexes of them and of images) are
// pushed to it and read from it unchanged, as `skopeo copy --all
// --preserve-digests` does, and skipped with a line by the store.

// rawManifest is the manifest bytes skopeo reads at ref (any transport).
func rawManifest(t *testing.T, ref string) string {
	t.Helper()
	args := []string{"inspect", "--raw", ref}
	if strings.HasPrefix(ref, "docker://") {
		args = []string{"inspect", "--raw", "--tls-verify=false", ref}
	}
	out, err := runCmd("skopeo", args...)
	if err != nil {
		t.Fatalf("skopeo inspect --raw %s: %v\n%s", ref, err, out)
	}
	return out
}

// registryArtifactSources are sources of artifacts, indexes of artifacts,
// referrer indexes and images, each with the blobs of its layout.
func registryArtifactSources(t *testing.T) map[string]map[string]string {
	t.Helper()
	repo := peerFixture(t, "regclient/testrepo")
	repoBlobs := layoutBlobs(t, repo)
	srcs := map[string]map[string]string{}
	for _, ref := range []string{"a1", "a2", "a3", "ai", "loop", "v1", "v3", "mirror", "child", "a-docker-oci",
		"sha256-dfae8f425735a5e3a72e40d6609e03079995511d48157c74d54801ff4430491e"} {
		srcs["oci:"+repo+":"+ref] = repoBlobs
	}
	dir := peerFixture(t, "imagespec")
	// (not their images: a push gzips uncompressed layers, see
	// TestRegistryIndexKeepsSubject)
	for _, c := range []string{"manifest-10", "manifest-11"} {
		tarPath := filepath.Join(dir, "ispec-"+c+".tar")
		whole := filepath.Join(t.TempDir(), "src")
		dockertest.MustImgtool(t, "convert", "oci-archive:"+tarPath, "oci:"+whole)
		srcs["oci-archive:"+tarPath+":1.0"] = layoutBlobs(t, whole)
	}
	return srcs
}

// TestArtifactsPushedLikeSkopeo: `imgtool convert SRC docker://…` of an
// artifact or an index holding artifacts puts the source's manifest bytes
// in the registry, the bytes `skopeo copy --all --preserve-digests` of the
// same source puts there; imgtool reads them back into a layout with the
// entries and blobs skopeo's own copy back writes, every blob the
// source's bytes; a registry to registry convert keeps the bytes too.
func TestArtifactsPushedLikeSkopeo(t *testing.T) {
	dockertest.Require(t, "skopeo", "docker-registry")
	reg := startRegistry(t, "", "")
	isolateDockerConfig(t, nil)
	n := 0
	for src, srcBlobs := range registryArtifactSources(t) {
		n++
		want := rawManifest(t, src)
		im, sk, rr := fmt.Sprintf("%s/im/a%d:1", reg.host, n), fmt.Sprintf("%s/sk/a%d:1", reg.host, n), fmt.Sprintf("%s/rr/a%d:1", reg.host, n)
		dockertest.MustImgtool(t, "convert", src, "docker://"+im)
		if got := rawManifest(t, "docker://"+im); got != want {
			t.Errorf("%s: the registry holds %s, not the source's manifest %s", src, digestOf([]byte(got)), digestOf([]byte(want)))
		}
		out, err := runCmd("skopeo", "copy", "-q", "--all", "--preserve-digests", "--dest-tls-verify=false", src, "docker://"+sk)
		switch {
		case err != nil && strings.Contains(out, "cannot modify it"):
			t.Logf("%s: skopeo 1.9.3 cannot push it unchanged (%s); imgtool pushed the source's bytes", src, strings.TrimSpace(out))
		case err != nil:
			t.Fatalf("skopeo copy %s: %v\n%s", src, err, out)
		default:
			if got := rawManifest(t, "docker://"+sk); got != want {
				t.Errorf("%s: skopeo pushed %s, the source is %s", src, digestOf([]byte(got)), digestOf([]byte(want)))
			}
		}
		pullBackLikeSkopeo(t, src, "docker://"+im, srcBlobs)
		dockertest.MustImgtool(t, "convert", "docker://"+im, "docker://"+rr)
		if got := rawManifest(t, "docker://"+rr); got != want {
			t.Errorf("%s: registry to registry wrote %s, not %s", src, digestOf([]byte(got)), digestOf([]byte(want)))
		}
	}
}

// TestRegistryIndexKeepsSubject: image-spec's indexes with artifactType
// and with a subject name images whose uncompressed layers a push gzips,
// so the index is rewritten around the new manifests; it keeps its
// subject and artifactType, and reads back whole.
func TestRegistryIndexKeepsSubject(t *testing.T) {
	dockertest.Require(t, "skopeo", "docker-registry")
	reg := startRegistry(t, "", "")
	isolateDockerConfig(t, nil)
	type doc struct {
		ArtifactType string          `json:"artifactType"`
		Subject      json.RawMessage `json:"subject"`
		Manifests    []struct {
			Digest string `json:"digest"`
		} `json:"manifests"`
	}
	for _, c := range []string{"index-09", "index-10"} {
		src := "oci-archive:" + peerFixture(t, "imagespec/ispec-"+c+".tar") + ":1.0"
		ref := reg.host + "/subject/" + c + ":1"
		dockertest.MustImgtool(t, "convert", src, "docker://"+ref)
		var want, got doc
		if err := json.Unmarshal([]byte(rawManifest(t, src)), &want); err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal([]byte(rawManifest(t, "docker://"+ref)), &got); err != nil {
			t.Fatal(err)
		}
		var wantSubj, gotSubj any
		_ = json.Unmarshal(want.Subject, &wantSubj)
		_ = json.Unmarshal(got.Subject, &gotSubj)
		if got.ArtifactType != want.ArtifactType || fmt.Sprint(gotSubj) != fmt.Sprint(wantSubj) || len(got.Manifests) != len(want.Manifests) {
			t.Errorf("%s: pushed index %+v, source %+v", c, got, want)
		}
		back := filepath.Join(t.TempDir(), "back")
		dockertest.MustImgtool(t, "convert", "docker://"+ref, "oci:"+back+":x")
		if top := topDigest(t, back); top != rawDigest(t, "docker://"+ref) {
			t.Errorf("%s: read back as %s, the registry holds %s", c, top, rawDigest(t, "docker://"+ref))
		}
	}
}

// pullBackLikeSkopeo reads ref into a layout with imgtool and with
// skopeo and compares the two with each other and with the source.
func pullBackLikeSkopeo(t *testing.T, src, ref string, srcBlobs map[string]string) {
	t.Helper()
	tmp := t.TempDir()
	im, sk := filepath.Join(tmp, "imgtool"), filepath.Join(tmp, "skopeo")
	dockertest.MustImgtool(t, "convert", ref, "oci:"+im+":x")
	imBlobs := layoutBlobs(t, im)
	for name, sum := range imBlobs {
		if srcBlobs[name] != sum || "sha256:"+name != sum {
			t.Errorf("%s: pulled back, blob %s is not the source's bytes", src, name)
		}
	}
	if out, err := runCmd("skopeo", "copy", "-q", "--all", "--preserve-digests", "--src-tls-verify=false", ref, "oci:"+sk+":x"); err != nil {
		t.Logf("%s: skopeo 1.9.3 cannot copy it back unchanged: %s", src, strings.TrimSpace(out))
		return
	}
	if got, want := entryCore(t, im), entryCore(t, sk); !equalStrings(got, want) {
		t.Errorf("%s: pulled back, index.json entries\nimgtool %q\nskopeo  %q", src, got, want)
	}
	if got, want := sortedKeys(imBlobs), sortedKeys(layoutBlobs(t, sk)); !equalStrings(got, want) {
		t.Errorf("%s: pulled back, blob sets differ\nimgtool %q\nskopeo  %q", src, got, want)
	}
}

// mixedLayout is a copy of regclient's testrepo with one more index,
// "mixed": v1's linux/amd64 image beside the artifact a1.
func mixedLayout(t *testing.T) string {
	t.Helper()
	repo := filepath.Join(t.TempDir(), "repo")
	if out, err := runCmd("cp", "-r", peerFixture(t, "regclient/testrepo"), repo); err != nil {
		t.Fatalf("cp: %v\n%s", err, out)
	}
	var top struct {
		SchemaVersion int              `json:"schemaVersion"`
		MediaType     string           `json:"mediaType,omitempty"`
		Manifests     []map[string]any `json:"manifests"`
	}
	readJSON(t, filepath.Join(repo, "index.json"), &top)
	entry := func(ref string) map[string]any {
		for _, m := range top.Manifests {
			if a, _ := m["annotations"].(map[string]any); a["org.opencontainers.image.ref.name"] == ref {
				return m
			}
		}
		t.Fatalf("testrepo has no %s", ref)
		return nil
	}
	var v1 struct {
		Manifests []map[string]any `json:"manifests"`
	}
	readJSON(t, filepath.Join(repo, "blobs", strings.Replace(entry("v1")["digest"].(string), ":", "/", 1)), &v1)
	art := map[string]any{}
	for k, v := range entry("a1") {
		if k != "annotations" {
			art[k] = v
		}
	}
	idx, _ := json.Marshal(map[string]any{"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
		"manifests": []map[string]any{v1.Manifests[0], art}})
	d := digestOf(idx)
	writeFile(t, filepath.Join(repo, "blobs", "sha256", strings.TrimPrefix(d, "sha256:")), idx)
	top.Manifests = append(top.Manifests, map[string]any{"mediaType": "application/vnd.oci.image.index.v1+json", "digest": d,
		"size": len(idx), "annotations": map[string]string{"org.opencontainers.image.ref.name": "mixed"}})
	b, _ := json.Marshal(top)
	writeFile(t, filepath.Join(repo, "index.json"), b)
	return repo
}

func readJSON(t *testing.T, p string, v any) {
	t.Helper()
	b, err := os.ReadFile(p)
	if err == nil {
		err = json.Unmarshal(b, v)
	}
	if err != nil {
		t.Fatal(err)
	}
}

func writeFile(t *testing.T, p string, b []byte) {
	t.Helper()
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestRegistryIndexOfImageAndArtifact: an index holding an image and an
// artifact is pushed byte for byte and read back whole; a pull into the
// store takes the image; a pull of an artifact, or of an index of
// artifacts only, fails with one line naming it and leaves the store as
// it was.
func TestRegistryIndexOfImageAndArtifact(t *testing.T) {
	dockertest.Require(t, "skopeo", "docker-registry")
	reg := startRegistry(t, "", "")
	isolateDockerConfig(t, nil)
	repo := mixedLayout(t)
	src := "oci:" + repo + ":mixed"
	ref := reg.host + "/mixed/idx:1"
	dockertest.MustImgtool(t, "convert", src, "docker://"+ref)
	if got, want := rawManifest(t, "docker://"+ref), rawManifest(t, src); got != want {
		t.Fatalf("the registry holds %s, not the source's index %s", digestOf([]byte(got)), digestOf([]byte(want)))
	}
	pullBackLikeSkopeo(t, src, "docker://"+ref, layoutBlobs(t, repo))

	store := newStore(t)
	r := dockertest.Imgtool(t, "--root", store, "pull", "--platform", "linux/amd64", ref)
	if r.Code != 0 || !strings.Contains(r.Stderr, "skipping manifest "+rawDigest(t, "oci:"+repo+":a1")) {
		t.Fatalf("pull of an index of an image and an artifact: %s", r)
	}
	var amd64 struct {
		Config struct{ Digest string } `json:"config"`
	}
	if err := json.Unmarshal([]byte(rawManifest(t, "docker://"+reg.host+"/mixed/idx@"+firstChild(t, rawManifest(t, src)))), &amd64); err != nil {
		t.Fatal(err)
	}
	if id := strings.TrimSpace(dockertest.MustImgtool(t, "--root", store, "inspect", "--format", "{{.Id}}", ref)); id != amd64.Config.Digest {
		t.Errorf("pulled image is %s, the index's image has config %s", id, amd64.Config.Digest)
	}
	for _, tc := range []struct{ ref, names string }{
		{"a1", rawDigest(t, "oci:"+repo+":a1")},
		{"ai", rawDigest(t, "oci:"+repo+":ai")},
	} {
		pushed := reg.host + "/mixed/" + tc.ref + ":1"
		dockertest.MustImgtool(t, "convert", "oci:"+repo+":"+tc.ref, "docker://"+pushed)
		before := dockertest.StoreListing(store)
		r := dockertest.Imgtool(t, "--root", store, "pull", pushed)
		if r.Code == 0 || !strings.Contains(r.Stderr, tc.names) || !strings.Contains(r.Stderr, "artifact") {
			t.Errorf("pull of %s (artifacts only): %s", tc.ref, r)
		}
		oneLine(t, "pull "+tc.ref, r)
		if d := dockertest.ListingDiff(before, dockertest.StoreListing(store)); d != "" {
			t.Errorf("refused pull of %s changed the store:\n%s", tc.ref, d)
		}
	}
}

// firstChild is the digest of an index's first manifest.
func firstChild(t *testing.T, index string) string {
	t.Helper()
	var idx struct {
		Manifests []struct{ Digest string } `json:"manifests"`
	}
	if err := json.Unmarshal([]byte(index), &idx); err != nil || len(idx.Manifests) == 0 {
		t.Fatalf("index %q: %v", index, err)
	}
	return idx.Manifests[0].Digest
}

func rawDigest(t *testing.T, ref string) string { return digestOf([]byte(rawManifest(t, ref))) }

// TestRegistryRefusesManifestType: docker-registry 2.8 takes artifactType
// manifests and unknown config media types, but refuses a manifest media
// type it does not know (image-spec's index-08 names an
// application/customized.manifest+json; the OCI 1.1 rc artifact manifest),
// imgtool fails with one line naming the manifest.
func TestRegistryRefusesManifestType(t *testing.T) {
	dockertest.Require(t, "skopeo", "docker-registry")
	reg := startRegistry(t, "", "")
	isolateDockerConfig(t, nil)
	art := filepath.Join(t.TempDir(), "art")
	blob := []byte("an sbom")
	manifest := []byte(fmt.Sprintf(`{"mediaType":"application/vnd.oci.artifact.manifest.v1+json","artifactType":"application/example.sbom","blobs":[{"mediaType":"text/plain","digest":"%s","size":%d}]}`, digestOf(blob), len(blob)))
	if err := os.MkdirAll(filepath.Join(art, "blobs", "sha256"), 0o755); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(art, "oci-layout"), []byte(`{"imageLayoutVersion":"1.0.0"}`))
	for _, b := range [][]byte{blob, manifest} {
		writeFile(t, filepath.Join(art, "blobs", "sha256", strings.TrimPrefix(digestOf(b), "sha256:")), b)
	}
	writeFile(t, filepath.Join(art, "index.json"), []byte(fmt.Sprintf(`{"schemaVersion":2,"manifests":[{"mediaType":"application/vnd.oci.artifact.manifest.v1+json","digest":"%s","size":%d,"annotations":{"org.opencontainers.image.ref.name":"1.0"}}]}`, digestOf(manifest), len(manifest))))
	index08 := "oci-archive:" + peerFixture(t, "imagespec/ispec-index-08.tar") + ":1.0"
	var custom struct {
		Manifests []struct{ Digest string } `json:"manifests"`
	}
	if err := json.Unmarshal([]byte(rawManifest(t, index08)), &custom); err != nil || len(custom.Manifests) == 0 {
		t.Fatalf("index-08: %v", err)
	}
	for _, tc := range []struct{ src, refused string }{
		{index08, custom.Manifests[0].Digest},
		{"oci:" + art + ":1.0", digestOf(manifest)},
	} {
		r := dockertest.Imgtool(t, "convert", tc.src, "docker://"+reg.host+"/refused/im:1")
		if r.Code == 0 || !strings.Contains(r.Stderr, "manifest "+tc.refused) || !strings.Contains(r.Stderr, "refused") {
			t.Errorf("push of %s: %s", tc.src, r)
		}
		oneLine(t, tc.src, r)
		// skopeo 1.9.3 is no witness here: it cannot read the rc artifact
		// manifest, and will not push index-08 without changing it.
		out, err := runCmd("skopeo", "copy", "-q", "--all", "--dest-tls-verify=false", tc.src, "docker://"+reg.host+"/refused/sk:1")
		t.Logf("skopeo copy %s: %v %s", tc.src, err, strings.TrimSpace(out))
	}
}

// TestRegistryWholeLayout: a layout named without :REF (regclient's
// testrepo: images, indexes, artifacts, referrer indexes) is pushed as
// its index.json, byte for byte, and reads back with every blob of the
// source (skopeo cannot copy a layout without a ref).
func TestRegistryWholeLayout(t *testing.T) {
	dockertest.Require(t, "skopeo", "docker-registry")
	reg := startRegistry(t, "", "")
	isolateDockerConfig(t, nil)
	repo := peerFixture(t, "regclient/testrepo")
	ref := reg.host + "/whole/testrepo:1"
	dockertest.MustImgtool(t, "convert", "oci:"+repo, "docker://"+ref)
	want, err := os.ReadFile(filepath.Join(repo, "index.json"))
	if err != nil {
		t.Fatal(err)
	}
	if got := rawManifest(t, "docker://"+ref); got != string(want) {
		t.Fatalf("the registry holds %s, not the layout's index.json %s", digestOf([]byte(got)), digestOf(want))
	}
	back := filepath.Join(t.TempDir(), "back")
	dockertest.MustImgtool(t, "convert", "docker://"+ref, "oci:"+back+":x")
	src, got := layoutBlobs(t, repo), layoutBlobs(t, back)
	delete(got, strings.TrimPrefix(digestOf(want), "sha256:")) // index.json, now a blob
	if !equalStrings(sortedKeys(got), sortedKeys(src)) {
		t.Errorf("read back, blob sets differ: got %d, source %d", len(got), len(src))
	}
	for name, sum := range got {
		if src[name] != sum {
			t.Errorf("read back, blob %s is not the source's bytes", name)
		}
	}
}
