package interop

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/imgtool/imgtool/internal/ctrdtest"
	"github.com/imgtool/imgtool/internal/dockertest"
)

// TestContainerdStoreLoadIndex: a multi-platform index pulled from a
// registry or loaded from an OCI archive into a stopped containerd store
// is recorded as ctr images pull / import record it: the index is the
// target (Docker 29's image ID), its bytes kept, the blobs of the
// platforms taken (the host's, or those --platform names) written with
// containerd's GC labels.
func TestContainerdStoreLoadIndex(t *testing.T) {
	layout, _ := ctrdLayout(t, "ctrd-multi:1")
	twoPlatformLayout(t, layout) // linux/amd64 (the host's) and linux/arm64
	index := readIndex(t, filepath.Join(layout, "index.json"))[0].Digest

	t.Run("pull", func(t *testing.T) {
		reg := startRegistry(t, "", "")
		isolateDockerConfig(t, nil)
		ref := reg.host + "/ctrd/multi:1"
		dockertest.MustImgtool(t, "push", "oci:"+layout, ref)
		byCtr := ctrdtest.Start(t)
		byCtr.Ctr(t, "moby", "images", "pull", "--plain-http", ref)
		dst := ctrdtest.Start(t)
		if err := dst.Stop(); err != nil {
			t.Fatal(err)
		}
		dockertest.MustImgtool(t, "--root", dst.Root, "pull", ref)
		checkLoadedAsCtrImports(t, dst, byCtr, ref, ref, index, false)
	})
	nameIndex(t, layout, "docker.io/library/ctrd-multi:1", "1")
	archive := tarLayout(t, layout)
	// Docker 29's docker load takes every platform the archive holds:
	// ctr import --all-platforms; --platform takes one: ctr import's default
	for _, c := range []struct {
		name      string
		imgtool   []string
		ctrImport []string
	}{
		{"load every platform", nil, []string{"--all-platforms"}},
		{"load --platform", []string{"--platform", "linux/amd64"}, nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			byCtr := ctrdtest.Start(t)
			byCtr.Ctr(t, "moby", append(append([]string{"images", "import"}, c.ctrImport...), archive)...)
			dst := ctrdtest.Start(t)
			if err := dst.Stop(); err != nil {
				t.Fatal(err)
			}
			dockertest.MustImgtool(t, append(append([]string{"--root", dst.Root, "load"}, c.imgtool...), "-i", archive)...)
			checkLoadedAsCtrImports(t, dst, byCtr, "ctrd-multi:1", "docker.io/library/ctrd-multi:1", index, false)
		})
	}
}

// nameIndex gives the layout's one index.json entry the names ctr import
// and imgtool load read: io.containerd.image.name and its tag as ref name.
func nameIndex(t *testing.T, layout, name, tag string) {
	t.Helper()
	p := filepath.Join(layout, "index.json")
	var top map[string]any
	b, err := os.ReadFile(p)
	if err == nil {
		err = json.Unmarshal(b, &top)
	}
	if err != nil {
		t.Fatal(err)
	}
	top["manifests"].([]any)[0].(map[string]any)["annotations"] = map[string]string{
		"io.containerd.image.name": name, "org.opencontainers.image.ref.name": tag}
	if b, err = json.Marshal(top); err == nil {
		err = os.WriteFile(p, b, 0o644)
	}
	if err != nil {
		t.Fatal(err)
	}
}
