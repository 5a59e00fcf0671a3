package interop

import (
	"encoding/json"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/imgtool/imgtool/imageid"
	"github.com/imgtool/imgtool/internal/dockertest"
)

// TestIdentitiesMatchDockerLayerdb: Docker-made archives (the committed
// fixture and the peer-made saves) and a docker build are loaded into a
// private dockerd; the image IDs and chain IDs imageid computes must be the
// names dockerd gave them in its own data root (imagedb/content and
// layerdb, with each layerdb entry's diff and parent files), and imgtool
// load of the same archive must create exactly the same layerdb entries.
func TestIdentitiesMatchDockerLayerdb(t *testing.T) {
	d := dockertest.Shared(t)
	root, err := dockertest.ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	peer := "/work/shared/peer-fixtures/peer-made/docker-20.10.24"
	archives := map[string][]string{ // archive -> the references it holds
		filepath.Join(root, "testdata", "archive", "docker20.10-save.tar"): {"arch-fix/base:1", "arch-fix/app:2"},
		filepath.Join(peer, "save-legacy-test_link.tar"):                   {"bazel/v1/tarball:test_image_1", "bazel/v1/tarball:test_image_3"},
		filepath.Join(peer, "save-legacy-emptyLayer.tar"):                  {"matthughes/library-centos:6-2015.03.20"},
	}
	// A multi-layer image docker builds itself, saved so imgtool loads it too.
	richImage(t, d, "chainid-rich:1", "chainid")
	rich := filepath.Join(t.TempDir(), "rich.tar")
	d.Docker(t, "save", "-o", rich, "chainid-rich:1")
	archives[rich] = []string{"chainid-rich:1"}

	checked := 0
	for arch, refs := range archives {
		if _, err := os.Stat(arch); err != nil {
			if dockertest.PeersRequired() {
				t.Fatalf("fixture missing: %v", err)
			}
			t.Logf("skipping a missing fixture: %v", err)
			continue
		}
		d.Docker(t, "load", "-i", arch)
		store := newStore(t)
		dockertest.MustImgtool(t, "--root", store, "load", "-i", arch)
		for _, ref := range refs {
			id := strings.TrimSpace(d.Docker(t, "image", "inspect", "-f", "{{.Id}}", ref))
			cfg, err := os.ReadFile(filepath.Join(d.Root, "image", "overlay2", "imagedb", "content", "sha256", strings.TrimPrefix(id, "sha256:")))
			if err != nil {
				t.Fatalf("%s: dockerd's imagedb: %v", ref, err)
			}
			if got := imageid.FromBytes(cfg).String(); got != id {
				t.Errorf("%s: imageid.FromBytes(config) = %s, dockerd's image ID %s", ref, got, id)
			}
			var c v1.ConfigFile
			if err := json.Unmarshal(cfg, &c); err != nil {
				t.Fatal(err)
			}
			chain := imageid.ChainIDs(c.RootFS.DiffIDs)
			for i, ch := range chain {
				diff, parent := layerdbEntry(t, d.Root, ch)
				if diff != c.RootFS.DiffIDs[i].String() {
					t.Errorf("%s layer %d: dockerd's layerdb has no chain ID %s with diff %s (diff file %q)", ref, i, ch, c.RootFS.DiffIDs[i], diff)
				}
				wantParent := ""
				if i > 0 {
					wantParent = chain[i-1].String()
				}
				if parent != wantParent {
					t.Errorf("%s layer %d: dockerd's parent of %s is %q, want %q", ref, i, ch, parent, wantParent)
				}
				idiff, iparent := layerdbEntry(t, store, ch)
				if idiff != diff || iparent != parent {
					t.Errorf("%s layer %d: imgtool's layerdb entry %s is (%q, %q), dockerd's (%q, %q)", ref, i, ch, idiff, iparent, diff, parent)
				}
				checked++
				t.Logf("%s: diff %s -> chain %s", ref, c.RootFS.DiffIDs[i], ch)
			}
			if _, err := os.Stat(filepath.Join(store, "image", "overlay2", "imagedb", "content", "sha256", strings.TrimPrefix(id, "sha256:"))); err != nil {
				t.Errorf("%s: imgtool's store has no image %s: %v", ref, id, err)
			}
		}
		// Every layer imgtool registered is one dockerd registered too.
		for _, ch := range layerdbNames(t, store) {
			if _, err := os.Stat(filepath.Join(d.Root, "image", "overlay2", "layerdb", "sha256", ch)); err != nil {
				t.Errorf("%s: imgtool made layerdb entry %s, which dockerd does not have", filepath.Base(arch), ch)
			}
		}
	}
	if checked < 6 {
		t.Fatalf("only %d layers checked", checked)
	}
}

// layerdbEntry returns the diff and parent files of chainID in root's
// layerdb ("" for a missing file).
func layerdbEntry(t *testing.T, root string, chainID v1.Hash) (diff, parent string) {
	t.Helper()
	dir := filepath.Join(root, "image", "overlay2", "layerdb", chainID.Algorithm, chainID.Hex)
	b, _ := os.ReadFile(filepath.Join(dir, "diff"))
	p, _ := os.ReadFile(filepath.Join(dir, "parent"))
	return string(b), string(p)
}

func layerdbNames(t *testing.T, root string) []string {
	t.Helper()
	es, err := os.ReadDir(filepath.Join(root, "image", "overlay2", "layerdb", "sha256"))
	if err != nil {
		t.Fatalf("layerdb of %s: %v", root, err)
	}
	var out []string
	for _, e := range es {
		if e.IsDir() {
			out = append(out, e.Name())
		}
	}
	sort.Strings(out)
	return out
}
