package interop

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/imgtool/imgtool/flatten"
	"github.com/imgtool/imgtool/internal/ctrdtest"
	"github.com/imgtool/imgtool/internal/dockertest"
)

// Writes into the containerd image store while containerd is stopped,
// then checked by containerd itself: ctr images check, ctr run, its GC.

func TestContainerdStoreWrite(t *testing.T) {
	archive, _, _ := ctrdSource(t, "ctrd-write:1")
	d := dockertest.Shared(t)
	baseArchive := filepath.Join(t.TempDir(), "base.tar")
	d.Docker(t, "save", "-o", baseArchive, dockertest.BaseImage(t, d, ""))
	// an image saved by ID: its archive has no names
	untagID := d.Build(t, "ctrd-untag:1", "FROM "+dockertest.BaseImage(t, d, "")+"\nRUN echo u > /u\n", nil)
	t.Cleanup(func() { d.DockerErr("rmi", "ctrd-untag:1") })
	untagArchive := filepath.Join(t.TempDir(), "untag.tar")
	d.Docker(t, "save", "-o", untagArchive, untagID)
	c := ctrdtest.Start(t)
	// another image, whose tags removed with --sync make containerd collect now
	c.Ctr(t, "moby", "images", "import", baseArchive)
	baseName := strings.TrimSpace(c.Ctr(t, "moby", "images", "ls", "-q"))
	for _, n := range []string{"1", "2", "3"} {
		c.Ctr(t, "moby", "images", "tag", baseName, "docker.io/library/gc-trigger:"+n)
	}
	if err := c.Stop(); err != nil {
		t.Fatal(err)
	}
	checkFailedLoadUntouched(t, c, archive)

	dockertest.MustImgtool(t, "--root", c.Root, "load", "-i", archive)
	dockertest.MustImgtool(t, "--root", c.Root, "load", "-i", untagArchive)
	dangling := strings.TrimSpace(dockertest.MustImgtool(t, "--root", c.Root, "images", "--no-trunc", "--format", "{{.Repository}}:{{.Tag}} {{.ID}}", "--filter", "dangling=true"))
	danglingID, ok := strings.CutPrefix(dangling, "<none>:<none> ")
	if !ok {
		t.Errorf("images --filter dangling=true after loading an archive without names: %q", dangling)
	}
	dockertest.MustImgtool(t, "--root", c.Root, "tag", "ctrd-write:1", "ctrd-copy:2")
	id := strings.TrimSpace(dockertest.MustImgtool(t, "--root", c.Root, "images", "-q", "--no-trunc", "ctrd-copy"))
	if err := c.Restart(); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"docker.io/library/ctrd-write:1", "docker.io/library/ctrd-copy:2"} {
		if got := ctrTarget(t, c, "moby", name); got != id {
			t.Errorf("ctr images ls %s: target %s, imgtool's ID %s", name, got, id)
		}
		if out := c.Ctr(t, "moby", "images", "check"); !strings.Contains(lineOf(out, name), "complete") {
			t.Errorf("ctr images check: %s is not complete:\n%s", name, out)
		}
	}
	if out := c.Ctr(t, "moby", "run", "--rm", "docker.io/library/ctrd-copy:2", "ctrd-run", "cat", "/f", "/d/x"); out != "hi\nx\n" {
		t.Errorf("ctr run: %q", out)
	}
	// containerd's collector keeps every blob imgtool recorded
	c.Ctr(t, "moby", "images", "rm", "--sync", "docker.io/library/gc-trigger:3")
	blobs := contentBlobs(t, c)
	for _, name := range []string{"docker.io/library/ctrd-copy:2", "moby-dangling@" + danglingID} {
		if out := c.Ctr(t, "moby", "images", "check"); !strings.Contains(lineOf(out, name), "complete") {
			t.Errorf("after GC, ctr images check: %s is not complete:\n%s", name, out)
		}
	}
	// rmi releases them: the next collection removes what only it held
	if err := c.Stop(); err != nil {
		t.Fatal(err)
	}
	out := dockertest.MustImgtool(t, "--root", c.Root, "rmi", "ctrd-write:1", "ctrd-copy:2")
	if !strings.Contains(out, "Untagged: ctrd-copy:2") || !strings.Contains(out, "Deleted: "+id) {
		t.Errorf("rmi output:\n%s", out)
	}
	if err := c.Restart(); err != nil {
		t.Fatal(err)
	}
	c.Ctr(t, "moby", "images", "rm", "--sync", "docker.io/library/gc-trigger:2")
	if left := contentBlobs(t, c); len(left) >= len(blobs) || left[strings.TrimPrefix(id, "sha256:")] {
		t.Errorf("after rmi and GC: %d blobs (was %d), manifest %s kept: %v", len(left), len(blobs), id, left[strings.TrimPrefix(id, "sha256:")])
	}
	if out := c.Ctr(t, "moby", "images", "check"); !strings.Contains(lineOf(out, "docker.io/library/gc-trigger:1"), "complete") {
		t.Errorf("after rmi and GC, the other image is not complete:\n%s", out)
	}
}

// TestContainerdStoreImportPushPull: push from the containerd store while
// containerd runs; with it stopped, pull the pushed image back and import
// a rootfs tar; containerd then finds both complete and runs them.
func TestContainerdStoreImportPushPull(t *testing.T) {
	archive, _, _ := ctrdSource(t, "ctrd-pp:1")
	reg := startRegistry(t, "", "")
	isolateDockerConfig(t, nil)
	c := ctrdtest.Start(t)
	c.Ctr(t, "moby", "images", "import", archive)
	target := ctrTarget(t, c, "moby", "docker.io/library/ctrd-pp:1")
	ref := reg.host + "/team/ctrd-pp:1"
	var res pushJSON
	decodeJSON(t, dockertest.MustImgtool(t, "--root", c.Root, "push", "--json", "ctrd-pp:1", ref), &res)
	rootfs := filepath.Join(t.TempDir(), "rootfs.tar")
	if err := os.WriteFile(rootfs, []byte(dockertest.MustImgtool(t, "--root", c.Root, "export", "ctrd-pp:1")), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := c.Stop(); err != nil {
		t.Fatal(err)
	}
	dockertest.MustImgtool(t, "--root", c.Root, "rmi", "ctrd-pp:1")
	dockertest.MustImgtool(t, "--root", c.Root, "pull", ref)
	dockertest.MustImgtool(t, "--root", c.Root, "import", rootfs, "ctrd-imp:1")
	pulled := strings.TrimSpace(dockertest.MustImgtool(t, "--root", c.Root, "images", "-q", "--no-trunc", ref))
	if pulled != res.Digest {
		t.Errorf("pulled image ID %s, the pushed manifest digest %s (stored target %s)", pulled, res.Digest, target)
	}
	if _, err := os.Stat(filepath.Join(c.Root, "image")); err == nil {
		t.Errorf("imgtool made an image/ dir inside containerd's root")
	}
	if err := c.Restart(); err != nil {
		t.Fatal(err)
	}
	check := c.Ctr(t, "moby", "images", "check")
	for _, name := range []string{ref, "docker.io/library/ctrd-imp:1"} {
		if !strings.Contains(lineOf(check, name), "complete") {
			t.Errorf("ctr images check: %s is not complete:\n%s", name, check)
		}
		if out := c.Ctr(t, "moby", "run", "--rm", name, "ctrd-run", "cat", "/f", "/d/x"); out != "hi\nx\n" {
			t.Errorf("ctr run %s: %q", name, out)
		}
	}
}

// TestContainerdStoreDockerContainer: a Docker 29 container is
// containers/<id>/config.v2.json in the Docker data root and a containerd
// snapshot keyed by its ID. ctr runs a container that changes the image's
// files (its snapshot stays), a Docker-shaped data root names it, and
// imgtool export gives the tree the kernel's overlay mount of that
// snapshot gives (tarred by GNU tar), while containerd runs and stopped.
func TestContainerdStoreDockerContainer(t *testing.T) {
	dockertest.Require(t, "tar", "mount", "umount")
	archive, _, imageTree := ctrdSource(t, "ctrd-ct:1")
	c := ctrdtest.Start(t)
	c.Ctr(t, "moby", "images", "import", archive)
	target := ctrTarget(t, c, "moby", "docker.io/library/ctrd-ct:1")
	cid := strings.Repeat("c29", 21) + "0"
	c.Ctr(t, "moby", "run", "docker.io/library/ctrd-ct:1", cid, "sh", "-c", "echo new > /new && rm /f && rm -r /d && mkdir /d && echo y > /d/y")
	t.Cleanup(func() { c.CtrErr("moby", "containers", "rm", cid) })

	dockerRoot := t.TempDir()
	for _, d := range []string{"containers/" + cid, "volumes"} {
		os.MkdirAll(filepath.Join(dockerRoot, d), 0o710)
	}
	cfg := `{"ID":"` + cid + `","Name":"/c29","Image":"` + target + `","Driver":"overlayfs","Created":"2026-01-02T03:04:05Z",` +
		`"Path":"sh","Args":["-c","echo new"],"Config":{"Image":"ctrd-ct:1"},"State":{"Running":false,"ExitCode":0,"StartedAt":"2026-01-02T03:04:06Z","FinishedAt":"2026-01-02T03:04:07Z"}}`
	if err := os.WriteFile(filepath.Join(dockerRoot, "containers", cid, "config.v2.json"), []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("IMGTOOL_CONTAINERD_CONFIG", c.Config)

	want := mountedTree(t, c, cid)
	wantDiff := snapshotDiff(t, c, cid)
	check := func(t *testing.T) {
		ps := dockertest.MustImgtool(t, "--root", dockerRoot, "ps", "-a", "--no-trunc", "--format", "{{.ID}} {{.Names}} {{.Status}}")
		if !strings.HasPrefix(ps, cid+" c29 Exited (0) ") {
			t.Errorf("ps -a: %q", ps)
		}
		exp := []byte(dockertest.MustImgtool(t, "--root", dockerRoot, "export", "c29"))
		if diff := lineDiff(want, treeLines(exportTree(t, exp, true, true))); len(diff) > 0 {
			t.Errorf("imgtool export differs from the overlay mount of the snapshot (- mount, + imgtool):\n%s", strings.Join(diff, "\n"))
		}
		r := dockertest.Imgtool(t, "--root", dockerRoot, "rm", "c29")
		if r.Code == 0 || !strings.Contains(r.Stderr, "read-only to imgtool") && !strings.Contains(r.Stderr, "containerd is running") {
			t.Errorf("rm: exit %d, %q", r.Code, r.Stderr)
		}
		oneLine(t, "rm", r)
	}
	t.Run("running", check)
	t.Run("stopped", func(t *testing.T) {
		if err := c.Stop(); err != nil {
			t.Fatal(err)
		}
		check(t)
	})
	t.Run("commit", func(t *testing.T) {
		// committed offline, then run by containerd
		dockertest.MustImgtool(t, "--root", dockerRoot, "commit", "c29", "ctrd-committed:1")
		if err := c.Restart(); err != nil {
			t.Fatal(err)
		}
		name := "docker.io/library/ctrd-committed:1"
		if out := c.Ctr(t, "moby", "images", "check"); !strings.Contains(lineOf(out, name), "complete") {
			t.Errorf("ctr images check: %s is not complete:\n%s", name, out)
		}
		if out := c.Ctr(t, "moby", "run", "--rm", name, "ctrd-run2", "sh", "-c", "cat /new /d/y; test -e /f || echo gone"); out != "new\ny\ngone\n" {
			t.Errorf("ctr run of the committed image: %q", out)
		}
		// the committed layer makes the change containerd's own diff of the
		// snapshot makes: the same entries added or changed, the same image
		// paths removed (imgtool writes Docker's overlay2 form: whiteouts
		// 0600, an opaque marker for a directory made anew; containerd's
		// walking differ whiteouts with mode 0 what the new directory lacks)
		saved := filepath.Join(t.TempDir(), "committed.tar")
		dockertest.MustImgtool(t, "--root", dockerRoot, "save", "-o", saved, "ctrd-committed:1")
		got := layerTree(t, topLayer(t, saved))
		wantKept, wantGone := layerChange(wantDiff, imageTree)
		gotKept, gotGone := layerChange(got, imageTree)
		if diff := lineDiff(wantKept, gotKept); len(diff) > 0 || len(wantKept) == 0 {
			t.Errorf("committed layer's entries differ from ctr snapshots diff of the container (- ctr, + imgtool):\n%s", strings.Join(diff, "\n"))
		}
		if diff := lineDiff(wantGone, gotGone); len(diff) > 0 || len(wantGone) == 0 {
			t.Errorf("paths the committed layer removes differ from ctr snapshots diff's (- ctr, + imgtool):\n%s", strings.Join(diff, "\n"))
		}
	})
}

// mountedTree mounts a container's active snapshot as containerd gives
// it (ctr snapshots mounts) and describes GNU tar's archive of it.
func mountedTree(t *testing.T, c *ctrdtest.Containerd, key string) []string {
	t.Helper()
	mnt := t.TempDir()
	cmd := c.Ctr(t, "moby", "snapshots", "mounts", mnt, key)
	if out, err := runCmd("sh", "-c", cmd); err != nil {
		t.Fatalf("%s: %v %s", cmd, err, out)
	}
	defer runCmd("umount", mnt)
	tarPath := filepath.Join(t.TempDir(), "mounted.tar")
	if out, err := runCmd("tar", "-C", mnt, "--numeric-owner", "-cf", tarPath, "."); err != nil {
		t.Fatalf("tar: %v %s", err, out)
	}
	b, err := os.ReadFile(tarPath)
	if err != nil {
		t.Fatal(err)
	}
	return treeLines(exportTree(t, b, true, true))
}

// snapshotDiff is containerd's diff of a snapshot against its parent
// (ctr snapshots diff writes it, an uncompressed tar, on stdout),
// described entry by entry.
func snapshotDiff(t *testing.T, c *ctrdtest.Containerd, key string) []string {
	t.Helper()
	out := c.Ctr(t, "moby", "snapshots", "diff", "--media-type", "application/vnd.oci.image.layer.v1.tar", key)
	return layerTree(t, []byte(out))
}

// layerChange splits a layer's entries (layerTree lines) into those it
// adds or changes and the paths of lower (tree lines, path first) it
// removes: by a whiteout, or under a directory an opaque marker resets
// and the layer does not add again.
func layerChange(layer, lower []string) (kept, gone []string) {
	added := map[string]bool{}
	var whiteouts, opaque []string
	for _, l := range layer {
		p := strings.Fields(l)[0]
		dir, base := filepath.Split(p)
		switch {
		case base == ".wh..wh..opq":
			opaque = append(opaque, dir)
		case strings.HasPrefix(base, ".wh."):
			whiteouts = append(whiteouts, dir+strings.TrimPrefix(base, ".wh."))
		default:
			added[p] = true
			kept = append(kept, l)
		}
	}
	for _, l := range lower {
		p := strings.Fields(l)[0]
		if added[p] {
			continue
		}
		removed := false
		for _, w := range whiteouts {
			removed = removed || p == w || strings.HasPrefix(p, w+"/")
		}
		for _, o := range opaque {
			removed = removed || strings.HasPrefix(p, o)
		}
		if removed {
			gone = append(gone, p)
		}
	}
	return kept, gone
}

// topLayer is the last layer of a docker save archive's one image.
func topLayer(t *testing.T, archive string) []byte {
	t.Helper()
	files := tarFiles(t, archive)
	var items []struct{ Layers []string }
	if err := json.Unmarshal(files["manifest.json"], &items); err != nil || len(items) != 1 || len(items[0].Layers) == 0 {
		t.Fatalf("manifest.json = %s (%v)", files["manifest.json"], err)
	}
	b := files[items[0].Layers[len(items[0].Layers)-1]]
	if len(b) > 2 && b[0] == 0x1f && b[1] == 0x8b {
		zr, err := gzip.NewReader(bytes.NewReader(b))
		if err != nil {
			t.Fatal(err)
		}
		if b, err = io.ReadAll(zr); err != nil {
			t.Fatal(err)
		}
	}
	return b
}

// layerTree describes every entry of a layer tar, whiteouts included.
func layerTree(t *testing.T, layer []byte) []string {
	t.Helper()
	nodes, err := flatten.Describe(bytes.NewReader(layer))
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, n := range nodes {
		if n.Path != "" {
			out = append(out, treeLine(n))
		}
	}
	return out
}

// checkFailedLoadUntouched: a load that fails half way (the top layer's
// /d/x changed, so its diff ID is wrong once the other blobs are in)
// leaves blobs, image records and ingest/ as they were.
func checkFailedLoadUntouched(t *testing.T, c *ctrdtest.Containerd, archive string) {
	t.Helper()
	src, err := os.ReadFile(archive)
	if err != nil {
		t.Fatal(err)
	}
	at := bytes.Index(src, []byte("d/x\x00"))
	if at < 0 || src[at+512] != 'x' {
		t.Fatalf("precondition: no d/x entry with content x in %s", archive)
	}
	src[at+512] = 'z'
	cut := filepath.Join(t.TempDir(), "corrupt.tar")
	os.WriteFile(cut, src, 0o644)
	blobsBefore, imagesBefore := contentBlobs(t, c), dockertest.MustImgtool(t, "--root", c.Root, "images", "-a", "--no-trunc")
	r := dockertest.Imgtool(t, "--root", c.Root, "load", "-i", cut)
	if r.Code == 0 {
		t.Errorf("load of a corrupt archive succeeded: %s", r.Stdout)
	}
	oneLine(t, "corrupt load", r)
	if after := contentBlobs(t, c); len(after) != len(blobsBefore) {
		t.Errorf("failed load left blobs: %d, were %d", len(after), len(blobsBefore))
	}
	if after := dockertest.MustImgtool(t, "--root", c.Root, "images", "-a", "--no-trunc"); after != imagesBefore {
		t.Errorf("failed load changed the images:\n%s\n%s", imagesBefore, after)
	}
	if ents, _ := os.ReadDir(filepath.Join(c.Root, "io.containerd.content.v1.content", "ingest")); len(ents) != 0 {
		t.Errorf("failed load left %d ingest entries", len(ents))
	}
}
