package interop

import (
	"archive/tar"
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/imgtool/imgtool/flatten"
	"github.com/imgtool/imgtool/internal/dockertest"
)

// One image, one tree (issue "Reliability, round two", item 4): the tree
// docker export gives for a container of an image equals imgtool export of
// the same container (read from overlay2 diff dirs) and imgtool flatten of
// the archive (read from the layer tars).

// oneTreeDockerCases are layer stacks on tinyBase that once gave export and
// flatten different trees. Docker (overlay2) ignores a root-level opaque
// marker: overlayfs never reads a layer root's opacity, so docker export
// shows the lower layers' files; imgtool's flatten used to hide them. A
// symlink is 0777 on disk whatever its header says; flatten used to keep
// the header's mode.
var oneTreeDockerCases = []struct {
	name   string
	layers func(t *testing.T) [][]byte
}{
	{"root-opaque", func(t *testing.T) [][]byte {
		return [][]byte{synthTar(t, sEnt{name: "a/", dir: true}, sEnt{name: "a/x", body: "x\n"}, sEnt{name: "top", body: "top\n"}),
			synthTar(t, sEnt{name: ".wh..wh..opq"}, sEnt{name: "new/", dir: true}, sEnt{name: "new/f", body: "f\n"})}
	}},
	{"root-opaque-last", func(t *testing.T) [][]byte {
		return [][]byte{synthTar(t, sEnt{name: "a/", dir: true}, sEnt{name: "a/x", body: "x\n"}),
			synthTar(t, sEnt{name: "a/", dir: true}, sEnt{name: "a/mine", body: "m\n"}, sEnt{name: ".wh..wh..opq"}),
			synthTar(t, sEnt{name: "later", body: "l\n"})}
	}},
	{"symlink-header-mode", func(t *testing.T) [][]byte {
		var buf bytes.Buffer // synthTar makes every symlink 0777
		tw := tar.NewWriter(&buf)
		for _, h := range []*tar.Header{{Name: "s/", Typeflag: tar.TypeDir, Mode: 0o755},
			{Name: "s/l", Typeflag: tar.TypeSymlink, Linkname: "t", Mode: 0o644}} {
			h.ModTime, h.Format = time.Unix(1700000000, 0), tar.FormatPAX
			if err := tw.WriteHeader(h); err != nil {
				t.Fatal(err)
			}
		}
		if err := tw.Close(); err != nil {
			t.Fatal(err)
		}
		return [][]byte{buf.Bytes()}
	}},
}

func dockerExportTree(t *testing.T, d *dockertest.Daemon, tag, ctr, dir string, layers [][]byte) []string {
	t.Helper()
	d.Docker(t, "create", "--network", "none", "--name", ctr, tag)
	t.Cleanup(func() { d.DockerErr("rm", ctr) })
	exp := filepath.Join(dir, ctr+"-docker-export.tar")
	d.Docker(t, "export", "-o", exp, ctr)
	b, err := os.ReadFile(exp)
	if err != nil {
		t.Fatal(err)
	}
	return treeLines(exportTree(t, b, layersHave(t, layers, "dev"), layersHave(t, layers, "etc")))
}

func treeLines(nodes []flatten.Node) []string {
	var out []string
	for _, n := range nodes {
		out = append(out, treeLine(n))
	}
	return out
}

func TestExportOneTreeDocker(t *testing.T) {
	d := dockertest.Shared(t)
	for _, c := range oneTreeDockerCases {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			layers := append([][]byte{tinyBase(t)}, c.layers(t)...)
			tag := "onetree/" + c.name + ":1"
			in := filepath.Join(dir, "in.tar")
			writeImageArchive(t, in, corpusConfig(t, nil, corpusCase{name: c.name}, layers), layers, tag)
			d.Docker(t, "load", "-i", in)
			t.Cleanup(func() { d.DockerErr("rmi", tag) })
			want := dockerExportTree(t, d, tag, "onetree-"+c.name, dir, layers)

			st := newStore(t)
			dockertest.MustImgtool(t, "--root", st, "load", "-i", in)
			dockertest.MustImgtool(t, "--root", st, "create", "--name", "c1", tag)
			exp := []byte(dockertest.MustImgtool(t, "--root", st, "export", "c1"))
			got := treeLines(exportTree(t, exp, layersHave(t, layers, "dev"), layersHave(t, layers, "etc")))
			if diff := lineDiff(want, got); len(diff) > 0 {
				t.Errorf("imgtool export (diff dirs) differs from docker export (- docker, + imgtool):\n%s", strings.Join(diff, "\n"))
			}
			flat := filepath.Join(dir, "flat.tar")
			dockertest.MustImgtool(t, "flatten", "docker-archive:"+in, flat)
			a := readArchive(t, flat)
			lb, _ := a.file(a.manifest[0].Layers[0])
			nodes, err := flatten.Describe(bytes.NewReader(lb))
			if err != nil {
				t.Fatal(err)
			}
			if diff := lineDiff(want, treeLines(nodes)); len(diff) > 0 {
				t.Errorf("imgtool flatten (tars) differs from docker export (- docker, + imgtool):\n%s", strings.Join(diff, "\n"))
			}
		})
	}
}

// TestCpHardlinkSecondNameDocker: docker cp of a hard link's second name
// copies the file; so must imgtool cp, to a host path and as a tar stream.
func TestCpHardlinkSecondNameDocker(t *testing.T) {
	d := dockertest.Shared(t)
	dir := t.TempDir()
	layers := [][]byte{tinyBase(t), synthTar(t, sEnt{name: "h/", dir: true}, sEnt{name: "h/a", body: "shared\n"},
		sEnt{name: "h/b", link: "h/a", hard: true}, sEnt{name: "h/d/", dir: true},
		sEnt{name: "h/d/c", link: "h/a", hard: true}, sEnt{name: "h/d/e", link: "h/a", hard: true})}
	tag := "onetree/cp-hardlink:1"
	in := filepath.Join(dir, "in.tar")
	writeImageArchive(t, in, corpusConfig(t, nil, corpusCase{name: "cp-hardlink"}, layers), layers, tag)
	d.Docker(t, "load", "-i", in)
	t.Cleanup(func() { d.DockerErr("rmi", tag) })
	d.Docker(t, "create", "--network", "none", "--name", "onetree-cp", tag)
	t.Cleanup(func() { d.DockerErr("rm", "onetree-cp") })
	st := newStore(t)
	dockertest.MustImgtool(t, "--root", st, "load", "-i", in)
	dockertest.MustImgtool(t, "--root", st, "create", "--name", "c1", tag)

	for _, src := range []string{"/h/b", "/h/d/e", "/h/d"} {
		dOut, iOut := filepath.Join(dir, "docker"+strings.ReplaceAll(src, "/", "_")), filepath.Join(dir, "imgtool"+strings.ReplaceAll(src, "/", "_"))
		d.Docker(t, "cp", "onetree-cp:"+src, dOut)
		dockertest.MustImgtool(t, "--root", st, "cp", "c1:"+src, iOut)
		if w, g := hostTree(t, dOut), hostTree(t, iOut); w != g {
			t.Errorf("cp %s to a host path:\ndocker:  %s\nimgtool: %s", src, w, g)
		}
		dTar := d.Docker(t, "cp", "onetree-cp:"+src, "-")
		iTar := dockertest.MustImgtool(t, "--root", st, "cp", "c1:"+src, "-")
		if w, g := tarEntries(t, dTar), tarEntries(t, iTar); w != g {
			t.Errorf("cp %s -:\ndocker:  %s\nimgtool: %s", src, w, g)
		}
	}
}

// hostTree is "path type content" of each file under p, and which names
// share an inode.
func hostTree(t *testing.T, p string) string {
	t.Helper()
	var out []string
	inodes := map[uint64][]string{}
	err := filepath.Walk(p, func(q string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(filepath.Dir(p), q)
		rel = strings.TrimPrefix(rel, filepath.Base(p)) // the top name differs between the two copies
		line := fmt.Sprintf("%s %v", rel, fi.Mode().Type())
		if fi.Mode().IsRegular() {
			b, err := os.ReadFile(q)
			if err != nil {
				return err
			}
			line += " " + string(b)
			ino := fi.Sys().(*syscall.Stat_t).Ino
			inodes[ino] = append(inodes[ino], rel)
		}
		out = append(out, line)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, names := range inodes {
		if len(names) > 1 {
			sort.Strings(names)
			out = append(out, "same inode: "+strings.Join(names, ","))
		}
	}
	sort.Strings(out)
	return strings.Join(out, " | ")
}

// tarEntries is "name type linkname content" per entry of a tar stream.
func tarEntries(t *testing.T, s string) string {
	t.Helper()
	tr := tar.NewReader(strings.NewReader(s))
	var out []string
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(tr)
		out = append(out, fmt.Sprintf("%s %c %s %q", h.Name, h.Typeflag, h.Linkname, b))
	}
	return strings.Join(out, " | ")
}
