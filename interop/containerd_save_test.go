package interop

import (
	"archive/tar"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"testing"

	"github.com/imgtool/imgtool/internal/ctrdtest"
	"github.com/imgtool/imgtool/internal/dockertest"
)

// Saving from the containerd store writes what Docker 29's docker save
// writes: the stored manifest and the content store's blobs (compressed
// layers stay compressed), so the target digest, Docker 29's image ID,
// survives every reload; Docker 20.10 still loads the archive with the
// config digest as ID.

func TestContainerdStoreSave(t *testing.T) {
	legacy, dockerID, _ := ctrdSource(t, "ctrd-save:1")
	// a gzip OCI archive, as pulled images are stored (compressed layers)
	gz := filepath.Join(t.TempDir(), "gz.tar")
	dockertest.MustImgtool(t, "convert", "--compress", "gzip", "docker-archive:"+legacy, "oci-archive:"+gz)
	src := ctrdtest.Start(t)
	src.Ctr(t, "moby", "images", "import", gz)
	target := ctrTarget(t, src, "moby", "docker.io/library/ctrd-save:1")
	// Docker 29 shows name@target for every name of a containerd-store image
	rd := dockertest.MustImgtool(t, "--root", src.Root, "inspect", "--format", "{{json .RepoTags}} {{json .RepoDigests}}", "ctrd-save:1")
	if want := `["ctrd-save:1"] ["ctrd-save@` + target + `"]`; strings.TrimSpace(rd) != want {
		t.Errorf("inspect RepoTags RepoDigests = %s, want %s", rd, want)
	}
	checkSavedFromContainerd(t, src, "ctrd-save:1", target, target, dockerID)
}

// TestContainerdStoreSaveIndex: an image record that targets an index
// (a single-platform pull of a multi-platform image: one child is not in
// the content store) is saved whole, the index bytes kept.
func TestContainerdStoreSaveIndex(t *testing.T) {
	layout, dockerID := ctrdLayout(t, "ctrd-idx:1")
	manifest := wrapInIndex(t, layout, "docker.io/library/ctrd-idx:1")
	archive := tarLayout(t, layout)
	src := ctrdtest.Start(t)
	src.Ctr(t, "moby", "images", "import", archive)
	target := ctrTarget(t, src, "moby", "docker.io/library/ctrd-idx:1")
	if target == manifest {
		t.Fatalf("ctr import targets the manifest %s, not the index", target)
	}
	checkSavedFromContainerd(t, src, "ctrd-idx:1", target, manifest, dockerID)
}

// ctrdLayout is ctrdSource's image as an OCI layout with gzip layers (as
// pulled images are stored), and its Docker ID.
func ctrdLayout(t *testing.T, tag string) (layout, dockerID string) {
	t.Helper()
	legacy, dockerID, _ := ctrdSource(t, tag)
	layout = filepath.Join(t.TempDir(), "layout")
	dockertest.MustImgtool(t, "convert", "--compress", "gzip", "docker-archive:"+legacy, "oci:"+layout)
	return layout, dockerID
}

// tarLayout tars an OCI layout into an OCI archive (by GNU tar, as a user would).
func tarLayout(t *testing.T, layout string) string {
	t.Helper()
	archive := filepath.Join(t.TempDir(), "layout.tar")
	if out, err := exec.Command("tar", "-C", layout, "-cf", archive, "oci-layout", "index.json", "blobs").CombinedOutput(); err != nil {
		t.Fatalf("tar: %v %s", err, out)
	}
	return archive
}

// wrapInIndex makes the layout's one image the child of an index (this
// host's platform, beside an s390x child that is not in the layout) named
// name; it returns the image's manifest digest.
func wrapInIndex(t *testing.T, layout, name string) string {
	t.Helper()
	var idx map[string]any
	b, err := os.ReadFile(filepath.Join(layout, "index.json"))
	if err == nil {
		err = json.Unmarshal(b, &idx)
	}
	if err != nil {
		t.Fatal(err)
	}
	man := idx["manifests"].([]any)[0].(map[string]any)
	delete(man, "annotations")
	man["platform"] = map[string]string{"architecture": runtime.GOARCH, "os": "linux"}
	missing := map[string]any{"mediaType": man["mediaType"], "size": 2,
		"digest": "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a", "platform": map[string]string{"architecture": "s390x", "os": "linux"}}
	inner, _ := json.Marshal(map[string]any{"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json", "manifests": []any{man, missing}})
	sum := sha256.Sum256(inner)
	hexd := hex.EncodeToString(sum[:])
	if err := os.WriteFile(filepath.Join(layout, "blobs", "sha256", hexd), inner, 0o644); err != nil {
		t.Fatal(err)
	}
	top, _ := json.Marshal(map[string]any{"schemaVersion": 2, "manifests": []any{map[string]any{
		"mediaType": "application/vnd.oci.image.index.v1+json", "digest": "sha256:" + hexd, "size": len(inner),
		"annotations": map[string]string{"io.containerd.image.name": name, "org.opencontainers.image.ref.name": "1"}}}})
	if err := os.WriteFile(filepath.Join(layout, "index.json"), top, 0o644); err != nil {
		t.Fatal(err)
	}
	return man["digest"].(string)
}

// checkSavedFromContainerd: imgtool save of ref from src writes the stored
// target and blobs; ctr import and imgtool load into other containerd
// stores give the same target, and Docker 20.10 loads it with the config
// digest as ID.
func checkSavedFromContainerd(t *testing.T, src *ctrdtest.Containerd, ref, target, manifest, dockerID string) {
	name := "docker.io/library/" + ref
	saved := filepath.Join(t.TempDir(), "saved.tar")
	dockertest.MustImgtool(t, "--root", src.Root, "save", "-o", saved, ref)
	checkStoredArchive(t, src, saved, target, manifest)
	if got := strings.TrimSpace(dockertest.MustImgtool(t, "digest", "docker-archive:"+saved)); got != target {
		t.Errorf("imgtool digest of the save = %s, want the target %s", got, target)
	}
	if got := strings.TrimSpace(dockertest.MustImgtool(t, "--root", src.Root, "digest", ref)); got != target {
		t.Errorf("imgtool digest of the store image = %s, want the target %s", got, target)
	}
	t.Run("oci-archive", func(t *testing.T) {
		out := filepath.Join(t.TempDir(), "oci.tar")
		dockertest.MustImgtool(t, "--root", src.Root, "convert", "store:"+ref, "oci-archive:"+out)
		if got := strings.TrimSpace(dockertest.MustImgtool(t, "digest", "oci-archive:"+out)); got != target {
			t.Errorf("imgtool digest of convert store:… oci-archive: = %s, want %s", got, target)
		}
	})
	t.Run("ctr import", func(t *testing.T) {
		dst := ctrdtest.Start(t)
		dst.Ctr(t, "moby", "images", "import", saved)
		if got := ctrTarget(t, dst, "moby", name); got != target {
			t.Errorf("ctr images import of imgtool save: target %s, want %s", got, target)
		}
		ctrCheckComplete(t, dst, name)
	})
	t.Run("imgtool load offline", func(t *testing.T) {
		byCtr := ctrdtest.Start(t)
		byCtr.Ctr(t, "moby", "images", "import", saved)
		dst := ctrdtest.Start(t)
		if err := dst.Stop(); err != nil {
			t.Fatal(err)
		}
		dockertest.MustImgtool(t, "--root", dst.Root, "load", "-i", saved)
		// Docker 29's load labels every child of the index, the absent
		// one too; ctr 1.6's import only the host's
		checkLoadedAsCtrImports(t, dst, byCtr, ref, name, target, target != manifest)
	})
	t.Run("docker 20.10 load", func(t *testing.T) {
		d := dockertest.Shared(t)
		d.DockerErr("rmi", ref)
		d.Docker(t, "load", "-i", saved)
		if got := d.ImageID(t, ref); got != dockerID {
			t.Errorf("docker load of imgtool save: ID %s, want %s (the config digest)", got, dockerID)
		}
		if out := d.Run(t, ref, "cat", "/d/x"); strings.TrimSpace(out) != "x" {
			t.Errorf("docker run of the loaded image: /d/x = %q", out)
		}
	})
}

// ctrCheckComplete: ctr images check lists name as complete.
func ctrCheckComplete(t *testing.T, c *ctrdtest.Containerd, name string) {
	t.Helper()
	line := lineOf(c.Ctr(t, "moby", "images", "check"), name)
	if !strings.Contains(line, "complete") {
		t.Errorf("ctr images check: %q, want %s complete", line, name)
	}
}

// checkStoredArchive: the save's index.json names the stored target,
// manifest.json's layers are the blobs the stored manifest names, and
// every blob in the archive is byte for byte the content store's.
func checkStoredArchive(t *testing.T, c *ctrdtest.Containerd, archive, target, manifest string) {
	t.Helper()
	files := tarFiles(t, archive)
	var index struct {
		Manifests []struct{ Digest string }
	}
	if err := json.Unmarshal(files["index.json"], &index); err != nil || len(index.Manifests) != 1 || index.Manifests[0].Digest != target {
		t.Fatalf("index.json = %s (%v), want one entry for %s", files["index.json"], err, target)
	}
	var man struct {
		Layers []struct{ Digest string }
	}
	if err := json.Unmarshal(files["blobs/sha256/"+strings.TrimPrefix(manifest, "sha256:")], &man); err != nil {
		t.Fatalf("stored manifest: %v", err)
	}
	var items []struct{ Layers []string }
	if err := json.Unmarshal(files["manifest.json"], &items); err != nil || len(items) != 1 || len(items[0].Layers) != len(man.Layers) {
		t.Fatalf("manifest.json = %s (%v)", files["manifest.json"], err)
	}
	for i, l := range man.Layers {
		if want := "blobs/sha256/" + strings.TrimPrefix(l.Digest, "sha256:"); items[0].Layers[i] != want {
			t.Errorf("manifest.json layer %d = %s, want the stored blob %s", i, items[0].Layers[i], want)
		}
	}
	store := filepath.Join(c.Root, "io.containerd.content.v1.content")
	for n, b := range files {
		if !strings.HasPrefix(n, "blobs/sha256/") || len(n) == len("blobs/sha256/") {
			continue
		}
		want, err := os.ReadFile(filepath.Join(store, n))
		if err != nil || string(want) != string(b) {
			t.Errorf("%s is not the content store's blob (%v)", n, err)
		}
	}
}

// tarFiles reads a tar's regular files into memory (test archives are small).
func tarFiles(t *testing.T, path string) map[string][]byte {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out := map[string][]byte{}
	tr := tar.NewReader(f)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		if h.Typeflag == tar.TypeReg {
			if out[h.Name], err = io.ReadAll(tr); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// checkLoadedAsCtrImports: ref (name to ctr), which imgtool loaded into
// the stopped containerd dst, is what ctr images import (or pull) made of
// the same source in byCtr: the same target digest and media type (the
// index, for a multi-platform image), the same blobs and GC labels on the
// target (with everyChild, m.N to every manifest of the index instead);
// imgtool check --deep passes, imgtool shows the target as the ID and
// saves it again with that digest; containerd finds the image complete,
// runs it and its collector keeps every blob.
func checkLoadedAsCtrImports(t *testing.T, dst, byCtr *ctrdtest.Containerd, ref, name, target string, everyChild bool) {
	t.Helper()
	repo := ref[:strings.LastIndex(ref, ":")]
	for _, cmd := range [][]string{{"inspect", "--format", "{{.Id}}", ref}, {"images", "-q", "--no-trunc", repo}} {
		if got := strings.TrimSpace(dockertest.MustImgtool(t, append([]string{"--root", dst.Root}, cmd...)...)); got != target {
			t.Errorf("imgtool %s after load = %q, want the target %s", cmd[0], got, target)
		}
	}
	dockertest.MustImgtool(t, "--root", dst.Root, "check", "--deep")
	resaved := filepath.Join(t.TempDir(), "resaved.tar")
	dockertest.MustImgtool(t, "--root", dst.Root, "save", "-o", resaved, ref)
	if got := strings.TrimSpace(dockertest.MustImgtool(t, "digest", "docker-archive:"+resaved)); got != target {
		t.Errorf("imgtool digest of the save after load = %s, want %s", got, target)
	}
	if err := dst.Restart(); err != nil {
		t.Fatal(err)
	}
	want, got := ctrImageLine(t, byCtr, name), ctrImageLine(t, dst, name)
	if got[2] != target || got[1] != want[1] || got[2] != want[2] {
		t.Errorf("ctr images ls after imgtool load: %s %s, ctr import gives %s %s (target %s)", got[1], got[2], want[1], want[2], target)
	}
	wantLabels := ctrContentLabels(t, byCtr, target)
	if everyChild {
		wantLabels = childLabels(t, dst, target)
	}
	if l := ctrContentLabels(t, dst, target); l != wantLabels {
		t.Errorf("labels of the target blob: imgtool load %q, want %q", l, wantLabels)
	}
	if b, w := contentBlobs(t, dst), contentBlobs(t, byCtr); !sameKeys(b, w) {
		t.Errorf("content store after imgtool load: %d blobs %v, after ctr import %d %v", len(b), b, len(w), w)
	}
	ctrCheckComplete(t, dst, name)
	if out := dst.Ctr(t, "moby", "run", "--rm", name, "ctrd-load-run", "cat", "/d/x"); out != "x\n" {
		t.Errorf("ctr run of the loaded image: /d/x = %q", out)
	}
	// removing another name with --sync makes containerd collect now
	blobs := contentBlobs(t, dst)
	dst.Ctr(t, "moby", "images", "tag", name, "docker.io/library/gc-trigger:1")
	dst.Ctr(t, "moby", "images", "rm", "--sync", "docker.io/library/gc-trigger:1")
	if left := contentBlobs(t, dst); !sameKeys(left, blobs) {
		t.Errorf("after GC: blobs %v, before %v", left, blobs)
	}
	ctrCheckComplete(t, dst, name)
}

// ctrImageLine is the fields of ctr images ls's line for name (REF TYPE
// DIGEST …).
func ctrImageLine(t *testing.T, c *ctrdtest.Containerd, name string) []string {
	t.Helper()
	f := strings.Fields(lineOf(c.Ctr(t, "moby", "images", "ls"), name))
	if len(f) < 3 {
		t.Fatalf("ctr images ls: no %s", name)
	}
	return f
}

// ctrContentLabels is the GC labels ctr content ls shows for a blob,
// sorted (a pull adds distribution source labels imgtool does not write).
func ctrContentLabels(t *testing.T, c *ctrdtest.Containerd, dgst string) string {
	t.Helper()
	out := c.Ctr(t, "moby", "content", "ls")
	for _, line := range strings.Split(out, "\n") {
		if f := strings.Fields(line); len(f) > 1 && f[0] == dgst {
			var labels []string
			for _, l := range strings.Split(f[len(f)-1], ",") {
				if strings.HasPrefix(l, "containerd.io/gc.ref.") {
					labels = append(labels, l)
				}
			}
			sort.Strings(labels)
			return strings.Join(labels, ",")
		}
	}
	t.Fatalf("ctr content ls: no %s:\n%s", dgst, out)
	return ""
}

// childLabels is containerd.io/gc.ref.content.m.N for every manifest of
// the stored index dgst, sorted as ctrContentLabels sorts.
func childLabels(t *testing.T, c *ctrdtest.Containerd, dgst string) string {
	t.Helper()
	var idx struct{ Manifests []struct{ Digest string } }
	b, err := os.ReadFile(filepath.Join(c.Root, "io.containerd.content.v1.content", "blobs", "sha256", strings.TrimPrefix(dgst, "sha256:")))
	if err == nil {
		err = json.Unmarshal(b, &idx)
	}
	if err != nil {
		t.Fatal(err)
	}
	var labels []string
	for i, m := range idx.Manifests {
		labels = append(labels, fmt.Sprintf("containerd.io/gc.ref.content.m.%d=%s", i, m.Digest))
	}
	sort.Strings(labels)
	return strings.Join(labels, ",")
}

func sameKeys(a, b map[string]bool) bool {
	if len(a) != len(b) {
		return false
	}
	for k := range a {
		if !b[k] {
			return false
		}
	}
	return true
}
