package interop

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/imgtool/imgtool/internal/ctrdtest"
	"github.com/imgtool/imgtool/internal/dockertest"
)

// The containerd image store (Docker 29's default): images that ctr
// imports into a private containerd are read by imgtool --root on its root,
// while containerd runs and while it is stopped; images imgtool writes while
// it is stopped are then complete, runnable and kept by containerd's GC.

// ctrdSource builds a two-layer image (one deletes a base file, so a
// whiteout) in the shared dockerd, saves it, and returns the archive, the
// image's Docker ID (its config digest) and its docker export tree.
func ctrdSource(t *testing.T, tag string) (archive, dockerID string, tree []string) {
	t.Helper()
	d := dockertest.Shared(t)
	base := dockertest.BaseImage(t, d, "")
	dockerID = d.Build(t, tag, "FROM "+base+"\nRUN echo hi > /f && rm /etc/motd\nRUN mkdir -p /d && echo x > /d/x\n", nil)
	t.Cleanup(func() { d.DockerErr("rmi", tag) })
	dir := t.TempDir()
	archive = filepath.Join(dir, "src.tar")
	d.Docker(t, "save", "-o", archive, tag)
	ctr := "ctrd-src-" + strings.NewReplacer(":", "-", "/", "-").Replace(tag)
	tree = dockerExportTree(t, d, tag, ctr, dir, nil)
	d.Docker(t, "rm", ctr) // so that the image can be removed and loaded again
	return archive, dockerID, tree
}

// ctrTarget is the target digest ctr lists for a fully qualified name.
func ctrTarget(t *testing.T, c *ctrdtest.Containerd, ns, name string) string {
	t.Helper()
	for _, line := range strings.Split(c.Ctr(t, ns, "images", "ls"), "\n") {
		f := strings.Fields(line)
		if len(f) > 2 && f[0] == name {
			return f[2]
		}
	}
	t.Fatalf("ctr images ls: no %s", name)
	return ""
}

func TestContainerdStoreRead(t *testing.T) {
	archive, dockerID, wantTree := ctrdSource(t, "ctrd-read:1")
	c := ctrdtest.Start(t)
	c.Ctr(t, "moby", "images", "import", archive)
	target := ctrTarget(t, c, "moby", "docker.io/library/ctrd-read:1")

	check := func(t *testing.T) { checkCtrdReads(t, c, target, dockerID, wantTree) }
	t.Run("running", func(t *testing.T) {
		check(t)
		checkWritesRefused(t, c, archive)
	})
	t.Run("stopped", func(t *testing.T) {
		if err := c.Stop(); err != nil {
			t.Fatal(err)
		}
		check(t)
	})
	t.Run("docker data root", func(t *testing.T) { checkDockerDataRoot(t, c, target) })
	t.Run("namespace", func(t *testing.T) {
		bad := dockertest.Imgtool(t, "--root", c.Root, "--namespace", "no/such", "images")
		if bad.Code == 0 || !strings.Contains(bad.Stderr, `invalid containerd namespace "no/such"`) {
			t.Errorf("--namespace no/such: exit %d, %q", bad.Code, bad.Stderr)
		}
		oneLine(t, "bad namespace", bad)
		r := dockertest.Imgtool(t, "--root", c.Root, "--namespace", "default", "images", "-q")
		if r.Code != 0 || strings.TrimSpace(r.Stdout) != "" {
			t.Errorf("images in namespace default: exit %d, %q %q", r.Code, r.Stdout, r.Stderr)
		}
		t.Setenv("IMGTOOL_NAMESPACE", "moby")
		if ids := dockertest.MustImgtool(t, "--root", c.Root, "images", "-q", "--no-trunc"); strings.TrimSpace(ids) != target {
			t.Errorf("IMGTOOL_NAMESPACE=moby images -q = %q, want %s", ids, target)
		}
	})
}

// checkCtrdReads: images, inspect, history, verify, check, convert, export
// and save of a ctr-imported image, against Docker and ctr.
func checkCtrdReads(t *testing.T, c *ctrdtest.Containerd, target, dockerID string, wantTree []string) {
	d := dockertest.Shared(t)
	ids := dockertest.MustImgtool(t, "--root", c.Root, "images", "--no-trunc", "--format", "{{.Repository}}:{{.Tag}} {{.ID}}")
	if want := "ctrd-read:1 " + target; strings.TrimSpace(ids) != want {
		t.Errorf("images = %q, want %q (Docker 29: the target digest is the ID)", ids, want)
	}
	got := dockertest.MustImgtool(t, "--root", c.Root, "inspect", "--format", "{{.Id}} {{json .RepoTags}} {{json .GraphDriver}}", "ctrd-read:1")
	if want := target + ` ["ctrd-read:1"] {"Data":null,"Name":"overlayfs"}`; strings.TrimSpace(got) != want {
		t.Errorf("inspect = %q, want %q", got, want)
	}
	hist := dockertest.MustImgtool(t, "--root", c.Root, "history", "--no-trunc", "--format", "{{.CreatedBy}}", "ctrd-read:1")
	if want, _, _ := d.DockerErr("history", "--no-trunc", "--format", "{{.CreatedBy}}", "ctrd-read:1"); hist != want {
		t.Errorf("history:\n%s\nwant (docker):\n%s", hist, want)
	}
	dockertest.MustImgtool(t, "--root", c.Root, "verify", "store:ctrd-read:1")
	dockertest.MustImgtool(t, "--root", c.Root, "check", "--deep")
	oci := filepath.Join(t.TempDir(), "oci")
	dockertest.MustImgtool(t, "--root", c.Root, "convert", "store:ctrd-read:1", "oci:"+oci)
	dockertest.MustImgtool(t, "verify", "oci:"+oci)
	if idx, err := os.ReadFile(filepath.Join(oci, "index.json")); err != nil || !strings.Contains(string(idx), target) {
		t.Errorf("convert store:… oci: index.json does not name the stored manifest %s: %s %v", target, idx, err)
	}
	exp := []byte(dockertest.MustImgtool(t, "--root", c.Root, "export", "ctrd-read:1"))
	if diff := lineDiff(wantTree, treeLines(exportTree(t, exp, false, false))); len(diff) > 0 {
		t.Errorf("imgtool export differs from docker export (- docker, + imgtool):\n%s", strings.Join(diff, "\n"))
	}
	// save, then docker load gives the image its config digest, the
	// ID Docker's classic store has for it
	out := filepath.Join(t.TempDir(), "saved.tar")
	dockertest.MustImgtool(t, "--root", c.Root, "save", "-o", out, "ctrd-read:1")
	d.Docker(t, "rmi", "ctrd-read:1")
	d.Docker(t, "load", "-i", out)
	if got := d.ImageID(t, "ctrd-read:1"); got != dockerID {
		t.Errorf("docker load of imgtool save: ID %s, want %s", got, dockerID)
	}
}

// checkWritesRefused: writes are refused while containerd runs, naming
// it, in one line; nothing changes.
func checkWritesRefused(t *testing.T, c *ctrdtest.Containerd, archive string) {
	// writes are refused while containerd runs, naming it; nothing changes
	before := c.Ctr(t, "moby", "images", "ls")
	blobs := contentBlobs(t, c)
	for _, args := range [][]string{{"tag", "ctrd-read:1", "ctrd-read:2"}, {"rmi", "ctrd-read:1"}, {"load", "-i", archive}} {
		r := dockertest.Imgtool(t, append([]string{"--root", c.Root}, args...)...)
		if r.Code == 0 || !strings.Contains(r.Stderr, "containerd is running on "+c.Root) {
			t.Errorf("%s while containerd runs: exit %d, stderr %q", args[0], r.Code, r.Stderr)
		}
		oneLine(t, args[0]+" while containerd runs", r)
	}
	if after := c.Ctr(t, "moby", "images", "ls"); after != before {
		t.Errorf("refused writes changed the image records:\n%s\n%s", before, after)
	}
	if after := contentBlobs(t, c); len(after) != len(blobs) {
		t.Errorf("refused writes changed the content store: %d blobs, were %d", len(after), len(blobs))
	}
}

// checkDockerDataRoot: Docker 29's shape, a data root with no
// image/<driver>, daemon.json enabling the containerd snapshotter, the
// system containerd's root named in its config file.
func checkDockerDataRoot(t *testing.T, c *ctrdtest.Containerd, target string) {
	// Docker 29's shape: a data root with no image/<driver>, daemon.json
	// enabling the containerd snapshotter, the system containerd's root
	// named in its config file
	dockerRoot := t.TempDir()
	for _, d := range []string{"containers", "volumes", "network", "buildkit"} {
		os.Mkdir(filepath.Join(dockerRoot, d), 0o710)
	}
	daemonJSON := filepath.Join(t.TempDir(), "daemon.json")
	os.WriteFile(daemonJSON, []byte(`{"features":{"containerd-snapshotter":true}}`), 0o600)
	t.Setenv("IMGTOOL_DOCKER_CONFIG_FILE", daemonJSON)
	t.Setenv("IMGTOOL_CONTAINERD_CONFIG", filepath.Join(t.TempDir(), "none.toml"))
	r := dockertest.Imgtool(t, "--root", dockerRoot, "images")
	if r.Code != 2 || !strings.Contains(r.Stderr, "daemon.json enables containerd-snapshotter") {
		t.Errorf("no containerd root: exit %d, stderr %q", r.Code, r.Stderr)
	}
	oneLine(t, "docker root without containerd", r)
	t.Setenv("IMGTOOL_CONTAINERD_CONFIG", c.Config)
	if ids := dockertest.MustImgtool(t, "--root", dockerRoot, "images", "-q", "--no-trunc"); strings.TrimSpace(ids) != target {
		t.Errorf("images -q on the Docker data root = %q, want %s", ids, target)
	}
	if names, _ := os.ReadDir(dockerRoot); len(names) != 4 {
		t.Errorf("the Docker data root changed: %d entries", len(names))
	}
}

func lineOf(out, prefix string) string {
	for _, l := range strings.Split(out, "\n") {
		if strings.HasPrefix(l, prefix+" ") {
			return l
		}
	}
	return ""
}

// contentBlobs lists the hex digests in the content store's blobs dir.
func contentBlobs(t *testing.T, c *ctrdtest.Containerd) map[string]bool {
	t.Helper()
	ents, err := os.ReadDir(filepath.Join(c.Root, "io.containerd.content.v1.content", "blobs", "sha256"))
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]bool{}
	for _, e := range ents {
		out[e.Name()] = true
	}
	return out
}

// TestForeignRootUntouched: a --root that holds files but no store is
// refused in one line with exit 2, for reads and writes, and left as it was.
func TestForeignRootUntouched(t *testing.T) {
	root := t.TempDir()
	os.WriteFile(filepath.Join(root, "notes.txt"), []byte("mine\n"), 0o644)
	os.Mkdir(filepath.Join(root, "src"), 0o755)
	tarball := filepath.Join(t.TempDir(), "empty.tar")
	os.WriteFile(tarball, make([]byte, 1024), 0o644)
	for _, args := range [][]string{{"images"}, {"import", tarball, "x:1"}, {"tag", "a", "b"}} {
		r := dockertest.Imgtool(t, append([]string{"--root", root}, args...)...)
		if r.Code != 2 || !strings.Contains(r.Stderr, root+" is not an image store (it holds notes.txt, src)") {
			t.Errorf("%v: exit %d, stderr %q", args, r.Code, r.Stderr)
		}
		oneLine(t, args[0], r)
	}
	if names, _ := os.ReadDir(root); len(names) != 2 {
		t.Errorf("the directory changed: %d entries", len(names))
	}
}

// TestContainerdStoreIndexTarget: an image record whose target is an
// index (ctr import --index-name) has the index digest as its ID, as
// Docker 29 shows it, and reads through the index to this platform's
// manifest.
func TestContainerdStoreIndexTarget(t *testing.T) {
	archive, dockerID, wantTree := ctrdSource(t, "ctrd-idx:1")
	c := ctrdtest.Start(t)
	c.Ctr(t, "moby", "images", "import", archive)
	oci := filepath.Join(t.TempDir(), "idx.tar")
	dockertest.MustImgtool(t, "--root", c.Root, "convert", "store:ctrd-idx:1", "oci-archive:"+oci)
	c.Ctr(t, "moby", "images", "import", "--index-name", "docker.io/library/ctrd-index:1", oci)
	index := ctrTarget(t, c, "moby", "docker.io/library/ctrd-index:1")
	manifest := ctrTarget(t, c, "moby", "docker.io/library/ctrd-idx:1")
	if index == manifest {
		t.Fatalf("precondition: ctr import --index-name gave the manifest %s as target", index)
	}
	got := dockertest.MustImgtool(t, "--root", c.Root, "inspect", "--format", "{{.Id}} {{json .RepoTags}}", "ctrd-index:1")
	if want := index + ` ["ctrd-index:1"]`; strings.TrimSpace(got) != want {
		t.Errorf("inspect = %q, want %q", got, want)
	}
	exp := []byte(dockertest.MustImgtool(t, "--root", c.Root, "export", "ctrd-index:1"))
	if diff := lineDiff(wantTree, treeLines(exportTree(t, exp, false, false))); len(diff) > 0 {
		t.Errorf("export through the index differs from docker export (- docker, + imgtool):\n%s", strings.Join(diff, "\n"))
	}
	dockertest.MustImgtool(t, "--root", c.Root, "verify", "store:ctrd-index:1")
	// saved, it loads into Docker as the same image (its classic ID)
	saved := filepath.Join(t.TempDir(), "saved.tar")
	dockertest.MustImgtool(t, "--root", c.Root, "save", "-o", saved, "ctrd-index:1")
	d := dockertest.Shared(t)
	d.Docker(t, "load", "-i", saved)
	t.Cleanup(func() { d.DockerErr("rmi", "ctrd-index:1") })
	if got := d.ImageID(t, "ctrd-index:1"); got != dockerID {
		t.Errorf("docker load of the saved index image: ID %s, want %s", got, dockerID)
	}
	if ids := dockertest.MustImgtool(t, "--root", c.Root, "images", "-q", "--no-trunc", "ctrd-index"); strings.TrimSpace(ids) != index {
		t.Errorf("images -q ctrd-index = %q, want %s", ids, index)
	}
}
