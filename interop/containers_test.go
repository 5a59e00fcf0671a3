package interop

// Containers, export, commit and import (GitHub issue 3): imgtool against
// Docker's own export/commit/import, on a Docker data root (daemon running
// and stopped) and on imgtool's own store.

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/klauspost/compress/zstd"

	"github.com/imgtool/imgtool/flatten"
	"github.com/imgtool/imgtool/internal/dockertest"
)

// ---- helpers ----------------------------------------------------------------

func ctrDescribe(t *testing.T, what string, r io.Reader) []flatten.Node {
	t.Helper()
	nodes, err := flatten.Describe(r)
	if err != nil {
		t.Fatalf("%s: not a tar: %v", what, err)
	}
	return nodes
}

func ctrDescribeFile(t *testing.T, p string) []flatten.Node {
	t.Helper()
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	return ctrDescribe(t, p, f)
}

// ctrSameTree fails the test with every difference between Docker's tree
// (want, "-") and imgtool's (got, "+").
func ctrSameTree(t *testing.T, what string, want, got []flatten.Node) {
	t.Helper()
	if d := flatten.DiffTrees(want, got); d != nil {
		t.Errorf("%s: trees differ (- docker, + imgtool), %d lines:\n%s", what, len(d), strings.Join(d, "\n"))
	}
}

func ctrNode(nodes []flatten.Node, p string) (flatten.Node, bool) {
	for _, n := range nodes {
		if n.Path == p {
			return n, true
		}
	}
	return flatten.Node{}, false
}

// ctrFail asserts a failed imgtool run: non-zero exit, one line on
// stderr containing want.
func ctrFail(t *testing.T, what string, r *dockertest.Result, want string) {
	t.Helper()
	if r.OK() {
		t.Errorf("%s succeeded: %s", what, r)
		return
	}
	oneLine(t, what, r)
	if !strings.Contains(r.Stderr, want) {
		t.Errorf("%s: stderr %q lacks %q", what, r.Stderr, want)
	}
}

// ctrBusyboxRootfs returns a rootfs tar (uncompressed, deterministic) of
// the host's static busybox with applet symlinks in /bin, /etc/motd, /tmp.
func ctrBusyboxRootfs(t *testing.T) []byte {
	t.Helper()
	dockertest.Require(t, "busybox")
	bbPath, _ := exec.LookPath("busybox")
	bb, err := os.ReadFile(bbPath)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	mt := time.Unix(1700000000, 0)
	add := func(h *tar.Header, body []byte) {
		h.ModTime = mt
		h.Size = int64(len(body))
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write(body); err != nil {
			t.Fatal(err)
		}
	}
	for _, d := range []struct {
		name string
		mode int64
	}{{"bin/", 0o755}, {"etc/", 0o755}, {"root/", 0o700}, {"tmp/", 0o1777}} {
		add(&tar.Header{Name: d.name, Typeflag: tar.TypeDir, Mode: d.mode}, nil)
	}
	add(&tar.Header{Name: "bin/busybox", Typeflag: tar.TypeReg, Mode: 0o755}, bb)
	for _, a := range append([]string{"pwd", "env", "id", "awk", "sort"}, dockertest.BaseApplets...) {
		add(&tar.Header{Name: "bin/" + a, Typeflag: tar.TypeSymlink, Linkname: "busybox", Mode: 0o777}, nil)
	}
	add(&tar.Header{Name: "etc/motd", Typeflag: tar.TypeReg, Mode: 0o644}, []byte("hello from the rootfs\n"))
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func ctrWrite(t *testing.T, p string, b []byte) string {
	t.Helper()
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// ctrImage is the part of `imgtool inspect` / `docker image inspect` the
// tests look at.
type ctrImage struct {
	ID           string          `json:"Id"`
	Comment      string          `json:"Comment"`
	Created      string          `json:"Created"`
	Architecture string          `json:"Architecture"`
	Os           string          `json:"Os"`
	Config       json.RawMessage `json:"Config"`
	RootFS       struct {
		Layers []string `json:"Layers"`
	} `json:"RootFS"`
}

func ctrInspect(t *testing.T, store, ref string) ctrImage {
	t.Helper()
	out := dockertest.MustImgtool(t, "--root", store, "inspect", ref)
	var imgs []ctrImage
	if err := json.Unmarshal([]byte(out), &imgs); err != nil || len(imgs) != 1 {
		t.Fatalf("imgtool inspect %s: %v\n%s", ref, err, out)
	}
	return imgs[0]
}

// ctrConfig decodes a Config into a map (null -> empty map).
func ctrConfig(t *testing.T, raw []byte) map[string]any {
	t.Helper()
	m := map[string]any{}
	if len(raw) == 0 || string(raw) == "null" {
		return m
	}
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatalf("config %s: %v", raw, err)
	}
	return m
}

// ctrStripLsTimes drops the date columns of `ls -l` lines (busybox: perms
// links owner group size MON DAY TIME|YEAR name...): the init layer's
// directories carry the creation time of each container.
func ctrStripLsTimes(s string) string {
	var out []string
	for _, line := range strings.Split(s, "\n") {
		f := strings.Fields(line)
		if len(f) >= 9 && len(f[0]) == 10 && strings.ContainsAny(f[0][:1], "-dlcbps") {
			line = strings.Join(append(append([]string{}, f[:5]...), f[8:]...), " ")
		}
		if strings.HasSuffix(line, " proc") || strings.HasSuffix(line, " sys") {
			continue // their link counts are the host's
		}
		out = append(out, line)
	}
	return strings.Join(out, "\n")
}

// ctrLayerNames lists the cleaned entry names of every layer of ref in a
// docker save archive made by d.
func ctrLayerNames(t *testing.T, d *dockertest.Daemon, ref string) map[string]bool {
	t.Helper()
	p := filepath.Join(t.TempDir(), "save.tar")
	d.Docker(t, "save", "-o", p, ref)
	a := readArchive(t, p)
	names := map[string]bool{}
	a.eachLayerEntry(t, func(h *tar.Header) {
		names[strings.TrimSuffix(path.Clean(h.Name), "/")] = true
	})
	return names
}

func ctrSHA256(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		return "missing: " + err.Error()
	}
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// ---- Docker's flow, on a Docker data root ----------------------------------

// ctrChanges is what the container does: create, change and delete files
// (also in lower layers' dirs), replace dirs and files, a hardlink in the
// rw layer and one to a lower file, symlinks, a fifo, setuid/setgid/sticky
// modes, foreign ownership, a directory rename across layers.
const ctrChanges = `set -e
mkdir -p /new/sub
echo created > /new/file.txt
echo more >> /data/a.txt
chmod 0640 /data/h1
rm /data/empty /bin/sleep
rm -r /data/keep && echo nowafile > /data/keep
rm -r /data/opq && mkdir /data/opq && echo fresh > /data/opq/fresh.txt
rm /data/h2 && mkdir /data/h2 && echo in > /data/h2/in
mv /data/long /new/long-moved
echo h > /new/h1 && ln /new/h1 /new/h2
ln /data/ctx.txt /new/ctx-hard
ln -s ../data/a.txt /new/rel-sym && ln -s /nonexistent /new/dangling
rm /data/sym.txt && ln -s h1 /data/sym.txt
mknod /new/fifo p
echo s > /new/suid && chmod 4755 /new/suid
mkdir /new/sgid && chmod 2775 /new/sgid && chmod 1777 /new/sub
echo owned > /new/owned && busybox chown 1234:5678 /new/owned
echo in-etc > /etc/added
`

// ctrCheck describes a container's tree (no times: see ctrStripLsTimes).
var ctrCheck = []string{"sh", "-c", `exec 2>&1; ls -la / /data /new /etc; find /data /new /etc /bin | busybox sort | while read f; do stat -c '%n %A %u:%g %h %s %N' "$f"; done; for f in $(find /data /new -type f | busybox sort); do echo "== $f"; cat "$f"; done; true`}

func ctrRun(t *testing.T, d *dockertest.Daemon, image string) string {
	t.Helper()
	return ctrStripLsTimes(d.Run(t, image, ctrCheck...))
}

// TestContainerDockerFlow: docker run a container that changes files;
// imgtool export of it (daemon running, then stopped) equals docker export;
// imgtool commit of it with the daemon stopped gives an image Docker runs
// like its own commit, and that survives imgtool save -> docker load. Also
// imgtool export IMAGE equals docker export of a fresh container minus the
// init layer.
func TestContainerDockerFlow(t *testing.T) {
	d := dockertest.Start(t) // private: this test stops its daemon
	img := "interop-ctr:1"
	richImage(t, d, img, "ctr-flow")
	dir := t.TempDir()

	d.Docker(t, "run", "--network", "none", "--name", "ctr1", img, "sh", "-c", ctrChanges)

	dockerExport := filepath.Join(dir, "docker-export.tar")
	d.Docker(t, "export", "-o", dockerExport, "ctr1")
	want := ctrDescribeFile(t, dockerExport)
	// Preconditions: the container made what the test is about.
	for p, typ := range map[string]byte{"new/fifo": tar.TypeFifo, "new/h2": tar.TypeLink, "new/ctx-hard": tar.TypeLink,
		"new/rel-sym": tar.TypeSymlink, "data/keep": tar.TypeReg, "data/h2/in": tar.TypeReg, "data/opq/fresh.txt": tar.TypeReg,
		"new/long-moved": tar.TypeDir, ".dockerenv": tar.TypeReg, "etc/mtab": tar.TypeSymlink, "etc/added": tar.TypeReg} {
		if n, ok := ctrNode(want, p); !ok || n.Type != typ {
			t.Fatalf("precondition: docker export has no %s of type %c (%v)", p, typ, n)
		}
	}
	for _, p := range []string{"data/empty", "bin/sleep", "data/opq/new.txt", "data/long"} {
		if _, ok := ctrNode(want, p); ok {
			t.Fatalf("precondition: docker export still has %s", p)
		}
	}
	if n, _ := ctrNode(want, "new/suid"); n.Mode != 0o4755 {
		t.Fatalf("precondition: new/suid mode %04o", n.Mode)
	}

	t.Run("export-running", func(t *testing.T) {
		ours := filepath.Join(dir, "imgtool-export-running.tar")
		dockertest.MustImgtool(t, "--root", d.Root, "export", "-o", ours, "ctr1")
		ctrSameTree(t, "export ctr1 (daemon running)", want, ctrDescribeFile(t, ours))
		// By ID prefix too.
		id := d.Docker(t, "inspect", "-f", "{{.Id}}", "ctr1")
		out := dockertest.MustImgtool(t, "--root", d.Root, "export", id[:12])
		ctrSameTree(t, "export <id prefix>", want, ctrDescribe(t, "stdout", strings.NewReader(out)))
	})

	t.Run("export-image", func(t *testing.T) {
		d.Docker(t, "create", "--network", "none", "--name", "fresh", img)
		fresh := filepath.Join(dir, "docker-export-fresh.tar")
		d.Docker(t, "export", "-o", fresh, "fresh")
		d.Docker(t, "rm", "fresh")
		has := ctrLayerNames(t, d, img)
		drop := map[string]bool{".dockerenv": true, "dev/console": true, "dev/pts": true, "dev/shm": true,
			"etc/hostname": true, "etc/hosts": true, "etc/resolv.conf": true, "etc/mtab": true, "proc": true, "sys": true}
		for _, p := range []string{"dev", "etc"} {
			if !has[p] {
				drop[p] = true
			}
		}
		var wantImg []flatten.Node
		for _, n := range ctrDescribeFile(t, fresh) {
			if !drop[n.Path] {
				wantImg = append(wantImg, n)
			}
		}
		ours := filepath.Join(dir, "imgtool-export-image.tar")
		dockertest.MustImgtool(t, "--root", d.Root, "export", "-o", ours, img)
		ctrSameTree(t, "export "+img+" vs docker export of a fresh container minus the init layer", wantImg, ctrDescribeFile(t, ours))
	})

	// Docker's own commit, made while the daemon runs, to compare with.
	d.Docker(t, "commit", "ctr1", "test/dockercommitted:1")
	dockerCfg := d.Docker(t, "image", "inspect", "-f", "{{json .Config}}", "test/dockercommitted:1")
	dockerLayers := rootFSLayers(t, d, "test/dockercommitted:1")

	if err := d.Stop(); err != nil {
		t.Fatalf("stopping dockerd: %v", err)
	}
	restarted := false
	defer func() {
		if !restarted {
			d.Restart()
		}
	}()

	t.Run("export-stopped", func(t *testing.T) {
		out := dockertest.MustImgtool(t, "--root", d.Root, "export", "ctr1")
		ctrSameTree(t, "export ctr1 (daemon stopped)", want, ctrDescribe(t, "stdout", strings.NewReader(out)))
	})
	t.Run("ps-stopped", func(t *testing.T) {
		out := dockertest.MustImgtool(t, "--root", d.Root, "ps", "-a")
		found := false
		for _, line := range strings.Split(out, "\n") {
			if strings.HasSuffix(strings.TrimSpace(line), "ctr1") {
				found = true
				if !strings.Contains(line, "Exited (0)") || !strings.Contains(line, img) {
					t.Errorf("ps -a row of ctr1: %q", line)
				}
			}
		}
		if !found {
			t.Errorf("ps -a does not list ctr1:\n%s", out)
		}
	})

	out := dockertest.MustImgtool(t, "--root", d.Root, "commit", "ctr1", "test/committed:1")
	ourID := strings.TrimSpace(out)
	if !strings.HasPrefix(ourID, "sha256:") || len(ourID) != 71 {
		t.Errorf("commit printed %q, want sha256:<id>", out)
	}

	if err := d.Restart(); err != nil {
		t.Fatalf("restarting dockerd after the offline commit: %v", err)
	}
	restarted = true
	if got := d.ImageID(t, "test/committed:1"); got != ourID {
		t.Fatalf("docker sees test/committed:1 as %s, imgtool printed %s", got, ourID)
	}
	ourLayers := rootFSLayers(t, d, "test/committed:1")
	if len(ourLayers) != len(dockerLayers) || !equalStrings(ourLayers[:len(ourLayers)-1], dockerLayers[:len(dockerLayers)-1]) {
		t.Errorf("RootFS.Layers: imgtool commit %v, docker commit %v", ourLayers, dockerLayers)
	} else if ourLayers[len(ourLayers)-1] != dockerLayers[len(dockerLayers)-1] {
		t.Logf("note: the commit layer's diff_id differs from docker commit's (%s vs %s)", ourLayers[len(ourLayers)-1], dockerLayers[len(dockerLayers)-1])
	}
	if got := d.Docker(t, "image", "inspect", "-f", "{{json .Config}}", "test/committed:1"); got != dockerCfg {
		t.Errorf("Config of the committed image differs from docker commit's:\n imgtool %s\n docker  %s", got, dockerCfg)
	}

	wantRun := ctrRun(t, d, "test/dockercommitted:1")
	for _, s := range []string{"/new/fifo prw-r--r--", "/new/suid -rwsr-xr-x", "/new/owned -rw-r--r-- 1234:5678", "== /data/keep\nnowafile", "/etc/added"} {
		if !strings.Contains(wantRun, s) {
			t.Errorf("precondition: docker-committed image's check output lacks %q:\n%s", s, wantRun)
		}
	}
	if got := ctrRun(t, d, "test/committed:1"); got != wantRun {
		t.Errorf("running the imgtool-committed image differs from docker's commit:\n--- docker commit\n%s\n--- imgtool commit\n%s", wantRun, got)
	}
	// Docker can reassemble the layer imgtool registered, and it holds the
	// same tree as docker commit's layer (whiteouts, opaque markers,
	// hardlinks; times and user names aside).
	ourSave, theirSave := filepath.Join(dir, "docker-save-committed.tar"), filepath.Join(dir, "docker-save-dockercommitted.tar")
	if _, stderr, err := d.DockerErr("save", "-o", ourSave, "test/committed:1"); err != nil {
		t.Errorf("docker save of the imgtool-committed image: %v: %s", err, stderr)
	} else {
		d.Docker(t, "save", "-o", theirSave, "test/dockercommitted:1")
		top := func(p string) []flatten.Node {
			a := readArchive(t, p)
			ls := a.manifest[0].Layers
			b, ok := a.file(ls[len(ls)-1])
			if !ok {
				t.Fatalf("%s: top layer missing", p)
			}
			return ctrDescribe(t, p, bytes.NewReader(b))
		}
		ctrSameTree(t, "commit layer (- docker commit, + imgtool commit)", top(theirSave), top(ourSave))
		ctrLogHeaderDiffs(t, topBytes(t, theirSave), topBytes(t, ourSave))
	}

	// imgtool save -> docker rmi (both commits, so no layer is left to
	// reuse) -> docker load -> same run.
	saved := filepath.Join(dir, "committed.tar")
	dockertest.MustImgtool(t, "--root", d.Root, "save", "-o", saved, "test/committed:1")
	d.Docker(t, "rmi", "test/committed:1", "test/dockercommitted:1")
	if d.HasImage(ourID) || hasLayer(d, chainIDs(ourLayers)[len(ourLayers)-1]) {
		t.Fatalf("precondition: the committed image or its top layer survived docker rmi")
	}
	d.Docker(t, "load", "-i", saved)
	if got := d.ImageID(t, "test/committed:1"); got != ourID {
		t.Errorf("after docker load: %s, want %s", got, ourID)
	}
	if got := ctrRun(t, d, "test/committed:1"); got != wantRun {
		t.Errorf("the loaded image runs differently:\n--- docker commit\n%s\n--- imgtool commit, saved and loaded\n%s", wantRun, got)
	}
}

func topBytes(t *testing.T, p string) []byte {
	a := readArchive(t, p)
	ls := a.manifest[0].Layers
	b, _ := a.file(ls[len(ls)-1])
	return b
}

// ctrLogHeaderDiffs logs how two layer tars with the same tree differ in
// encoding (order, times, names, format), which is what makes diff_ids differ.
func ctrLogHeaderDiffs(t *testing.T, docker, ours []byte) {
	read := func(b []byte) []*tar.Header {
		var hs []*tar.Header
		tr := tar.NewReader(bytes.NewReader(b))
		for {
			h, err := tr.Next()
			if err != nil {
				return hs
			}
			hs = append(hs, h)
		}
	}
	a, b := read(docker), read(ours)
	n := 0
	for i := 0; i < len(a) && i < len(b) && n < 8; i++ {
		x, y := a[i], b[i]
		var d []string
		if x.Name != y.Name {
			d = append(d, fmt.Sprintf("name %q/%q", x.Name, y.Name))
		}
		if !x.ModTime.Equal(y.ModTime) {
			d = append(d, fmt.Sprintf("mtime %v/%v", x.ModTime.Unix(), y.ModTime.Unix()))
		}
		if x.Uname != y.Uname || x.Gname != y.Gname {
			d = append(d, fmt.Sprintf("uname/gname %q:%q/%q:%q", x.Uname, x.Gname, y.Uname, y.Gname))
		}
		if x.Mode != y.Mode {
			d = append(d, fmt.Sprintf("mode %o/%o", x.Mode, y.Mode))
		}
		if x.Format != y.Format || fmt.Sprint(x.PAXRecords) != fmt.Sprint(y.PAXRecords) {
			d = append(d, fmt.Sprintf("format %v %v/%v %v", x.Format, x.PAXRecords, y.Format, y.PAXRecords))
		}
		if x.Linkname != y.Linkname {
			d = append(d, fmt.Sprintf("linkname %q/%q", x.Linkname, y.Linkname))
		}
		if len(d) > 0 {
			n++
			t.Logf("commit layer entry %d (docker/imgtool): %s", i, strings.Join(d, ", "))
		}
	}
}

// ---- import -------------------------------------------------------------------

// TestImportMatchesDockerImport: imgtool import of a busybox rootfs with
// --change runs under Docker and has docker import's Config; -m,
// --platform, compressed input, stdin, http, SOURCE_DATE_EPOCH.
func TestImportMatchesDockerImport(t *testing.T) {
	d := dockertest.Shared(t)
	dir := t.TempDir()
	raw := ctrBusyboxRootfs(t)
	plain := ctrWrite(t, filepath.Join(dir, "rootfs.tar"), raw)
	rawDiffID := digestOf(raw)
	st := newStore(t)
	changes := []string{"--change", `CMD ["/bin/sh","-c","echo ok"]`, "--change", "ENV A=1"}

	out := dockertest.MustImgtool(t, append(append([]string{"--root", st, "import"}, changes...), plain, "test/ctr-imported:1")...)
	id := strings.TrimSpace(out)
	if !strings.HasPrefix(id, "sha256:") || len(id) != 71 {
		t.Fatalf("import printed %q", out)
	}
	ins := ctrInspect(t, st, "test/ctr-imported:1")
	if ins.ID != id || !equalStrings(ins.RootFS.Layers, []string{rawDiffID}) || ins.Comment != "Imported from -" {
		t.Errorf("inspect: id %s layers %v comment %q; want %s [%s] %q", ins.ID, ins.RootFS.Layers, ins.Comment, id, rawDiffID, "Imported from -")
	}

	t.Run("docker-runs-it", func(t *testing.T) {
		saved := filepath.Join(dir, "imported.tar")
		dockertest.MustImgtool(t, "--root", st, "save", "-o", saved, "test/ctr-imported:1")
		for _, ref := range []string{"test/ctr-imported:1", "test/ctr-dimported:1"} {
			if d.HasImage(ref) {
				d.Docker(t, "rmi", ref)
			}
		}
		d.Docker(t, "load", "-i", saved)
		if got := d.ImageID(t, "test/ctr-imported:1"); got != id {
			t.Errorf("docker load: %s, want %s", got, id)
		}
		if got := d.Run(t, "test/ctr-imported:1"); got != "ok" {
			t.Errorf("docker run printed %q, want ok", got)
		}
		d.Docker(t, append(append([]string{"import"}, changes...), plain, "test/ctr-dimported:1")...)
		for _, f := range []string{"{{json .Config}}", "{{json .RootFS.Layers}}", "{{.Comment}}", "{{.Os}}", "{{.Architecture}}", "{{json .ContainerConfig}}"} {
			ours := d.Docker(t, "image", "inspect", "-f", f, "test/ctr-imported:1")
			theirs := d.Docker(t, "image", "inspect", "-f", f, "test/ctr-dimported:1")
			if ours != theirs {
				t.Errorf("%s: imgtool import %s, docker import %s", f, ours, theirs)
			}
		}
	})

	t.Run("message", func(t *testing.T) {
		dockertest.MustImgtool(t, "--root", st, "import", "-m", "a message", plain, "test/ctr-msg:1")
		if c := ctrInspect(t, st, "test/ctr-msg:1").Comment; c != "a message" {
			t.Errorf("Comment %q, want %q", c, "a message")
		}
	})

	t.Run("platform", func(t *testing.T) {
		dockertest.MustImgtool(t, "--root", st, "import", "--platform", "linux/arm64", plain, "test/ctr-arm64:1")
		ins := ctrInspect(t, st, "test/ctr-arm64:1")
		if ins.Architecture != "arm64" || ins.Os != "linux" {
			t.Errorf("--platform linux/arm64: Architecture %q Os %q", ins.Architecture, ins.Os)
		}
	})

	t.Run("compressed", func(t *testing.T) {
		var gz bytes.Buffer
		zw := gzip.NewWriter(&gz)
		zw.Write(raw)
		zw.Close()
		enc, err := zstd.NewWriter(nil)
		if err != nil {
			t.Fatal(err)
		}
		zst := enc.EncodeAll(raw, nil)
		enc.Close()
		for name, b := range map[string][]byte{"rootfs.tar.gz": gz.Bytes(), "rootfs.tar.zst": zst} {
			p := ctrWrite(t, filepath.Join(dir, name), b)
			tag := "test/ctr-" + strings.ReplaceAll(name, ".", "-") + ":1"
			dockertest.MustImgtool(t, "--root", st, "import", p, tag)
			if l := ctrInspect(t, st, tag).RootFS.Layers; !equalStrings(l, []string{rawDiffID}) {
				t.Errorf("%s: layers %v, want the uncompressed tar's [%s]", name, l, rawDiffID)
			}
		}
	})

	t.Run("stdin", func(t *testing.T) {
		dockertest.MustImgtoolIn(t, bytes.NewReader(raw), "--root", st, "import", "-", "test/ctr-stdin:1")
		ins := ctrInspect(t, st, "test/ctr-stdin:1")
		if ins.Comment != "Imported from -" || !equalStrings(ins.RootFS.Layers, []string{rawDiffID}) {
			t.Errorf("stdin import: comment %q layers %v", ins.Comment, ins.RootFS.Layers)
		}
	})

	t.Run("http", func(t *testing.T) {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path != "/rootfs.tar" {
				http.NotFound(w, r)
				return
			}
			w.Write(raw)
		}))
		defer srv.Close()
		if !strings.HasPrefix(srv.URL, "http://127.0.0.1:") {
			t.Fatalf("test server at %s", srv.URL)
		}
		url := srv.URL + "/rootfs.tar"
		dockertest.MustImgtool(t, "--root", st, "import", url, "test/ctr-http:1")
		ins := ctrInspect(t, st, "test/ctr-http:1")
		if ins.Comment != "Imported from "+url || !equalStrings(ins.RootFS.Layers, []string{rawDiffID}) {
			t.Errorf("http import: comment %q layers %v", ins.Comment, ins.RootFS.Layers)
		}
		before := dockertest.StoreListing(st)
		r := dockertest.Imgtool(t, "--root", st, "import", srv.URL+"/missing.tar", "test/ctr-http:2")
		ctrFail(t, "import of a 404 URL", r, "404")
		if after := dockertest.StoreListing(st); after != before {
			t.Errorf("store changed:\n%s", dockertest.ListingDiff(before, after))
		}
	})

	t.Run("source-date-epoch", func(t *testing.T) {
		t.Setenv("SOURCE_DATE_EPOCH", "1700000000")
		args := append(append([]string{"import"}, changes...), plain)
		a := strings.TrimSpace(dockertest.MustImgtool(t, append([]string{"--root", st}, args...)...))
		b := strings.TrimSpace(dockertest.MustImgtool(t, append([]string{"--root", st}, args...)...))
		c := strings.TrimSpace(dockertest.MustImgtool(t, append([]string{"--root", newStore(t)}, args...)...))
		if a != b || a != c {
			t.Errorf("SOURCE_DATE_EPOCH imports differ: %s %s %s", a, b, c)
		}
		if cr := ctrInspect(t, st, a).Created; !strings.HasPrefix(cr, "2023-11-14T22:13:20") {
			t.Errorf("Created %q, want 2023-11-14T22:13:20Z", cr)
		}
	})
}

// TestImportConfigFrom: export an image, import the export with
// --config-from the original: Cmd/Env/WorkingDir/Labels (and the rest)
// survive; Docker runs it.
func TestImportConfigFrom(t *testing.T) {
	d := dockertest.Shared(t)
	base := dockertest.BaseImage(t, d, "")
	tag := "test/ctr-cfgsrc:1"
	d.Build(t, tag, "FROM "+base+`
ENV X=1 Y="two words"
WORKDIR /data/w
LABEL a=b c="d e"
USER 0:0
EXPOSE 8080
RUN echo hi > f && echo gone > /etc/gone && rm /etc/gone
CMD ["/bin/sh", "-c", "pwd; echo $X $Y; cat f"]
`, nil)
	wantRun := d.Run(t, tag)
	if wantRun != "/data/w\n1 two words\nhi" {
		t.Fatalf("precondition: the built image prints %q", wantRun)
	}
	dir := t.TempDir()
	st := newStore(t)
	src := filepath.Join(dir, "src.tar")
	d.Docker(t, "save", "-o", src, tag)
	dockertest.MustImgtool(t, "--root", st, "load", "-i", src)

	exp := filepath.Join(dir, "export.tar")
	dockertest.MustImgtool(t, "--root", st, "export", "-o", exp, tag)
	dockertest.MustImgtool(t, "--root", st, "import", "--config-from", tag, exp, "test/ctr-flat:1")
	orig := ctrConfig(t, ctrInspect(t, st, tag).Config)
	flat := ctrConfig(t, ctrInspect(t, st, "test/ctr-flat:1").Config)
	for _, k := range []string{"Cmd", "Env", "WorkingDir", "Labels", "Entrypoint", "User", "ExposedPorts", "Volumes", "OnBuild", "StopSignal"} {
		if !reflect.DeepEqual(orig[k], flat[k]) {
			t.Errorf("Config.%s: original %v, imported with --config-from %v", k, orig[k], flat[k])
		}
	}
	if orig["Cmd"] == nil || orig["WorkingDir"] != "/data/w" {
		t.Fatalf("precondition: the original config %v", orig)
	}
	// Without --config-from the config is empty (what docker import does).
	dockertest.MustImgtool(t, "--root", st, "import", exp, "test/ctr-bare:1")
	if bare := ctrConfig(t, ctrInspect(t, st, "test/ctr-bare:1").Config); bare["Cmd"] != nil || bare["WorkingDir"] != "" && bare["WorkingDir"] != nil {
		t.Errorf("plain import kept config: %v", bare)
	}
	// A --change applies on top of the copied config.
	dockertest.MustImgtool(t, "--root", st, "import", "--config-from", tag, "-c", "ENV Z=$X-z", exp, "test/ctr-flat:2")
	if env := fmt.Sprint(ctrConfig(t, ctrInspect(t, st, "test/ctr-flat:2").Config)["Env"]); !strings.Contains(env, "Z=1-z") || !strings.Contains(env, "Y=two words") {
		t.Errorf("--config-from + ENV change: Env %s", env)
	}

	saved := filepath.Join(dir, "flat.tar")
	dockertest.MustImgtool(t, "--root", st, "save", "-o", saved, "test/ctr-flat:1")
	if d.HasImage("test/ctr-flat:1") {
		d.Docker(t, "rmi", "test/ctr-flat:1")
	}
	d.Docker(t, "load", "-i", saved)
	if got := d.Run(t, "test/ctr-flat:1"); got != wantRun {
		t.Errorf("flattened image prints %q, want %q", got, wantRun)
	}
	if n := len(rootFSLayers(t, d, "test/ctr-flat:1")); n != 1 {
		t.Errorf("flattened image has %d layers", n)
	}
}

// ---- imgtool's own store, no daemon -----------------------------------------

// ctrStoreWithBase returns a fresh store holding the busybox rootfs as
// test/ctr-base:1 (CMD sh).
func ctrStoreWithBase(t *testing.T) (store, base string) {
	t.Helper()
	store = newStore(t)
	p := ctrWrite(t, filepath.Join(t.TempDir(), "rootfs.tar"), ctrBusyboxRootfs(t))
	dockertest.MustImgtool(t, "--root", store, "import", "-c", `CMD ["/bin/sh"]`, p, "test/ctr-base:1")
	return store, "test/ctr-base:1"
}

func ctrMountsEntry(store, id string) string {
	return filepath.Join(store, "image", "overlay2", "layerdb", "mounts", id)
}

// TestContainerLifecycleOwnStore: create -> cp in/out -> ps -> commit ->
// save -> docker load -> run, then rm, on imgtool's own store.
func TestContainerLifecycleOwnStore(t *testing.T) {
	dockertest.Require(t, "root")
	st, base := ctrStoreWithBase(t)
	host := t.TempDir()
	hostFile := ctrWrite(t, filepath.Join(host, "host.txt"), []byte("from the host\n"))
	os.Chmod(hostFile, 0o640)
	hostDir := filepath.Join(host, "hostdir")
	os.MkdirAll(filepath.Join(hostDir, "sub"), 0o755)
	ctrWrite(t, filepath.Join(hostDir, "a"), []byte("a\n"))
	ctrWrite(t, filepath.Join(hostDir, "sub", "b"), []byte("b\n"))
	os.Symlink("a", filepath.Join(hostDir, "link-to-a"))

	id := strings.TrimSpace(dockertest.MustImgtool(t, "--root", st, "create", "--name", "build1", base, "/bin/cat", "/etc/host.txt"))
	if len(id) != 64 {
		t.Fatalf("create printed %q, want a 64-hex ID", id)
	}
	mountID, err := os.ReadFile(filepath.Join(ctrMountsEntry(st, id), "mount-id"))
	if err != nil {
		t.Fatalf("layerdb/mounts entry: %v", err)
	}
	ps := dockertest.MustImgtool(t, "--root", st, "ps", "-a")
	if !strings.Contains(ps, id[:12]) || !strings.Contains(ps, "build1") || !strings.Contains(ps, "Created") || !strings.Contains(ps, base) {
		t.Errorf("ps -a does not list build1:\n%s", ps)
	}
	if ps := dockertest.MustImgtool(t, "--root", st, "ps"); strings.Contains(ps, "build1") {
		t.Errorf("ps (running only) lists the created container:\n%s", ps)
	}

	dockertest.MustImgtool(t, "--root", st, "cp", hostFile, "build1:/etc/")
	dockertest.MustImgtool(t, "--root", st, "cp", hostDir, "build1:/tmp/")
	dockertest.MustImgtool(t, "--root", st, "cp", hostFile, "build1:/renamed.txt")
	var stream bytes.Buffer
	tw := tar.NewWriter(&stream)
	tw.WriteHeader(&tar.Header{Name: "streamed.txt", Mode: 0o600, Size: 9, Typeflag: tar.TypeReg})
	tw.Write([]byte("streamed\n"))
	tw.Close()
	dockertest.MustImgtoolIn(t, &stream, "--root", st, "cp", "-", "build1:/root")

	out := t.TempDir()
	dockertest.MustImgtool(t, "--root", st, "cp", "build1:/etc/host.txt", out)
	if b, _ := os.ReadFile(filepath.Join(out, "host.txt")); string(b) != "from the host\n" {
		t.Errorf("cp out: %q", b)
	}
	dockertest.MustImgtool(t, "--root", st, "cp", "build1:/etc/motd", filepath.Join(out, "motd-copy"))
	if b, _ := os.ReadFile(filepath.Join(out, "motd-copy")); string(b) != "hello from the rootfs\n" {
		t.Errorf("cp out of an image file: %q", b)
	}
	tarOut := dockertest.MustImgtool(t, "--root", st, "cp", "build1:/tmp/hostdir", "-")
	var names []string
	contents := map[string]string{}
	tr := tar.NewReader(strings.NewReader(tarOut))
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("cp to -: not a tar: %v", err)
		}
		names = append(names, h.Name)
		if h.Typeflag == tar.TypeReg {
			b, _ := io.ReadAll(tr)
			contents[h.Name] = string(b)
		}
		if h.Typeflag == tar.TypeSymlink {
			contents[h.Name] = "-> " + h.Linkname
		}
	}
	sort.Strings(names)
	if got := strings.Join(names, " "); got != "hostdir/ hostdir/a hostdir/link-to-a hostdir/sub/ hostdir/sub/b" ||
		contents["hostdir/a"] != "a\n" || contents["hostdir/sub/b"] != "b\n" || contents["hostdir/link-to-a"] != "-> a" {
		t.Errorf("cp build1:/tmp/hostdir -: entries %q, contents %q", got, contents)
	}

	commitOut := dockertest.MustImgtool(t, "--root", st, "commit", "build1", "test/ctr-built:1")
	builtID := strings.TrimSpace(commitOut)
	if ins := ctrInspect(t, st, "test/ctr-built:1"); ins.ID != builtID || len(ins.RootFS.Layers) != 2 {
		t.Errorf("committed image: %+v (printed %s)", ins, builtID)
	}

	// rm: the container's dirs and mounts entry go, the images stay.
	dockertest.MustImgtool(t, "--root", st, "rm", "build1")
	for _, p := range []string{
		filepath.Join(st, "overlay2", string(mountID)),
		filepath.Join(st, "overlay2", string(mountID)+"-init"),
		ctrMountsEntry(st, id),
		filepath.Join(st, "containers", id),
	} {
		if _, err := os.Lstat(p); err == nil {
			t.Errorf("after rm, %s still exists", p)
		}
	}
	links, _ := os.ReadDir(filepath.Join(st, "overlay2", "l"))
	for _, l := range links {
		if _, err := os.Stat(filepath.Join(st, "overlay2", "l", l.Name())); err != nil {
			t.Errorf("after rm, overlay2/l/%s dangles: %v", l.Name(), err)
		}
	}
	if ps := dockertest.MustImgtool(t, "--root", st, "ps", "-a"); strings.Contains(ps, "build1") {
		t.Errorf("ps -a still lists build1:\n%s", ps)
	}
	ctrInspect(t, st, "test/ctr-built:1")
	ctrInspect(t, st, base)
	// The init layer's files are not committed.
	nodes := ctrDescribe(t, "export", strings.NewReader(dockertest.MustImgtool(t, "--root", st, "export", "test/ctr-built:1")))
	for _, p := range []string{".dockerenv", "etc/hosts", "etc/hostname", "etc/resolv.conf", "etc/mtab", "dev", "proc", "sys"} {
		if _, ok := ctrNode(nodes, p); ok {
			t.Errorf("init-layer entry %s is in the committed image", p)
		}
	}
	if r := dockertest.Imgtool(t, "--root", st, "check"); !r.OK() {
		t.Errorf("imgtool check after rm: %s", r)
	}

	// Docker runs the committed image.
	d := dockertest.Shared(t)
	saved := filepath.Join(t.TempDir(), "built.tar")
	dockertest.MustImgtool(t, "--root", st, "save", "-o", saved, "test/ctr-built:1")
	if d.HasImage("test/ctr-built:1") {
		d.Docker(t, "rmi", "test/ctr-built:1")
	}
	d.Docker(t, "load", "-i", saved)
	got := d.Run(t, "test/ctr-built:1", "sh", "-c", "stat -c '%n %a' /etc/host.txt /renamed.txt /root/streamed.txt; cat /etc/host.txt /tmp/hostdir/a /tmp/hostdir/sub/b /renamed.txt /root/streamed.txt; readlink /tmp/hostdir/link-to-a")
	want := "/etc/host.txt 640\n/renamed.txt 640\n/root/streamed.txt 600\nfrom the host\na\nb\nfrom the host\nstreamed\na\n"
	if got != strings.TrimSpace(want) {
		t.Errorf("docker run of the committed image:\n%s\nwant:\n%s", got, want)
	}
	if cmd := d.Docker(t, "image", "inspect", "-f", "{{json .Config.Cmd}}", "test/ctr-built:1"); cmd != `["/bin/cat","/etc/host.txt"]` {
		t.Errorf("committed Cmd %s", cmd)
	}
	if got := d.Run(t, "test/ctr-built:1"); got != "from the host" {
		t.Errorf("docker run with the container's command printed %q", got)
	}
}

// TestContainerCreateCommandFlags: as with docker create, everything after
// IMAGE is the command, flags included (`create IMAGE sh -c 'echo hi'`).
func TestContainerCreateCommandFlags(t *testing.T) {
	st, base := ctrStoreWithBase(t)
	r := dockertest.Imgtool(t, "--root", st, "create", "--name", "withflags", base, "/bin/sh", "-c", "echo hi")
	if !r.OK() {
		t.Fatalf("create IMAGE /bin/sh -c CMD (docker create accepts it): %s", r)
	}
	ps := dockertest.MustImgtool(t, "--root", st, "ps", "-a", "--no-trunc")
	if !strings.Contains(ps, `"/bin/sh -c 'echo hi'"`) { // docker quotes an argument with a space
		t.Errorf("ps -a --no-trunc COMMAND:\n%s", ps)
	}
	dockertest.MustImgtool(t, "--root", st, "commit", "withflags", "test/ctr-withflags:1")
	if cmd := ctrConfig(t, ctrInspect(t, st, "test/ctr-withflags:1").Config)["Cmd"]; fmt.Sprint(cmd) != "[/bin/sh -c echo hi]" {
		t.Errorf("committed Cmd %v", cmd)
	}
}

// TestContainerMountCommit: mount a created container, write through the
// mount, unmount, commit: the file is in the committed image.
func TestContainerMountCommit(t *testing.T) {
	dockertest.Require(t, "root")
	st, base := ctrStoreWithBase(t)
	dockertest.MustImgtool(t, "--root", st, "create", "--name", "m1", base)
	mnt := strings.TrimSpace(dockertest.MustImgtool(t, "--root", st, "mount", "m1"))
	t.Cleanup(func() { syscall.Unmount(mnt, syscall.MNT_DETACH) })
	if b, err := os.ReadFile(filepath.Join(mnt, "etc", "motd")); err != nil || string(b) != "hello from the rootfs\n" {
		t.Fatalf("the mount does not show the image: %q %v", b, err)
	}
	if err := os.WriteFile(filepath.Join(mnt, "etc", "through-mount.txt"), []byte("written through the mount\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(mnt, "bin", "mv")); err != nil {
		t.Fatal(err)
	}
	dockertest.MustImgtool(t, "--root", st, "unmount", "m1")
	if _, err := os.Stat(filepath.Join(mnt, "etc", "motd")); err == nil {
		t.Errorf("%s still shows the container after unmount", mnt)
	}
	r := dockertest.Imgtool(t, "--root", st, "unmount", "m1")
	ctrFail(t, "second unmount", r, "not mounted")

	dockertest.MustImgtool(t, "--root", st, "commit", "m1", "test/ctr-mounted:1")
	exp := dockertest.MustImgtool(t, "--root", st, "export", "test/ctr-mounted:1")
	nodes := ctrDescribe(t, "export", strings.NewReader(exp))
	n, ok := ctrNode(nodes, "etc/through-mount.txt")
	want := sha256.Sum256([]byte("written through the mount\n"))
	if !ok || n.SHA256 != hex.EncodeToString(want[:]) {
		t.Errorf("committed image lacks etc/through-mount.txt (%v)", n)
	}
	if _, ok := ctrNode(nodes, "bin/mv"); ok {
		t.Errorf("bin/mv, deleted through the mount, is still in the committed image")
	}
	for _, p := range []string{".dockerenv", "etc/hosts", "dev/console"} {
		if _, ok := ctrNode(nodes, p); ok {
			t.Errorf("init-layer file %s leaked into the committed image", p)
		}
	}
}

// ---- bad input ------------------------------------------------------------------

// TestContainerBadInput: escaping rootfs tars, broken --change, unknown
// containers, duplicate names: non-zero exit, one line, store unchanged.
func TestContainerBadInput(t *testing.T) {
	dockertest.Require(t, "root")
	st, base := ctrStoreWithBase(t)
	dockertest.MustImgtool(t, "--root", st, "create", "--name", "taken", base)
	dir := t.TempDir()

	t.Run("clamped-names", func(t *testing.T) {
		p := ctrWrite(t, filepath.Join(dir, "clamp.tar"), layerTar(t,
			tarEntry{name: "../../x", body: "dotdot\n"},
			tarEntry{name: "/abs/y", body: "abs\n"},
			tarEntry{name: "sub/../../../z", body: "z\n"},
		))
		id := strings.TrimSpace(dockertest.MustImgtool(t, "--root", st, "import", p, "test/ctr-clamped:1"))
		nodes := ctrDescribe(t, "export", strings.NewReader(dockertest.MustImgtool(t, "--root", st, "export", id)))
		var got []string
		for _, n := range nodes {
			got = append(got, n.Path)
		}
		for _, w := range []string{"x", "abs/y", "z"} {
			if _, ok := ctrNode(nodes, w); !ok {
				t.Errorf("%s not inside the image; entries %v", w, got)
			}
		}
		// Nothing landed outside a layer's diff dir.
		filepath.Walk(st, func(p string, fi os.FileInfo, err error) error {
			if err == nil && (fi.Name() == "x" || fi.Name() == "z" || fi.Name() == "abs") && !strings.Contains(p, "/diff/") {
				t.Errorf("escaped entry at %s", p)
			}
			return nil
		})
		for _, p := range []string{filepath.Join(filepath.Dir(st), "x"), filepath.Join(filepath.Dir(filepath.Dir(st)), "x")} {
			if _, err := os.Lstat(p); err == nil {
				t.Errorf("escaped entry at %s", p)
			}
		}
	})

	before := dockertest.StoreListing(st)
	unchanged := func(t *testing.T) {
		t.Helper()
		if after := dockertest.StoreListing(st); after != before {
			t.Errorf("store changed:\n%s", dockertest.ListingDiff(before, after))
			before = after
		}
	}

	t.Run("symlink-escape", func(t *testing.T) {
		// A harmless probe first, so that a broken resolver cannot touch
		// /etc/passwd.
		probe := "imgtool-escape-probe-" + fmt.Sprint(time.Now().UnixNano())
		p := ctrWrite(t, filepath.Join(dir, "probe.tar"), layerTar(t,
			tarEntry{name: "a", typ: tar.TypeSymlink, linkname: "/tmp"},
			tarEntry{name: "a/" + probe, body: "escaped\n"},
		))
		r := dockertest.Imgtool(t, "--root", st, "import", p, "test/ctr-escape:1")
		if _, err := os.Lstat(filepath.Join("/tmp", probe)); err == nil {
			os.Remove(filepath.Join("/tmp", probe))
			t.Fatalf("import wrote /tmp/%s through a symlink (%s); not trying /etc/passwd", probe, r)
		}
		ctrFail(t, "import of a tar writing through a -> /tmp", r, probe)
		unchanged(t)

		passwdBefore := ctrSHA256(t, "/etc/passwd")
		etcBefore := dockertest.StoreListing("/etc")
		p = ctrWrite(t, filepath.Join(dir, "escape.tar"), layerTar(t,
			tarEntry{name: "a", typ: tar.TypeSymlink, linkname: "/etc"},
			tarEntry{name: "a/passwd", body: "root::0:0::/:/bin/sh\n"},
		))
		r = dockertest.Imgtool(t, "--root", st, "import", p, "test/ctr-escape:1")
		ctrFail(t, "import of a tar writing through a -> /etc", r, "a/passwd")
		if got := ctrSHA256(t, "/etc/passwd"); got != passwdBefore {
			t.Errorf("/etc/passwd changed!")
		}
		if etcAfter := dockertest.StoreListing("/etc"); etcAfter != etcBefore {
			t.Errorf("/etc changed:\n%s", dockertest.ListingDiff(etcBefore, etcAfter))
		}
		unchanged(t)
	})

	t.Run("broken-change", func(t *testing.T) {
		p := ctrWrite(t, filepath.Join(dir, "ok.tar"), layerTar(t, tarEntry{name: "f", body: "f\n"}))
		ctrFail(t, "import -c 'RUN x'", dockertest.Imgtool(t, "--root", st, "import", "-c", "RUN x", p, "test/ctr-bad:1"), "run is not a valid change command")
		unchanged(t)
		ctrFail(t, "import -c ENV", dockertest.Imgtool(t, "--root", st, "import", "-c", "ENV", p, "test/ctr-bad:1"), "ENV")
		unchanged(t)
		ctrFail(t, "commit -c 'RUN x'", dockertest.Imgtool(t, "--root", st, "commit", "-c", "RUN x", "taken", "test/ctr-bad:1"), "run is not a valid change command")
		unchanged(t)
	})

	t.Run("unknown-container", func(t *testing.T) {
		out := t.TempDir()
		for _, args := range [][]string{
			{"export", "nosuch"},
			{"export", "-o", filepath.Join(out, "x.tar"), "nosuch"},
			{"commit", "nosuch", "test/ctr-bad:1"},
			{"cp", "nosuch:/etc/motd", out},
			{"cp", filepath.Join(dir, "ok.tar"), "nosuch:/tmp/"},
			{"rm", "nosuch"},
			{"mount", "nosuch"},
		} {
			r := dockertest.Imgtool(t, append([]string{"--root", st}, args...)...)
			ctrFail(t, strings.Join(args, " "), r, "No such container")
			if r.Stdout != "" && args[0] != "export" {
				t.Errorf("%v wrote to stdout: %q", args, r.Stdout)
			}
			unchanged(t)
		}
		if entries, _ := os.ReadDir(out); len(entries) != 0 {
			t.Errorf("failed commands left files in the output dir: %v", entries)
		}
	})

	t.Run("duplicate-name", func(t *testing.T) {
		r := dockertest.Imgtool(t, "--root", st, "create", "--name", "taken", base)
		ctrFail(t, "create --name taken (again)", r, `The container name "/taken" is already in use`)
		unchanged(t)
		r = dockertest.Imgtool(t, "--root", st, "create", "--name", "bad/name", base)
		ctrFail(t, "create --name bad/name", r, "Invalid container name")
		unchanged(t)
		r = dockertest.Imgtool(t, "--root", st, "create", "nosuch:image")
		ctrFail(t, "create of a missing image", r, "No such image")
		unchanged(t)
	})
}
