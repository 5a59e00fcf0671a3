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

// TestBarePathSources: a bare path no store image is named after is the
// archive or layout there, for verify, convert, flatten and push; the
// results equal those of the explicit transport form, docker pulls what
// push sent, and a name that is neither says which forms to use.
func TestBarePathSources(t *testing.T) {
	st := newStore(t)
	dockertest.MustImgtool(t, "--root", st, "load", "-q", "-i", sampleArchive(t))
	dir := t.TempDir()
	app := filepath.Join(dir, "app.tar")
	dockertest.MustImgtool(t, "--root", st, "save", "-o", app, "arch-fix/app:2")

	bare := dockertest.MustImgtool(t, "--root", st, "verify", app)
	explicit := dockertest.MustImgtool(t, "--root", st, "verify", "docker-archive:"+app)
	if bare != explicit || !strings.Contains(bare, "OK: 1 image(s)") {
		t.Errorf("verify PATH differs from verify docker-archive:PATH:\n%s\n---\n%s", bare, explicit)
	}
	lay, lay2 := filepath.Join(dir, "lay"), filepath.Join(dir, "lay2")
	dockertest.MustImgtool(t, "--root", st, "convert", app, "oci:"+lay)
	dockertest.MustImgtool(t, "--root", st, "convert", "docker-archive:"+app, "oci:"+lay2)
	sameFile(t, filepath.Join(lay, "index.json"), filepath.Join(lay2, "index.json"))
	if out := dockertest.MustImgtool(t, "--root", st, "verify", lay); !strings.Contains(out, "OK: 1 image(s)") {
		t.Errorf("verify of a bare layout directory: %s", out)
	}

	// flatten: bare SRC; DST a file, docker-archive:PATH or any convert location
	flat, flat2, flatLay := filepath.Join(dir, "flat.tar"), filepath.Join(dir, "flat2.tar"), filepath.Join(dir, "flat-lay")
	id := strings.TrimSpace(dockertest.MustImgtool(t, "--root", st, "flatten", "-t", "x/flat:1", app, flat))
	dockertest.MustImgtool(t, "--root", st, "flatten", "-t", "x/flat:1", "docker-archive:"+app, "docker-archive:"+flat2)
	sameFile(t, flat, flat2)
	dockertest.MustImgtool(t, "--root", st, "flatten", "-t", "x/flat:1", app, "oci:"+flatLay)
	dockertest.MustImgtool(t, "--root", st, "convert", "docker-archive:"+flat, "oci:"+lay2+"-flat")
	sameFile(t, filepath.Join(flatLay, "index.json"), filepath.Join(lay2+"-flat", "index.json"))
	if out, err := runCmd("skopeo", "inspect", "--config", "oci:"+flatLay); err != nil {
		t.Logf("skopeo not run: %v", err)
	} else if !strings.Contains(out, `"diff_ids"`) {
		t.Errorf("skopeo inspect --config oci:%s: %s", flatLay, out)
	}

	// push a bare archive path; docker pulls the same image ID
	reg := startRegistry(t, "", "")
	isolateDockerConfig(t, nil)
	dockertest.MustImgtool(t, "--root", st, "push", flat, reg.host+"/bare/flat:1")
	d := dockertest.Shared(t)
	d.Docker(t, "pull", reg.host+"/bare/flat:1")
	if got := d.ImageID(t, reg.host+"/bare/flat:1"); got != id {
		t.Errorf("docker pull of imgtool push PATH: image %s, flatten said %s", got, id)
	}

	for _, args := range [][]string{{"verify", "no-such-thing"}, {"convert", "no-such-thing", "oci:" + dir + "/x"}, {"flatten", "no-such-thing", flat}} {
		r := dockertest.Imgtool(t, append([]string{"--root", st}, args...)...)
		if r.Code != 1 || !strings.Contains(r.Stderr, "docker-archive:PATH") || !strings.Contains(r.Stderr, `"no-such-thing"`) {
			t.Errorf("imgtool %q: want exit 1 and the transport forms: %s", args, r)
		}
		oneLine(t, strings.Join(args, " "), r)
	}
}

func sameFile(t *testing.T, a, b string) {
	t.Helper()
	x, err := os.ReadFile(a)
	if err != nil {
		t.Fatal(err)
	}
	y, err := os.ReadFile(b)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(x, y) {
		t.Errorf("%s and %s differ", a, b)
	}
}
