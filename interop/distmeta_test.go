package interop

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"

	"github.com/imgtool/imgtool/internal/dockertest"
)

// TestDistMetaMatchesDockerd: an image is pushed to a local docker-registry
// (127.0.0.1); a fresh private dockerd pulls it, imgtool pulls it into a
// fresh store; the distribution metadata both write in their data roots
// (image/overlay2/distribution/{v2metadata-by-diffid,diffid-by-digest}) must
// name the same files with the same contents.
func TestDistMetaMatchesDockerd(t *testing.T) {
	reg := startRegistry(t, "", "")
	isolateDockerConfig(t, nil)
	root, err := dockertest.ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	src := newStore(t)
	dockertest.MustImgtool(t, "--root", src, "load", "-i", filepath.Join(root, "testdata", "archive", "docker20.10-save.tar"))
	for _, ref := range []string{reg.host + "/dm/app:2", reg.host + "/dm/base:1"} {
		from := map[bool]string{true: "arch-fix/app:2", false: "arch-fix/base:1"}[strings.Contains(ref, "app")]
		dockertest.MustImgtool(t, "--root", src, "push", from, ref)
	}

	d := dockertest.Start(t) // fresh: no metadata from other tests
	store := newStore(t)
	for _, ref := range []string{reg.host + "/dm/app:2", reg.host + "/dm/base:1"} {
		d.Docker(t, "pull", ref)
		dockertest.MustImgtool(t, "--root", store, "pull", ref)
	}

	dockerFiles := distFiles(t, d.Root)
	ours := distFiles(t, store)
	if len(dockerFiles) < 4 {
		t.Fatalf("dockerd wrote only %d distribution metadata files: %v", len(dockerFiles), keys(dockerFiles))
	}
	t.Logf("dockerd wrote %d distribution metadata files: %v", len(dockerFiles), keys(dockerFiles))
	if !reflect.DeepEqual(keys(ours), keys(dockerFiles)) {
		t.Errorf("distribution metadata files differ:\n dockerd: %v\n imgtool: %v", keys(dockerFiles), keys(ours))
	}
	for name, want := range dockerFiles {
		got, ok := ours[name]
		if !ok {
			continue
		}
		if got == want {
			continue
		}
		// Same JSON values in another order is still an error, but say so.
		var gv, wv any
		if json.Unmarshal([]byte(got), &gv) == nil && json.Unmarshal([]byte(want), &wv) == nil && reflect.DeepEqual(gv, wv) {
			t.Errorf("%s: same values, different bytes:\n dockerd: %s\n imgtool: %s", name, want, got)
			continue
		}
		t.Errorf("%s:\n dockerd: %s\n imgtool: %s", name, want, got)
	}
}

// distFiles maps each file below root's image/overlay2/distribution to its content.
func distFiles(t *testing.T, root string) map[string]string {
	t.Helper()
	dir := filepath.Join(root, "image", "overlay2", "distribution")
	out := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, e os.DirEntry, err error) error {
		if err != nil || e.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		out[rel] = string(b)
		return nil
	})
	if err != nil {
		t.Fatalf("distribution metadata of %s: %v", root, err)
	}
	return out
}

func keys(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
