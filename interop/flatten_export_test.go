package interop

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/imgtool/imgtool/flatten"
	"github.com/imgtool/imgtool/internal/dockertest"
)

// The init layer's paths: docker export includes them, image layers don't.
var exportInitPaths = map[string]bool{
	".dockerenv": true, "etc/hosts": true, "etc/hostname": true, "etc/resolv.conf": true, "etc/mtab": true,
	"dev": true, "dev/console": true, "dev/pts": true, "dev/shm": true, "proc": true, "sys": true,
}

// TestFlattenDockerExportCompare builds a small image on a private dockerd,
// exports a container created from it, flattens the image's layers from
// `docker save` with package flatten and compares the two trees (moved here
// from flatten/docker_test.go, which started a dockerd of its own).
func TestFlattenDockerExportCompare(t *testing.T) {
	d := dockertest.Shared(t)
	bb := "/bin/busybox"
	dockertest.Require(t, bb)

	// Base image: busybox plus applet symlinks.
	var base bytes.Buffer
	tw := tar.NewWriter(&base)
	bbData, err := os.ReadFile(bb)
	must(t, err)
	tw.WriteHeader(&tar.Header{Name: "bin/", Typeflag: tar.TypeDir, Mode: 0755})
	tw.WriteHeader(&tar.Header{Name: "bin/busybox", Typeflag: tar.TypeReg, Mode: 0755, Size: int64(len(bbData))})
	tw.Write(bbData)
	for _, a := range []string{"sh", "rm", "mkdir", "ln", "echo", "chmod", "mkfifo", "touch", "cat", "true", "printf", "seq"} {
		tw.WriteHeader(&tar.Header{Name: "bin/" + a, Typeflag: tar.TypeSymlink, Mode: 0777, Linkname: "busybox"})
	}
	tw.WriteHeader(&tar.Header{Name: "etc/", Typeflag: tar.TypeDir, Mode: 0755})
	tw.WriteHeader(&tar.Header{Name: "etc/motd", Typeflag: tar.TypeReg, Mode: 0644, Size: 3})
	tw.Write([]byte("hi\n"))
	must(t, tw.Close())
	d.DockerIn(t, &base, "import", "-", "fltbase:1")

	dockerfile := `FROM fltbase:1
RUN mkdir -p /data/sub /data/opq /data/gonedir && echo a > /data/a && echo b > /data/b && echo c > /data/opq/c \
 && echo keep > /data/sub/keep && ln /data/a /data/a-link && ln -s /data/b /data/b-sym && ln -s ../data /rel \
 && echo x > /data/gone && echo y > /data/gonedir/y && chmod 4755 /data/b && mkfifo /data/fifo && rm /etc/motd \
 && echo "$(printf '\303\274')" > /data/u-$(printf '\303\274') \
 && mkdir -p /data/$(printf 'l%.0s' $(seq 1 60))/$(printf 'm%.0s' $(seq 1 60)) \
 && echo long > /data/$(printf 'l%.0s' $(seq 1 60))/$(printf 'm%.0s' $(seq 1 60))/$(printf 'n%.0s' $(seq 1 90))
RUN rm -f /data/gone /data/a && rm -rf /data/gonedir /data/opq && mkdir /data/opq && echo new > /data/opq/new \
 && echo a2 > /data/a && ln /data/b /data/b-hard && chmod 1777 /data/sub && ln /data/a-link /data/a-link2
RUN rm /data/b && echo z > /data/b && mkdir /data/gone && echo w > /data/gone/w && rm /data/sub/keep \
 && rm /data/a-link && chmod 0700 /data
`
	d.Build(t, "fltimg:1", dockerfile, nil)
	name := fmt.Sprintf("flt-export-%d", time.Now().UnixNano())
	d.Docker(t, "create", "--network", "none", "--name", name, "fltimg:1", "sh")
	t.Cleanup(func() { d.DockerErr("rm", "-f", name) })
	D := t.TempDir()
	d.Docker(t, "export", "-o", filepath.Join(D, "export.tar"), name)
	d.Docker(t, "save", "-o", filepath.Join(D, "save.tar"), "fltimg:1")
	export, err := os.ReadFile(filepath.Join(D, "export.tar"))
	must(t, err)
	save, err := os.ReadFile(filepath.Join(D, "save.tar"))
	must(t, err)

	// Unpack the save archive and open its layers in manifest order.
	sdir := filepath.Join(D, "save")
	tr := tar.NewReader(bytes.NewReader(save))
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		must(t, err)
		p := filepath.Join(sdir, filepath.FromSlash(h.Name))
		switch h.Typeflag {
		case tar.TypeDir:
			must(t, os.MkdirAll(p, 0755))
		case tar.TypeReg:
			must(t, os.MkdirAll(filepath.Dir(p), 0755))
			b, _ := io.ReadAll(tr)
			must(t, os.WriteFile(p, b, 0644))
		case tar.TypeSymlink:
			must(t, os.MkdirAll(filepath.Dir(p), 0755))
			must(t, os.Symlink(h.Linkname, p))
		}
	}
	mb, err := os.ReadFile(filepath.Join(sdir, "manifest.json"))
	must(t, err)
	var man []struct{ Layers []string }
	must(t, json.Unmarshal(mb, &man))
	if len(man) != 1 {
		t.Fatalf("manifest: %s", mb)
	}
	var ls []flatten.Layer
	for _, l := range man[0].Layers {
		p := filepath.Join(sdir, filepath.FromSlash(l))
		ls = append(ls, flatten.TarLayer(func() (io.ReadCloser, error) { return os.Open(p) }))
	}
	t.Logf("%d layers", len(ls))
	var mine bytes.Buffer
	must(t, flatten.Flatten(&mine, ls, flatten.Options{}))

	want, err := flatten.Describe(bytes.NewReader(export))
	must(t, err)
	got, err := flatten.Describe(bytes.NewReader(mine.Bytes()))
	must(t, err)
	gotByPath := map[string]flatten.Node{}
	for _, n := range got {
		gotByPath[n.Path] = n
	}
	var unexplained []string
	for _, line := range flatten.DiffTrees(want, got) {
		t.Logf("diff: %s", line)
		p := strings.SplitN(line[2:], " ", 2)[0]
		top := strings.SplitN(p, "/", 2)[0]
		switch {
		case line[0] == '-' && (exportInitPaths[p] || top == "dev" || top == "proc" || top == "sys"):
		default:
			unexplained = append(unexplained, line)
		}
	}
	if len(unexplained) > 0 {
		t.Errorf("unexplained differences (- docker export, + flatten):\n%s", strings.Join(unexplained, "\n"))
	}
	// Same entry order and mtimes, apart from the init layer's entries and
	// the directories it touched (reported).
	type hm struct {
		name  string
		mtime int64
		typ   byte
	}
	headers := func(b []byte) (out []hm) {
		tr := tar.NewReader(bytes.NewReader(b))
		for {
			h, err := tr.Next()
			if err == io.EOF {
				return out
			}
			must(t, err)
			out = append(out, hm{h.Name, h.ModTime.Unix(), h.Typeflag})
		}
	}
	mh := headers(mine.Bytes())
	inMine := map[string]hm{}
	for _, h := range mh {
		inMine[h.name] = h
	}
	var order []hm
	for _, h := range headers(export) {
		if m, ok := inMine[h.name]; ok {
			order = append(order, h)
			if m.mtime != h.mtime {
				t.Logf("mtime differs: %s export=%d flatten=%d", h.name, h.mtime, m.mtime)
				if h.name != "etc/" {
					t.Errorf("unexpected mtime difference for %s", h.name)
				}
			}
		}
	}
	if len(order) != len(mh) {
		t.Errorf("%d common entries, flatten has %d", len(order), len(mh))
	}
	for i := range order {
		if i < len(mh) && order[i].name != mh[i].name {
			t.Errorf("order differs at %d: export %q, flatten %q", i, order[i].name, mh[i].name)
			break
		}
	}
	// Sanity: the interesting cases are present.
	for p, want := range map[string]string{
		"data/a": "a2\n", "data/a-link2": "a\n", "data/b": "z\n", "data/b-hard": "b\n",
		"data/opq/new": "new\n", "data/gone/w": "w\n",
	} {
		n, ok := gotByPath[p]
		if !ok {
			t.Errorf("%s missing", p)
			continue
		}
		if n.Type == tar.TypeReg && n.SHA256 != flattenSum(want) {
			t.Errorf("%s: wrong content", p)
		}
	}
	for _, p := range []string{"data/opq/c", "data/gonedir", "data/gone/y", "data/sub/keep", "etc/motd", "data/a-link"} {
		if _, ok := gotByPath[p]; ok {
			t.Errorf("%s should be gone", p)
		}
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func flattenSum(s string) string { h := sha256.Sum256([]byte(s)); return hex.EncodeToString(h[:]) }
