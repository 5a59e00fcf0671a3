package interop

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/imgtool/imgtool/internal/dockertest"
)

// TestSavePlatform: save --platform (Docker 28's flag) of a store image of
// that platform writes what save without it writes; of another platform it
// fails with dockerd's text and writes nothing.
func TestSavePlatform(t *testing.T) {
	st := newStore(t)
	dockertest.MustImgtool(t, "--root", st, "load", "-q", "-i", sampleArchive(t))
	dir := t.TempDir()
	plain, amd := filepath.Join(dir, "plain.tar"), filepath.Join(dir, "amd64.tar")
	dockertest.MustImgtool(t, "--root", st, "save", "-o", plain, "arch-fix/app:2")
	dockertest.MustImgtool(t, "--root", st, "save", "--platform", "linux/amd64", "-o", amd, "arch-fix/app:2")
	a, _ := os.ReadFile(plain)
	b, _ := os.ReadFile(amd)
	if len(a) == 0 || !bytes.Equal(a, b) {
		t.Errorf("save --platform linux/amd64 of a linux/amd64 image differs from save (%d vs %d bytes)", len(b), len(a))
	}
	arm := filepath.Join(dir, "arm64.tar")
	r := dockertest.Imgtool(t, "--root", st, "save", "--platform", "linux/arm64", "-o", arm, "arch-fix/base:1", "arch-fix/app:2")
	want := "image with reference arch-fix/base:1 was found but does not match the specified platform: wanted linux/arm64, actual: linux/amd64"
	if r.Code != 1 || !strings.Contains(r.Stderr, want) {
		t.Errorf("save --platform linux/arm64: want exit 1 and %q: %s", want, r)
	}
	oneLine(t, "save --platform linux/arm64", r)
	if _, err := os.Stat(arm); !os.IsNotExist(err) {
		t.Errorf("a failed save --platform left %s (%v)", arm, err)
	}
	r = dockertest.Imgtool(t, "--root", st, "save", "--platform", "linux/arm64/v8/x", "-o", arm, "arch-fix/app:2")
	if r.Code != 2 || !strings.Contains(r.Stderr, "linux/arm64/v8/x") {
		t.Errorf("save --platform with a bad value: want a usage error naming it: %s", r)
	}
}
