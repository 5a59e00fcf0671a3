package interop

import (
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/imgtool/imgtool/internal/dockertest"
)

// containers/image's dir: layout, compared file for file with what skopeo
// writes from the same source, and read back from what skopeo wrote
// (including an index with its <hex>.manifest.json instances).
func TestDirTransportMatchesSkopeo(t *testing.T) {
	dockertest.Require(t, "skopeo")
	p := peerFixture(t, "ggcr/tarball/test_image_1.tar")
	testrepo := peerFixture(t, "regclient/testrepo")
	dir := t.TempDir()
	store := newStore(t)
	skopeo := func(args ...string) {
		t.Helper()
		if out, err := exec.Command("skopeo", append([]string{"copy", "-q"}, args...)...).CombinedOutput(); err != nil {
			t.Fatalf("skopeo copy %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	// The same docker save archive to dir: with both tools.
	skopeo("docker-archive:"+p, "dir:"+filepath.Join(dir, "skopeo"))
	dockertest.MustImgtool(t, "--root", store, "convert", "docker-archive:"+p, "dir:"+filepath.Join(dir, "imgtool"))
	if diff := dockertest.ListingDiff(dockertest.StoreListing(filepath.Join(dir, "skopeo")), dockertest.StoreListing(filepath.Join(dir, "imgtool"))); diff != "" {
		t.Errorf("dir: layouts differ (skopeo -, imgtool +):\n%s", diff)
	}
	// An index skopeo wrote (--all) round-trips byte for byte, verifies,
	// and loads the host's platform into the store.
	skopeo("--all", "oci:"+testrepo+":b1", "dir:"+filepath.Join(dir, "index"))
	dockertest.MustImgtool(t, "--root", store, "convert", "dir:"+filepath.Join(dir, "index"), "dir:"+filepath.Join(dir, "again"))
	if diff := dockertest.ListingDiff(dockertest.StoreListing(filepath.Join(dir, "index")), dockertest.StoreListing(filepath.Join(dir, "again"))); diff != "" {
		t.Errorf("dir: index round trip differs:\n%s", diff)
	}
	dockertest.MustImgtool(t, "--root", store, "verify", "dir:"+filepath.Join(dir, "index"))
	out := dockertest.MustImgtool(t, "--root", store, "load", "-i", "dir:"+filepath.Join(dir, "index"))
	if !strings.Contains(out, "Loaded image ID: sha256:") {
		t.Errorf("load of a dir: index: %q", out)
	}
	// What imgtool wrote, skopeo reads and copies back to a docker archive.
	skopeo("dir:"+filepath.Join(dir, "imgtool"), "docker-archive:"+filepath.Join(dir, "back.tar"))
	lines := loadLines(dockertest.MustImgtool(t, "--root", newStore(t), "load", "-i", filepath.Join(dir, "back.tar")))
	if want := "Loaded image ID: sha256:6e0b05049ed9c17d02e1a55e80d6599dbfcce7f4f4b022e3c673e685789c470e"; len(lines) != 1 || lines[0] != want {
		t.Errorf("skopeo's copy of imgtool's dir: loads as %q", lines)
	}
	// A misplaced target is refused, never overwritten.
	r := dockertest.Imgtool(t, "--root", store, "convert", "docker-archive:"+p, "dir:"+dir)
	oneLine(t, "dir: onto a non-empty directory", r)
}
