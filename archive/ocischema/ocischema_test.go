package ocischema

import (
	"archive/tar"
	"bufio"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// fixtureDir is ../shared/peer-fixtures/imagespec beside the checkout:
// every document of image-spec's schema tests wrapped into a layout tar,
// and cases.tsv with the verdict each upstream test asserts.
func fixtureDir(t *testing.T) string {
	t.Helper()
	d := filepath.Join("..", "..", "..", "shared", "peer-fixtures", "imagespec")
	if _, err := os.Stat(filepath.Join(d, "cases.tsv")); err != nil {
		if os.Getenv("IMGTOOL_REQUIRE_PEERS") == "1" {
			t.Fatalf("peer fixtures missing: %v", err)
		}
		t.Skipf("peer fixtures missing (../shared/peer-fixtures): %v", err)
	}
	return d
}

// wrapped returns the document a fixture tar wraps: the one index.json
// names (manifest and index cases), or the blob with the config digest
// cases.tsv gives (config cases).
func wrapped(t *testing.T, path, kind, configDigest string) []byte {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	files := map[string][]byte{}
	tr := tar.NewReader(f)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if h.Size < 1<<20 {
			b, _ := io.ReadAll(tr)
			files[strings.TrimPrefix(h.Name, "./")] = b
		}
	}
	if kind == "config" {
		return files["blobs/sha256/"+strings.TrimPrefix(configDigest, "sha256:")]
	}
	var top struct {
		Manifests []struct{ Digest string } `json:"manifests"`
	}
	if err := json.Unmarshal(files["index.json"], &top); err != nil || len(top.Manifests) != 1 {
		t.Fatalf("%s: index.json: %v", path, err)
	}
	return files["blobs/sha256/"+strings.TrimPrefix(top.Manifests[0].Digest, "sha256:")]
}

// TestImageSpecSchemaCases: each document of image-spec's schema tests
// gets the verdict the upstream test asserts.
func TestImageSpecSchemaCases(t *testing.T) {
	dir := fixtureDir(t)
	f, err := os.Open(filepath.Join(dir, "cases.tsv"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	n := 0
	for sc.Scan() {
		cols := strings.Split(sc.Text(), "\t")
		name, verdict, cfg := cols[0], cols[1], cols[2]
		kind := strings.Split(strings.TrimPrefix(name, "ispec-"), "-")[0]
		if kind == "mixed" {
			continue
		}
		n++
		doc := wrapped(t, filepath.Join(dir, name+".tar"), kind, cfg)
		if doc == nil {
			t.Fatalf("%s: wrapped document not found", name)
		}
		var err error
		switch kind {
		case "config":
			err = Config(doc)
		case "manifest":
			_, err = Manifest(doc, "application/vnd.oci.image.manifest.v1+json")
		case "index":
			_, err = Index(doc)
		}
		if name == "ispec-manifest-05" {
			// The one deliberate deviation: a manifest with no layer is what
			// Docker, BuildKit and ggcr write for a config-only image; it is
			// read, and verify warns (interop TestInvalidOCIDocumentsAreNotLoaded).
			verdict = "valid"
		}
		if (err == nil) != (verdict == "valid") {
			t.Errorf("%s: upstream says %s (%s), got err=%v", name, verdict, cols[3], err)
		}
		if err != nil && !errors.As(err, new(*Error)) {
			t.Errorf("%s: %v is not an *Error", name, err)
		}
	}
	if n < 30 {
		t.Fatalf("only %d cases read", n)
	}
}

// TestUnregisteredAlgorithmIsValidButUnverifiable: manifest-06's digests
// (sha256+b64:…) are valid by the grammar (image-spec's test expects a
// pass); CheckManifest still says imgtool cannot verify them.
func TestUnregisteredAlgorithmIsValidButUnverifiable(t *testing.T) {
	dir := fixtureDir(t)
	doc := wrapped(t, filepath.Join(dir, "ispec-manifest-06.tar"), "manifest", "")
	if _, err := Manifest(doc, ""); err != nil {
		t.Fatalf("valid by the schema, got %v", err)
	}
	err := CheckManifest(doc, "")
	if err == nil || !strings.Contains(err.Error(), `algorithm "sha256+b64" is not one imgtool can verify`) {
		t.Fatalf("CheckManifest: %v", err)
	}
	for _, d := range []string{"sha256+foo+-b:abc", "SHA256:abc", "sha256:abc"} {
		if Digest("d", d) == nil {
			t.Errorf("%s: accepted", d)
		}
	}
}
