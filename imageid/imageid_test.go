package imageid

import (
	"archive/tar"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

func TestEmptyTarDiffID(t *testing.T) {
	if got := FromBytes(make([]byte, 1024)).String(); got != EmptyTarDiffID {
		t.Fatalf("sha256 of 1024 zero bytes = %s, want %s", got, EmptyTarDiffID)
	}
}

// dockerChains are diff IDs and the chain IDs a real Docker 20.10.24 gave
// them: the names of its layerdb entries (image/overlay2/layerdb/sha256/<chain ID>,
// whose diff and parent files hold the diff ID and the parent chain ID) after
// `docker load` of the committed Docker-made archives. interop
// TestIdentitiesMatchDockerLayerdb checks the same against a live dockerd.
var dockerChains = []struct {
	from           string
	diffIDs, chain []string
}{
	{
		"testdata/archive/docker20.10-save.tar arch-fix/app:2",
		[]string{"sha256:f759cb645a35e7b2f72543ced8ce939c08d4f8dadf8dd5b7ce749130f4c61956", "sha256:dbe3195279be9a79f027348250ad0f488a8b0262c4a85dbe1f270410ea5e827e"},
		[]string{"sha256:f759cb645a35e7b2f72543ced8ce939c08d4f8dadf8dd5b7ce749130f4c61956", "sha256:75bdf842b91cc3e88a84652b5f3b978273805e498e34155e622676b78f1964e5"},
	},
	{
		"peer-made/docker-20.10.24/save-legacy-test_link.tar bazel/v1/tarball:test_image_3",
		[]string{"sha256:8897395fd26dc44ad0e2a834335b33198cb41ac4d98dfddf58eced3853fa7b17", "sha256:6b617a2706576ed038acdc3aa668cac62010386a5a3d227d83aada32085c9f29"},
		[]string{"sha256:8897395fd26dc44ad0e2a834335b33198cb41ac4d98dfddf58eced3853fa7b17", "sha256:e10430d6eeebc50796f4c7435259699ea3bde509b50ca259d82abe9d6fbd99bd"},
	},
	{
		"peer-made/docker-20.10.24/save-legacy-emptyLayer.tar matthughes/library-centos:6-2015.03.20 (a zero-byte layer in the middle)",
		[]string{"sha256:f624397841595b2369935cbd47fde10171ff91347afa9a5c793275d3765e8e0d", "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", "sha256:3b90aed61465a1f294fdd312108c1e7f476b3e1b7246c8eebc0f537dec42f2de"},
		[]string{"sha256:f624397841595b2369935cbd47fde10171ff91347afa9a5c793275d3765e8e0d", "sha256:bdb48935012f82531a4a2e9a3e2ccdf5550cd463ca8afa97fa0d7f53467c751b", "sha256:aea73786bcdb77837b8b073b167d54f2eff088fe7551faf03a6236ab9f58c9f9"},
	},
}

func hashes(t *testing.T, ss []string) []v1.Hash {
	t.Helper()
	out := make([]v1.Hash, len(ss))
	for i, s := range ss {
		h, err := v1.NewHash(s)
		if err != nil {
			t.Fatal(err)
		}
		out[i] = h
	}
	return out
}

func TestChainIDs(t *testing.T) {
	for _, c := range dockerChains {
		diffs, want := hashes(t, c.diffIDs), hashes(t, c.chain)
		got := ChainIDs(diffs)
		if got[0] != diffs[0] {
			t.Fatalf("%s: base chain ID %s != diff ID %s", c.from, got[0], diffs[0])
		}
		for i := range want {
			if got[i] != want[i] {
				t.Errorf("%s: chain ID %d = %s, Docker's layerdb has %s", c.from, i, got[i], want[i])
			}
			var parent v1.Hash
			if i > 0 {
				parent = want[i-1]
			}
			if one := ChainID(parent, diffs[i]); one != want[i] {
				t.Errorf("%s: ChainID(%v, %s) = %s, Docker's layerdb has %s", c.from, parent, diffs[i], one, want[i])
			}
		}
		if diffs[0].String() != c.diffIDs[0] {
			t.Errorf("ChainIDs changed its argument")
		}
	}
	if got := ChainIDs(nil); len(got) != 0 {
		t.Errorf("ChainIDs(nil) = %v", got)
	}
}

// TestImageIDsOfDockerArchives: Docker names each config of a save
// <image ID hex>.json; FromBytes of the config must give that name back.
func TestImageIDsOfDockerArchives(t *testing.T) {
	archives := []string{filepath.Join("..", "testdata", "archive", "docker20.10-save.tar")}
	peer, _ := filepath.Glob("/work/shared/peer-fixtures/peer-made/docker-20.10.24/save-legacy-*.tar")
	archives = append(archives, peer...)
	checked := 0
	for _, p := range archives {
		configs := configsOf(t, p)
		for name, b := range configs {
			want := "sha256:" + strings.TrimSuffix(name, ".json")
			if got := FromBytes(b).String(); got != want {
				t.Errorf("%s: FromBytes(%s) = %s", filepath.Base(p), name, got)
			}
			checked++
		}
	}
	if checked == 0 {
		t.Fatal("no Docker-made config checked")
	}
}

// configsOf returns the configs manifest.json names in the archive at p.
func configsOf(t *testing.T, p string) map[string][]byte {
	t.Helper()
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	files := map[string][]byte{}
	tr := tar.NewReader(f)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		if strings.HasSuffix(h.Name, ".json") && !strings.Contains(h.Name, "/") {
			b, err := io.ReadAll(tr)
			if err != nil {
				t.Fatal(err)
			}
			files[h.Name] = b
		}
	}
	var m []struct{ Config string }
	if err := json.Unmarshal(files["manifest.json"], &m); err != nil {
		t.Fatalf("%s manifest.json: %v", p, err)
	}
	out := map[string][]byte{}
	for _, e := range m {
		b, ok := files[e.Config]
		if !ok {
			t.Fatalf("%s: no %s", p, e.Config)
		}
		out[e.Config] = b
	}
	return out
}
