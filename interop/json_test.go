package interop

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/imgtool/imgtool/internal/dockertest"
)

// jsonResult is the common --json document of docs/json.md.
type jsonResult struct {
	Command string `json:"command"`
	Images  []struct {
		ID        string   `json:"id"`
		Tags      []string `json:"tags"`
		DiffIDs   []string `json:"diff_ids"`
		ChainIDs  []string `json:"chain_ids"`
		Platform  string   `json:"platform"`
		Digest    string   `json:"digest"`
		Platforms []string `json:"platforms"`
	} `json:"images"`
	Output   string   `json:"output"`
	Format   string   `json:"format"`
	Bytes    int64    `json:"bytes"`
	SHA256   string   `json:"sha256"`
	OK       *bool    `json:"ok"`
	Layers   int      `json:"layers"`
	Problems []string `json:"problems"`
	Warnings []string `json:"warnings"`
	Duration *float64 `json:"duration_seconds"`
}

func decodeResult(t *testing.T, what, s string) jsonResult {
	t.Helper()
	var r jsonResult
	dec := json.NewDecoder(strings.NewReader(s))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&r); err != nil {
		t.Fatalf("%s --json does not match docs/json.md: %v\n%s", what, err, s)
	}
	if r.Duration == nil {
		t.Fatalf("%s --json lacks duration_seconds", what)
	}
	for _, im := range r.Images {
		if len(im.DiffIDs) != len(im.ChainIDs) {
			t.Fatalf("%s: diff_ids and chain_ids differ in length", what)
		}
	}
	return r
}

func TestJSONResults(t *testing.T) {
	st := newStore(t)
	dockertest.MustImgtool(t, "--root", st, "load", "-q", "-i", sampleArchive(t))
	tmp := t.TempDir()
	rootfs := filepath.Join(tmp, "rootfs.tar")
	dockertest.MustImgtool(t, "--root", st, "export", "-o", rootfs, "arch-fix/base:1")

	r := decodeResult(t, "import", dockertest.MustImgtool(t, "--root", st, "import", "--json", rootfs, "imp:1"))
	if r.Command != "import" || len(r.Images) != 1 || r.Images[0].Tags[0] != "imp:1" || len(r.Images[0].DiffIDs) != 1 {
		t.Fatalf("import: %+v", r)
	}
	id := strings.TrimSpace(dockertest.MustImgtool(t, "--root", st, "create", "--name", "j", "imp:1"))
	if len(id) != 64 {
		t.Fatalf("create printed %q", id)
	}
	r = decodeResult(t, "commit", dockertest.MustImgtool(t, "--root", st, "commit", "--json", "-c", "ENV X=1", "j", "imp:2"))
	if r.Command != "commit" || r.Images[0].Tags[0] != "imp:2" {
		t.Fatalf("commit: %+v", r)
	}
	r = decodeResult(t, "export", dockertest.MustImgtool(t, "--root", st, "export", "--json", "-o", filepath.Join(tmp, "e.tar"), "j"))
	if r.Command != "export" || r.Bytes == 0 || !strings.HasPrefix(r.SHA256, "sha256:") {
		t.Fatalf("export: %+v", r)
	}
	r = decodeResult(t, "flatten", dockertest.MustImgtool(t, "--root", st, "flatten", "--json", "-t", "flat:1", "arch-fix/app:2"))
	if r.Command != "flatten" || len(r.Images) != 1 || len(r.Images[0].DiffIDs) != 1 {
		t.Fatalf("flatten: %+v", r)
	}
	r = decodeResult(t, "convert", dockertest.MustImgtool(t, "--root", st, "convert", "--json", "arch-fix/app:2", "oci:"+filepath.Join(tmp, "lay")))
	if r.Command != "convert" || len(r.Images) != 1 || r.Images[0].ID == "" {
		t.Fatalf("convert: %+v", r)
	}
	r = decodeResult(t, "verify", dockertest.MustImgtool(t, "--root", st, "verify", "--json", "oci:"+filepath.Join(tmp, "lay")))
	if r.Command != "verify" || r.OK == nil || !*r.OK || r.Layers != 2 {
		t.Fatalf("verify: %+v", r)
	}
}
