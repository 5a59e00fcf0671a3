package interop

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/imgtool/imgtool/internal/dockertest"
)

// Archives and layouts made by podman 4.3, buildah 1.28 and skopeo from a
// private containers/storage (its own --root, --runroot, vfs driver; a
// temp registries.conf, containers.conf and policy.json; no network),
// from an image built of local files (busybox-static).

// containersEnv is a private containers/storage for podman, buildah and
// skopeo under a temp dir.
type containersEnv struct {
	dir, root, runroot, policy string
	env                        []string
}

func newContainersEnv(t *testing.T) *containersEnv {
	t.Helper()
	dockertest.Require(t, "root", "podman", "buildah", "skopeo", "busybox")
	dir := t.TempDir()
	// podman refuses a runroot longer than 50 characters: t.TempDir's are
	runroot, err := os.MkdirTemp("", "pbrun")
	if err != nil {
		t.Fatal(err)
	}
	// vfs layers are plain directories (no mounts to undo), so removing
	// the dirs removes the storage; "podman system reset" would also touch
	// host network configs
	t.Cleanup(func() { os.RemoveAll(runroot) })
	c := &containersEnv{dir: dir, root: filepath.Join(dir, "root"), runroot: runroot, policy: filepath.Join(dir, "policy.json")}
	files := map[string]string{
		"registries.conf": "unqualified-search-registries = []\n",
		"containers.conf": "[engine]\nevents_logger = \"file\"\ncgroup_manager = \"cgroupfs\"\n",
		"policy.json":     `{"default":[{"type":"insecureAcceptAnything"}]}`,
	}
	for n, s := range files {
		if err := os.WriteFile(filepath.Join(dir, n), []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	c.env = append(os.Environ(), "CONTAINERS_REGISTRIES_CONF="+filepath.Join(dir, "registries.conf"),
		"CONTAINERS_CONF="+filepath.Join(dir, "containers.conf"), "TMPDIR="+dir)
	return c
}

// run runs podman or buildah on the private storage (skopeo takes the
// storage in its reference) and returns stdout.
func (c *containersEnv) run(t *testing.T, tool string, args ...string) string {
	t.Helper()
	if tool == "podman" || tool == "buildah" {
		args = append([]string{"--root", c.root, "--runroot", c.runroot, "--storage-driver", "vfs"}, args...)
	}
	cmd := exec.Command(tool, args...)
	cmd.Env = c.env
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", tool, strings.Join(args, " "), err, stderr.String())
	}
	return string(out)
}

// storageRef is skopeo's containers-storage reference into c.
func (c *containersEnv) storageRef(name string) string {
	return "containers-storage:[vfs@" + c.root + "+" + c.runroot + "]" + name
}

// rootfsTar is a busybox rootfs as a tar, and its directory.
func rootfsTar(t *testing.T, dir string) (string, string) {
	t.Helper()
	bb, _ := exec.LookPath("busybox")
	rootfs := filepath.Join(dir, "rootfs")
	if err := os.MkdirAll(filepath.Join(rootfs, "bin"), 0o755); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("cp", bb, filepath.Join(rootfs, "bin", "busybox")).CombinedOutput(); err != nil {
		t.Fatalf("cp busybox: %v %s", err, out)
	}
	if err := os.Symlink("busybox", filepath.Join(rootfs, "bin", "sh")); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(rootfs, "hello"), []byte("hello from podman\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	tarPath := filepath.Join(dir, "rootfs.tar")
	if out, err := exec.Command("tar", "-C", rootfs, "-cf", tarPath, ".").CombinedOutput(); err != nil {
		t.Fatalf("tar: %v %s", err, out)
	}
	return tarPath, rootfs
}

// podmanImage is what podman reports of an image.
type podmanImage struct {
	ID      string
	DiffIDs []string
}

func (c *containersEnv) inspect(t *testing.T, ref string) podmanImage {
	t.Helper()
	var out []struct {
		ID     string `json:"Id"`
		RootFS struct {
			Layers []string `json:"Layers"`
		} `json:"RootFS"`
	}
	if err := json.Unmarshal([]byte(c.run(t, "podman", "image", "inspect", ref)), &out); err != nil || len(out) != 1 {
		t.Fatalf("podman image inspect %s: %v", ref, err)
	}
	return podmanImage{ID: "sha256:" + strings.TrimPrefix(out[0].ID, "sha256:"), DiffIDs: out[0].RootFS.Layers}
}

// TestPodmanBuildahOutputs: every output format of podman save, buildah
// push and skopeo copy to dir: loads, converts and verifies with imgtool
// to the image ID and diff IDs podman reports, and the docker-archive
// imgtool makes of it loads into Docker 20.10 to the same ID.
func TestPodmanBuildahOutputs(t *testing.T) {
	c := newContainersEnv(t)
	d := dockertest.Shared(t)
	tarPath, rootfs := rootfsTar(t, c.dir)
	// v1: podman import of a tar; v2: buildah from scratch + copy + commit
	c.run(t, "podman", "import", "--change", `CMD ["/bin/sh"]`, tarPath, "localhost/pbtest:v1")
	ctr := strings.TrimSpace(c.run(t, "buildah", "from", "scratch"))
	c.run(t, "buildah", "copy", ctr, filepath.Join(rootfs, "bin"), "/bin")
	c.run(t, "buildah", "copy", ctr, filepath.Join(rootfs, "hello"), "/etc/hello")
	c.run(t, "buildah", "config", "--cmd", "/bin/sh", "--env", "A=1", ctr)
	c.run(t, "buildah", "commit", "-q", ctr, "localhost/pbtest:v2")
	want := map[string]podmanImage{"v1": c.inspect(t, "localhost/pbtest:v1"), "v2": c.inspect(t, "localhost/pbtest:v2")}

	out := filepath.Join(c.dir, "out")
	if err := os.MkdirAll(out, 0o755); err != nil {
		t.Fatal(err)
	}
	at := func(n string) string { return filepath.Join(out, n) }
	cases := []struct {
		name, src string
		images    []string // tags of want it holds
		make      func()
	}{
		{"podman-docker-archive", "docker-archive:" + at("p-da.tar"), []string{"v1"},
			func() {
				c.run(t, "podman", "save", "-q", "--format", "docker-archive", "-o", at("p-da.tar"), "localhost/pbtest:v1")
			}},
		{"podman-oci-archive", "oci-archive:" + at("p-oa.tar"), []string{"v1"},
			func() {
				c.run(t, "podman", "save", "-q", "--format", "oci-archive", "-o", at("p-oa.tar"), "localhost/pbtest:v1")
			}},
		{"podman-oci-dir", "oci:" + at("p-oci"), []string{"v1"},
			func() {
				c.run(t, "podman", "save", "-q", "--format", "oci-dir", "-o", at("p-oci"), "localhost/pbtest:v1")
			}},
		{"podman-docker-dir", "dir:" + at("p-dir"), []string{"v1"},
			func() {
				c.run(t, "podman", "save", "-q", "--format", "docker-dir", "-o", at("p-dir"), "localhost/pbtest:v1")
			}},
		{"podman-multi-image-archive", "docker-archive:" + at("p-multi.tar"), []string{"v1", "v2"},
			func() {
				c.run(t, "podman", "save", "-q", "--multi-image-archive", "-o", at("p-multi.tar"), "localhost/pbtest:v1", "localhost/pbtest:v2")
			}},
		{"buildah-docker-archive", "docker-archive:" + at("b-da.tar"), []string{"v2"},
			func() { c.buildahPush(t, "docker-archive:"+at("b-da.tar")+":localhost/pbtest:v2") }},
		{"buildah-oci-archive", "oci-archive:" + at("b-oa.tar"), []string{"v2"},
			func() { c.buildahPush(t, "oci-archive:"+at("b-oa.tar")+":v2") }},
		{"buildah-oci", "oci:" + at("b-oci"), []string{"v2"},
			func() { c.buildahPush(t, "oci:"+at("b-oci")+":v2") }},
		{"buildah-dir", "dir:" + at("b-dir"), []string{"v2"},
			func() { c.buildahPush(t, "dir:"+at("b-dir")) }},
		{"skopeo-dir", "dir:" + at("s-dir"), []string{"v1"},
			func() {
				c.run(t, "skopeo", "--policy", c.policy, "copy", "-q", c.storageRef("localhost/pbtest:v1"), "dir:"+at("s-dir"))
			}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tc.make()
			checkPodmanOutput(t, d, tc.src, tc.images, want)
		})
	}
}

func (c *containersEnv) buildahPush(t *testing.T, dst string) {
	t.Helper()
	c.run(t, "buildah", "push", "-q", "--signature-policy", c.policy, "localhost/pbtest:v2", dst)
}

// checkPodmanOutput loads, verifies and converts src with imgtool and
// compares the image IDs and diff IDs with podman's, then loads imgtool's
// docker-archive of it into Docker.
func checkPodmanOutput(t *testing.T, d *dockertest.Daemon, src string, tags []string, want map[string]podmanImage) {
	t.Helper()
	store := newStore(t)
	dockertest.MustImgtool(t, "--root", store, "load", "-i", src)
	dockertest.MustImgtool(t, "verify", src)
	ids := strings.Fields(dockertest.MustImgtool(t, "--root", store, "images", "-a", "-q", "--no-trunc"))
	if len(ids) != len(tags) {
		t.Fatalf("loaded %q, podman's archive holds %v", ids, tags)
	}
	for _, tag := range tags {
		w := want[tag]
		if !contains(ids, w.ID) {
			t.Errorf("%s: store holds %q, podman's ID is %s", tag, ids, w.ID)
			continue
		}
		got := strings.TrimSpace(dockertest.MustImgtool(t, "--root", store, "inspect", "-f", "{{json .RootFS.Layers}}", w.ID))
		wantLayers, _ := json.Marshal(w.DiffIDs)
		if got != string(wantLayers) {
			t.Errorf("%s: diff IDs %s, podman's %s", tag, got, wantLayers)
		}
	}
	// convert to a docker-archive (one per image), then docker load
	for _, tag := range tags {
		w := want[tag]
		arch := filepath.Join(t.TempDir(), "d.tar")
		dockertest.MustImgtool(t, "convert", src+pick(src, w.ID), "docker-archive:"+arch)
		outp := d.Docker(t, "load", "-i", arch)
		if !strings.Contains(outp, strings.TrimPrefix(w.ID, "sha256:")) && !d.HasImage(w.ID) {
			t.Errorf("%s: docker load of imgtool's archive: %s (want %s)", tag, outp, w.ID)
		}
		if got := d.ImageID(t, w.ID); got != w.ID {
			t.Errorf("%s: docker has %s, podman's ID is %s", tag, got, w.ID)
		}
		d.Docker(t, "rmi", "-f", w.ID)
	}
}

// pick is the :REF that selects image id from src when src holds more than
// one image (a multi-image archive), by its config digest.
func pick(src, id string) string {
	if strings.HasSuffix(src, "p-multi.tar") {
		return ":" + id
	}
	return ""
}
