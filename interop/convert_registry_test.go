package interop

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/imgtool/imgtool/internal/dockertest"
)

// TestConvertDockerTransport: convert reads and writes docker://REF.
func TestConvertDockerTransport(t *testing.T) {
	reg := startRegistry(t, "", "")
	isolateDockerConfig(t, nil)
	archive := sampleArchive(t)

	ref := reg.host + "/conv/app:2"
	dockertest.MustImgtool(t, "convert", "docker-archive:"+archive+":arch-fix/app:2", "docker://"+ref)

	// Back out of the registry into an OCI layout and into a store.
	dir := filepath.Join(t.TempDir(), "layout")
	dockertest.MustImgtool(t, "convert", "docker://"+ref, "oci:"+dir+":app")
	if out := dockertest.MustImgtool(t, "verify", "oci:"+dir+":app"); !strings.Contains(out, "OK") {
		t.Fatalf("verify of the pulled layout:\n%s", out)
	}
	st := newStore(t)
	dockertest.MustImgtool(t, "--root", st, "convert", "docker://"+ref, "store:conv/app:2")
	want := imageIDIn(t, newStoreWith(t, archive), "arch-fix/app:2")
	if got := imageIDIn(t, st, "conv/app:2"); got != want {
		t.Fatalf("image ID through the registry %s, want %s", got, want)
	}

	// save -o docker://REF pushes; load -i docker://REF pulls.
	src := newStoreWith(t, archive)
	dockertest.MustImgtool(t, "--root", src, "save", "-o", "docker://"+reg.host+"/conv/base:1", "arch-fix/base:1")
	dst := newStore(t)
	out := dockertest.MustImgtool(t, "--root", dst, "load", "-i", "docker://"+reg.host+"/conv/base:1")
	if !strings.Contains(out, "Loaded image") {
		t.Fatalf("load from a registry said %q", out)
	}
	if imageIDIn(t, dst, reg.host+"/conv/base:1") != imageIDIn(t, src, "arch-fix/base:1") {
		t.Fatal("save -o docker:// then load -i docker:// changed the image ID")
	}

	r := dockertest.Imgtool(t, "convert", "docker://"+reg.host+"/conv/missing:1", "oci:"+filepath.Join(t.TempDir(), "x"))
	if r.Code != 1 || !strings.Contains(r.Stderr, "conv/missing:1") || strings.Count(strings.TrimSpace(r.Stderr), "\n") != 0 {
		t.Fatalf("missing image: %s", r)
	}
}

func newStoreWith(t *testing.T, archive string) string {
	st := newStore(t)
	dockertest.MustImgtool(t, "--root", st, "load", "-q", "-i", archive)
	return st
}

func imageIDIn(t *testing.T, st, ref string) string {
	return strings.TrimSpace(dockertest.MustImgtool(t, "--root", st, "images", "-q", "--no-trunc", ref))
}
