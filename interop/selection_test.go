package interop

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/imgtool/imgtool/internal/dockertest"
)

// One selection policy for every command (transfer.Select), checked
// against what Docker does with the same archives: archives other tools
// made, from ../shared/peer-fixtures.

// peerFixture is a file of ../shared/peer-fixtures (beside the checkout,
// in CI as here).
func peerFixture(t *testing.T, rel string) string {
	t.Helper()
	root, err := dockertest.ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(root, "..", "shared", "peer-fixtures", rel)
	if _, err := os.Stat(p); err != nil {
		if os.Getenv("IMGTOOL_REQUIRE_PEERS") == "1" {
			t.Fatalf("peer fixture missing: %v", err)
		}
		t.Skipf("peer fixture missing (../shared/peer-fixtures): %v", err)
	}
	return p
}

// loadLines are the "Loaded image…" lines of a load, sorted.
func loadLines(out string) []string {
	var lines []string
	for _, l := range strings.Split(out, "\n") {
		if strings.HasPrefix(l, "Loaded image") {
			lines = append(lines, l)
		}
	}
	sort.Strings(lines)
	return lines
}

// Docker loads every image of a docker-save archive whatever its
// platform: a lone arm64 image, and an amd64 and an arm64 image side by
// side. imgtool must print the same lines and hold the same images.
func TestLoadForeignPlatformsAsDocker(t *testing.T) {
	d := dockertest.Shared(t)
	for _, rel := range []string{
		"ggcr/tarball/hello-world-v25.tar",
		"peer-made/docker-20.10.24/save-legacy-amd64-and-arm64.tar",
	} {
		t.Run(filepath.Base(rel), func(t *testing.T) {
			p := peerFixture(t, rel)
			want := loadLines(d.Docker(t, "load", "-i", p))
			store := newStore(t)
			got := loadLines(dockertest.MustImgtool(t, "--root", store, "load", "-i", p))
			if strings.Join(got, "\n") != strings.Join(want, "\n") {
				t.Errorf("imgtool load printed\n%s\ndocker load printed\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
			}
			ids := strings.Fields(dockertest.MustImgtool(t, "--root", store, "images", "-a", "-q", "--no-trunc"))
			for _, l := range want {
				if id, ok := strings.CutPrefix(l, "Loaded image ID: "); ok && !contains(ids, id) {
					t.Errorf("the store lacks %s that docker loaded (has %q)", id, ids)
				}
			}
		})
	}
}

// A platform that only index.json names (ctr images export
// --all-platforms) is found by load --platform as by convert --platform:
// one reader of the index for every command. The loaded image is the
// index's arm64 manifest's config.
func TestLoadPlatformFromIndexOnly(t *testing.T) {
	p := peerFixture(t, "peer-made/containerd-1.6.20/ctr-export-regclient-b1-all-platforms.tar")
	store := newStore(t)
	out := dockertest.MustImgtool(t, "--root", store, "load", "--platform", "linux/arm64", "-i", p)
	if !strings.Contains(out, "Loaded image: regclient/testrepo:b1") {
		t.Errorf("load printed %q", out)
	}
	inspect := dockertest.MustImgtool(t, "--root", store, "inspect", "regclient/testrepo:b1")
	var imgs []struct{ Architecture, Os string }
	if err := json.Unmarshal([]byte(inspect), &imgs); err != nil || len(imgs) != 1 {
		t.Fatalf("inspect: %v %s", err, inspect)
	}
	if imgs[0].Architecture != "arm64" || imgs[0].Os != "linux" {
		t.Errorf("loaded %s/%s, want linux/arm64", imgs[0].Os, imgs[0].Architecture)
	}
	conv := filepath.Join(t.TempDir(), "arm64.tar")
	dockertest.MustImgtool(t, "--root", store, "convert", "--platform", "linux/arm64", "docker-archive:"+p, "docker-archive:"+conv)
	got := loadLines(dockertest.MustImgtool(t, "--root", newStore(t), "load", "-i", conv))
	if len(got) != 1 || got[0] != "Loaded image: regclient/testrepo:b1" {
		t.Errorf("convert --platform then load: %q", got)
	}
	bad := dockertest.Imgtool(t, "--root", store, "load", "--platform", "linux/s390x", "-i", p)
	oneLine(t, "load of a platform the index lacks", bad)
	if !strings.Contains(bad.Stderr, "linux/s390x") || !strings.Contains(bad.Stderr, "linux/arm64") {
		t.Errorf("error should name the platform asked for and those there are: %s", bad.Stderr)
	}
}

// save of an ID prefix writes no RepoTags, as docker save does: the
// prefix is resolved as an ID, never taken as a tag.
func TestSaveIDPrefixHasNoTags(t *testing.T) {
	d := dockertest.Shared(t)
	p := peerFixture(t, "ggcr/tarball/hello-world-v25.tar")
	d.Docker(t, "load", "-i", p)
	store := newStore(t)
	dockertest.MustImgtool(t, "--root", store, "load", "-i", p)
	const prefix = "ee301c92" // short: not a tag, though it would parse as one
	dir := t.TempDir()
	d.Docker(t, "save", "-o", filepath.Join(dir, "docker.tar"), prefix)
	dockertest.MustImgtool(t, "--root", store, "save", "-o", filepath.Join(dir, "imgtool.tar"), prefix)
	repoTags := func(name string) string {
		m, ok := readArchive(t, filepath.Join(dir, name)).file("manifest.json")
		if !ok {
			t.Fatalf("%s has no manifest.json", name)
		}
		var items []struct{ RepoTags []string }
		if err := json.Unmarshal(m, &items); err != nil || len(items) != 1 {
			t.Fatalf("%s manifest.json: %v %s", name, err, m)
		}
		return strings.Join(items[0].RepoTags, ",")
	}
	if got, want := repoTags("imgtool.tar"), repoTags("docker.tar"); got != want {
		t.Errorf("save %s: RepoTags %q, docker save: %q", prefix, got, want)
	}
}

// skopeo's docker-archive:PATH:@N names the N-th image of the archive.
func TestArchiveSelectorByNumber(t *testing.T) {
	p := peerFixture(t, "peer-made/docker-20.10.24/save-legacy-amd64-and-arm64.tar")
	store := newStore(t)
	dockertest.MustImgtool(t, "--root", store, "load", "-i", p)
	var picked []string
	for _, n := range []string{"@0", "@1"} {
		out := filepath.Join(t.TempDir(), "one.tar")
		dockertest.MustImgtool(t, "--root", store, "convert", "docker-archive:"+p+":"+n, "docker-archive:"+out)
		ids := strings.Fields(dockertest.MustImgtool(t, "--root", func() string {
			s := newStore(t)
			dockertest.MustImgtool(t, "--root", s, "load", "-i", out)
			return s
		}(), "images", "-a", "-q", "--no-trunc"))
		if len(ids) != 1 {
			t.Fatalf("%s: want one image, got %q", n, ids)
		}
		picked = append(picked, ids[0])
	}
	if picked[0] == picked[1] {
		t.Errorf("@0 and @1 picked the same image %s", picked[0])
	}
	bad := dockertest.Imgtool(t, "--root", store, "convert", "docker-archive:"+p+":@2", "docker-archive:"+filepath.Join(t.TempDir(), "x.tar"))
	oneLine(t, "an @N past the end", bad)
	if !strings.Contains(bad.Stderr, "no image number 2") {
		t.Errorf("error: %s", bad.Stderr)
	}
}

// A misspelt or unknown transport is an error listing the known ones,
// never a store name ("dir:/tmp/x" used to be tagged into the store).
func TestUnknownTransportIsAnError(t *testing.T) {
	store := newStore(t)
	r := dockertest.Imgtool(t, "--root", store, "convert", "docker-archive:/nonexistent.tar", "dri:/tmp/x")
	oneLine(t, "unknown transport", r)
	if !strings.Contains(r.Stderr, `unknown transport "dri"`) || !strings.Contains(r.Stderr, "oci-archive") {
		t.Errorf("error: %s", r.Stderr)
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// A bad --platform gets Docker's own words (containerd's parser's), not a
// silent linux/amd64.
func TestPlatformStringsAsDocker(t *testing.T) {
	d := dockertest.Shared(t)
	tarf := filepath.Join(t.TempDir(), "rootfs.tar")
	if err := os.WriteFile(tarf, layerTar(t), 0o644); err != nil {
		t.Fatal(err)
	}
	// "   " is refused by both, in other words: Docker 20.10's containerd
	// platforms parser predates the OS(version) syntax that current Docker
	// (and imgtool, on containerd/platforms v0.2) report it against.
	r := dockertest.Imgtool(t, "--root", newStore(t), "import", "--platform", "   ", tarf, "platprobe:1")
	oneLine(t, "import --platform blank", r)
	if !strings.Contains(r.Stderr, "is an invalid OS component of") {
		t.Errorf("--platform blank: %s", r.Stderr)
	}
	for _, p := range []string{"linux/", "foo", "linux/arm64/v8/x"} {
		_, derr, err := d.DockerErr("import", "--platform", p, tarf, "platprobe:1")
		if err == nil {
			t.Fatalf("docker import --platform %q succeeded", p)
		}
		want := strings.TrimPrefix(strings.TrimSpace(derr), "Error response from daemon: ")
		r := dockertest.Imgtool(t, "--root", newStore(t), "import", "--platform", p, tarf, "platprobe:1")
		oneLine(t, "import --platform "+p, r)
		got := strings.TrimPrefix(strings.TrimSpace(r.Stderr), "imgtool import: ")
		if strings.Join(strings.Fields(got), " ") != strings.Join(strings.Fields(want), " ") {
			t.Errorf("--platform %q: imgtool says %q, docker %q", p, got, want)
		}
	}
}

// ggcr's source_image_with_empty_layer_history.tar names its config with
// another digest: docker load takes it (the image ID is the content's
// digest), so verify warns, naming the file and that ID, and passes.
func TestVerifyConfigNameIsAWarning(t *testing.T) {
	d := dockertest.Shared(t)
	p := peerFixture(t, "ggcr/mutate/source_image_with_empty_layer_history.tar")
	out := d.Docker(t, "load", "-i", p)
	id := d.ImageID(t, "bazel/pkg/v1/mutate:source_image")
	r := dockertest.Imgtool(t, "--root", newStore(t), "verify", "docker-archive:"+p)
	if r.Code != 0 {
		t.Fatalf("verify of an archive docker loads (%s) failed: %s", strings.TrimSpace(out), r)
	}
	if !strings.Contains(r.Stdout, "WARNING config 6e0b05049ed9c17d02e1a55e80d6599dbfcce7f4f4b022e3c673e685789c470e.json") || !strings.Contains(r.Stdout, id) {
		t.Errorf("verify should warn naming the file and docker's image ID %s:\n%s", id, r.Stdout)
	}
	js := decodeResult(t, "verify", dockertest.MustImgtool(t, "--root", newStore(t), "verify", "--json", "docker-archive:"+p))
	if js.OK == nil || !*js.OK || len(js.Warnings) != 1 || !strings.Contains(js.Warnings[0], id) {
		t.Errorf("verify --json: ok %v, warnings %q", js.OK, js.Warnings)
	}
}

// OCI artifacts beside the images (regclient's testrepo: SBOMs,
// signatures, build metadata, referrers) no longer make the layout
// unreadable: load takes the image, verify checks every image, and both
// say what they skipped. skopeo reads the same image.
func TestArtifactsDoNotBreakALayout(t *testing.T) {
	dockertest.Require(t, "skopeo")
	repo := peerFixture(t, "regclient/testrepo")
	store := newStore(t)
	r := dockertest.Imgtool(t, "--root", store, "load", "-i", "oci:"+repo+":v1")
	if r.Code != 0 || !strings.Contains(r.Stderr, "artifact") || !strings.Contains(r.Stderr, "not a runnable image") {
		t.Fatalf("load of an image beside artifacts: %s", r)
	}
	out, err := exec.Command("skopeo", "inspect", "--raw", "--config", "oci:"+repo+":v1").Output()
	if err != nil {
		t.Fatalf("skopeo inspect: %v", err)
	}
	want := "sha256:" + strings.TrimPrefix(digestOf(out), "sha256:")
	ids := strings.Fields(dockertest.MustImgtool(t, "--root", store, "images", "-a", "-q", "--no-trunc"))
	if len(ids) != 1 || ids[0] != want {
		t.Errorf("the store holds %q, skopeo's config of v1 is %s", ids, want)
	}
	v := dockertest.Imgtool(t, "--root", store, "verify", "oci:"+repo)
	if v.Code != 0 || !strings.Contains(v.Stdout, "skipped") {
		t.Errorf("verify of the whole layout: %s", v)
	}
	// A layout of nothing but an artifact (image-spec's empty-config
	// example) has nothing to load, and the error says what it skipped.
	only := dockertest.Imgtool(t, "--root", store, "load", "-i", peerFixture(t, "imagespec/ispec-manifest-11.tar"))
	oneLine(t, "load of an artifact-only layout", only)
	if !strings.Contains(only.Stderr, "skipped:") || !strings.Contains(only.Stderr, "application/vnd.example+type") {
		t.Errorf("load of an artifact-only layout: %s", only.Stderr)
	}
}

// inspect's Comment is the config's, else the last history entry's, as
// dockerd shows it (buildkit.dockerfile.v0 for ggcr's hello-world-v25).
func TestInspectCommentAsDocker(t *testing.T) {
	d := dockertest.Shared(t)
	for _, rel := range []string{"ggcr/tarball/hello-world-v25.tar", "ggcr/tarball/test_image_1.tar", "ggcr/mutate/source_image_with_empty_layer_history.tar"} {
		p := peerFixture(t, rel)
		lines := loadLines(d.Docker(t, "load", "-i", p))
		store := newStore(t)
		dockertest.MustImgtool(t, "--root", store, "load", "-i", p)
		for _, l := range lines {
			ref := strings.TrimPrefix(strings.TrimPrefix(l, "Loaded image ID: "), "Loaded image: ")
			want := d.Docker(t, "image", "inspect", "-f", "{{.Comment}}", ref)
			got := dockertest.MustImgtool(t, "--root", store, "inspect", "-f", "{{.Comment}}", ref)
			if strings.TrimSpace(got) != strings.TrimSpace(want) {
				t.Errorf("%s %s: Comment %q, docker %q", rel, ref, got, want)
			}
		}
	}
}
