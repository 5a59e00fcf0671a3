package reliability

import (
	"archive/tar"
	"bytes"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/imgtool/imgtool/internal/dockertest"
)

// hostileTags are names outside Docker's reference grammar (issue
// "Reliability round two", item 5); Docker refuses each of them in docker
// tag and as a RepoTags entry of docker load.
var hostileTags = []string{
	"../evil:1", "x:..", "../../etc/passwd:1", "a/../b:1", "./x:1", "/abs:1", "a//b:1", "a..b:1",
	"x:a/b", "x:1:2", "x y:1", "Bad:1", "x:-1", "x:.1", "x\n:1", "é:1", "a:",
	"x:" + strings.Repeat("t", 129), "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
	"x@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
}

// withRepoTags returns good.tar with its manifest's RepoTags replaced.
func withRepoTags(t *testing.T, tags []string) string {
	t.Helper()
	in, err := os.ReadFile(filepath.Join(badDir(t), "good.tar"))
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	tr, tw := tar.NewReader(bytes.NewReader(in)), tar.NewWriter(&out)
	found := false
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		if h.Name == "manifest.json" {
			var m []map[string]any
			if err := json.Unmarshal(b, &m); err != nil {
				t.Fatal(err)
			}
			m[0]["RepoTags"] = tags
			b, _ = json.Marshal(m)
			h.Size = int64(len(b))
			found = true
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		tw.Write(b)
	}
	tw.Close()
	if !found {
		t.Fatal("good.tar has no manifest.json")
	}
	p := filepath.Join(t.TempDir(), "tags.tar")
	if err := os.WriteFile(p, out.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestHostileTags: imgtool tag and imgtool load (RepoTags) refuse every
// hostile name with a one-line error, and no tag and no file appear for it.
func TestHostileTags(t *testing.T) {
	tmpl := templateStore(t)
	// "x" is a fine docker tag target (x:latest) but not a RepoTags entry,
	// which must name its tag.
	for _, name := range append(hostileTags, "x") {
		t.Run(strings.ReplaceAll(name, "/", "_"), func(t *testing.T) {
			root := filepath.Join(t.TempDir(), "store")
			copyTree(t, tmpl, root)
			before := dockertest.StoreListing(root)
			if name != "x" {
				r := imgtool(t, root, "tag", "good:1", name)
				if r.code != 1 && r.code != 2 {
					t.Errorf("imgtool tag good:1 %q: %s", name, r)
				}
				if n := strings.Count(strings.TrimSpace(r.stderr), "\n"); n != 0 {
					t.Errorf("tag %q: %d-line error: %q", name, n+1, r.stderr)
				}
				if after := dockertest.StoreListing(root); after != before {
					t.Errorf("a refused tag changed the store:\n%s", dockertest.ListingDiff(before, after))
				}
			}
			r := imgtool(t, root, "load", "-i", withRepoTags(t, []string{"ok:1", name}))
			if r.code == 0 {
				t.Errorf("imgtool load with RepoTags [ok:1 %q] succeeded: %s", name, r)
			}
			for ref := range readTags(t, root) {
				if ref != "good:1" && !strings.HasPrefix(ref, "good:") && ref != "ok:1" && ref != "docker.io/library/ok:1" && ref != "docker.io/library/good:1" {
					t.Errorf("load of %q made tag %q", name, ref)
				}
			}
		})
	}
}
