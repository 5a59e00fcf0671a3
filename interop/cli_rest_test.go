package interop

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
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

	// push PATH alone: a path needs a destination, and the message says so
	cmd := exec.Command(dockertest.ImgtoolBinary(t), "--root", st, "push", "flat.tar")
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if code := cmd.ProcessState.ExitCode(); err == nil || code != 2 || !strings.Contains(string(out), "give a destination: push flat.tar REGISTRY/REPO:TAG") {
		t.Errorf("push PATH without REF: exit %d: %s", code, out)
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

var plainDone = regexp.MustCompile(`(?m)^(\w+) (.+): done, ([0-9.]+ [KMG]?B) in [0-9.]+s`)

// TestProgressEverywhere: every command that moves image data prints a
// line per layer or stream with --progress plain (export, import, commit,
// convert, flatten, push, pull, cp, save, load), and draws bars on a
// terminal, also on one that reports 0 rows, with the plain line's units.
func TestProgressEverywhere(t *testing.T) {
	st := newStore(t)
	dir := t.TempDir()
	big := filepath.Join(dir, "big")
	payload := bytes.Repeat([]byte("imgtool progress "), 300_000) // ~5 MB
	if err := os.WriteFile(big, payload, 0o644); err != nil {
		t.Fatal(err)
	}
	rootfs := filepath.Join(dir, "rootfs.tar")
	if out, err := runCmd("tar", "-C", dir, "-cf", rootfs, "big"); err != nil {
		t.Fatalf("tar: %v %s", err, out)
	}
	reg := startRegistry(t, "", "")
	isolateDockerConfig(t, nil)
	plain := func(verb string, args ...string) string {
		t.Helper()
		r := dockertest.Imgtool(t, append([]string{"--root", st, "--progress", "plain"}, args...)...)
		if !r.OK() {
			t.Fatalf("%s", r)
		}
		m := plainDone.FindAllStringSubmatch(r.Stderr, -1)
		if len(m) == 0 || m[0][1] != verb {
			t.Errorf("imgtool %q: no %q progress line on stderr: %q", args, verb, r.Stderr)
			return ""
		}
		return m[len(m)-1][3]
	}
	plain("importing", "import", rootfs, "prog:1")
	dockertest.MustImgtool(t, "--root", st, "create", "--name", "prog-c", "prog:1")
	plain("copying", "cp", big, "prog-c:/big2")
	plain("copying", "cp", "prog-c:/big2", filepath.Join(dir, "out"))
	plain("committing", "commit", "prog-c", "prog:2")
	exported := plain("exporting", "export", "-o", filepath.Join(dir, "e.tar"), "prog-c")
	plain("converting", "convert", "prog:2", "oci:"+filepath.Join(dir, "lay"))
	plain("flattening", "flatten", "prog:2", filepath.Join(dir, "flat.tar"))
	plain("pushing", "push", "prog:2", reg.host+"/prog/app:2")
	pulled := newStore(t)
	if r := dockertest.Imgtool(t, "--root", pulled, "--progress", "plain", "pull", reg.host+"/prog/app:2"); !r.OK() || !plainDone.MatchString(r.Stderr) {
		t.Errorf("pull: no progress line: %s", r)
	}

	// bars under a pty, with rows unset (stty rows 0) and set
	bin := dockertest.ImgtoolBinary(t)
	for _, rows := range []string{"0", "40"} {
		cmd := exec.Command("script", "-qec", "stty cols 120 rows "+rows+"; "+bin+" --root "+st+" export -o "+filepath.Join(dir, "e2.tar")+" prog-c", "/dev/null")
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("export under a pty: %v\n%s", err, out)
		}
		bar := regexp.MustCompile(`exporting container [0-9a-f]{12} +([0-9.]+ [KMG]?B) / ([0-9.]+ [KMG]?B) \[`).FindAllSubmatch(out, -1)
		if len(bar) == 0 {
			t.Errorf("rows %s: no progress bar on the terminal:\n%q", rows, out)
			continue
		}
		if last := bar[len(bar)-1]; string(last[2]) != exported {
			t.Errorf("rows %s: the bar ends at %q, the plain line said %q", rows, last[2], exported)
		}
	}
}

// TestConvertJSONDigest: convert --json reports the manifest digest each
// output names (docs/json.md): index.json's for the OCI forms and Docker
// 25+'s save (skopeo agrees for oci-archive:), manifest.json's sha256 for
// dir:, none for Docker <=24's form, which has no manifest.
func TestConvertJSONDigest(t *testing.T) {
	st := newStore(t)
	dockertest.MustImgtool(t, "--root", st, "load", "-q", "-i", sampleArchive(t))
	dir := t.TempDir()
	digestOf := func(args ...string) string {
		t.Helper()
		out := dockertest.MustImgtool(t, append([]string{"--root", st, "--progress", "none", "convert", "--json"}, args...)...)
		var r struct{ Images []struct{ Digest string } }
		if err := json.Unmarshal([]byte(out), &r); err != nil || len(r.Images) != 1 {
			t.Fatalf("convert --json %q: %v\n%s", args, err, out)
		}
		return r.Images[0].Digest
	}
	indexDigest := func(indexJSON []byte) string {
		var idx struct{ Manifests []struct{ Digest string } }
		if err := json.Unmarshal(indexJSON, &idx); err != nil || len(idx.Manifests) == 0 {
			t.Fatalf("index.json: %v %s", err, indexJSON)
		}
		return idx.Manifests[0].Digest
	}
	lay := filepath.Join(dir, "lay")
	got := digestOf("arch-fix/app:2", "oci:"+lay)
	b, _ := os.ReadFile(filepath.Join(lay, "index.json"))
	if want := indexDigest(b); got != want {
		t.Errorf("oci: digest %q, index.json names %q", got, want)
	}
	for _, tr := range []string{"oci-archive", "docker-archive"} {
		p := filepath.Join(dir, tr+".tar")
		got := digestOf("arch-fix/app:2", tr+":"+p)
		if want := indexDigest(tarMember(t, p, "index.json")); got != want {
			t.Errorf("%s: digest %q, index.json names %q", tr, got, want)
		}
		if tr == "oci-archive" {
			if out, err := runCmd("skopeo", "inspect", "--format", "{{.Digest}}", tr+":"+p); err == nil && strings.TrimSpace(out) != got {
				t.Errorf("oci-archive: digest %q, skopeo inspect says %q", got, out)
			}
		}
	}
	dd := filepath.Join(dir, "dd")
	got = digestOf("arch-fix/app:2", "dir:"+dd)
	m, _ := os.ReadFile(filepath.Join(dd, "manifest.json"))
	if want := fmt.Sprintf("sha256:%x", sha256.Sum256(m)); got != want {
		t.Errorf("dir: digest %q, manifest.json is %q", got, want)
	}
	if got := digestOf("--legacy", "arch-fix/app:2", "docker-archive:"+filepath.Join(dir, "legacy.tar")); got != "" {
		t.Errorf("docker-archive --legacy has no manifest, yet convert --json reports %q", got)
	}
}

// tarMember reads one member of a tar file.
func tarMember(t *testing.T, p, name string) []byte {
	t.Helper()
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	tr := tar.NewReader(f)
	for {
		h, err := tr.Next()
		if err != nil {
			t.Fatalf("%s: no %s (%v)", p, name, err)
		}
		if h.Name == name {
			b, err := io.ReadAll(tr)
			if err != nil {
				t.Fatal(err)
			}
			return b
		}
	}
}
