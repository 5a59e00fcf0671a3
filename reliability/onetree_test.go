package reliability

import (
	"archive/tar"
	"bytes"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/imgtool/imgtool/flatten"
)

// One tree for one image, through the commands: export of an image (diff
// dirs, as root), export of a container and flatten (layer tars) give the
// same tree, also for paths longer than PATH_MAX, which load, save and check
// accept (export used to fail on them with ENAMETOOLONG), and cp copies
// such a path out.

var deepDir = strings.Repeat(strings.Repeat("p", 240)+"/", 20) // 4820 bytes

func deepImage(t *testing.T) testImage {
	base := mkTarDirs(t, tarEnt{name: "etc/motd", body: []byte("motd\n")}, tarEnt{name: "a/x", body: []byte("x\n")},
		tarEnt{name: deepDir + "gone", body: []byte("gone\n")})
	top := mkTarDirs(t, tarEnt{name: deepDir + "f", body: []byte("deep\n")},
		tarEnt{name: deepDir + "f-link", typ: tar.TypeLink, link: deepDir + "f"},
		tarEnt{name: deepDir + "s", typ: tar.TypeSymlink, link: "f"},
		tarEnt{name: deepDir + ".wh.gone"}, tarEnt{name: ".wh..wh..opq"})
	return newImage("deep:1", base, top)
}

// mkTarDirs is mkTar with a directory entry for every parent, as Docker's
// layers have.
func mkTarDirs(t *testing.T, ents ...tarEnt) []byte {
	seen := map[string]bool{}
	var all []tarEnt
	for _, e := range ents {
		parts := strings.Split(e.name, "/")
		for i := 1; i < len(parts); i++ {
			d := strings.Join(parts[:i], "/") + "/"
			if !seen[d] {
				seen[d] = true
				all = append(all, tarEnt{name: d, typ: tar.TypeDir})
			}
		}
		all = append(all, e)
	}
	return mkTar(t, all...)
}

func describe(t *testing.T, b []byte) []string {
	t.Helper()
	nodes, err := flatten.Describe(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, n := range nodes {
		out = append(out, n.String())
	}
	return out
}

// withoutInit drops what a container's init layer adds.
func withoutInit(lines []string) []string {
	var out []string
	for _, l := range lines {
		p := strings.Fields(l)[0]
		switch {
		case p == ".dockerenv", p == "dev", strings.HasPrefix(p, "dev/"), p == "proc", p == "sys",
			p == "etc/hostname", p == "etc/hosts", p == "etc/resolv.conf", p == "etc/mtab":
			continue
		}
		out = append(out, l)
	}
	return out
}

func TestOneTreeDeepPaths(t *testing.T) {
	requireRoot(t)
	dir := t.TempDir()
	root := filepath.Join(dir, "store")
	in := filepath.Join(dir, "in.tar")
	writeArchive(t, in, deepImage(t))
	mustImgtool(t, root, "load", "-i", in)
	mustImgtool(t, root, "save", "-o", filepath.Join(dir, "saved.tar"), "deep:1")
	checkStore(t, run{root: root})

	img := mustImgtool(t, root, "export", "deep:1").stdout
	mustImgtool(t, root, "create", "--name", "c1", "deep:1")
	ctr := mustImgtool(t, root, "export", "c1").stdout
	flat := filepath.Join(dir, "flat.tar")
	mustImgtool(t, root, "flatten", "docker-archive:"+in, flat)
	flatLayer := onlyLayerOf(t, flat)

	want := describe(t, flatLayer)
	if !strings.Contains(strings.Join(want, "\n"), deepDir+"f 0 0644") {
		t.Fatalf("flatten lost the deep file:\n%s", strings.Join(want, "\n"))
	}
	for what, got := range map[string][]string{"export of the image": describe(t, []byte(img)),
		"export of the container": withoutInit(describe(t, []byte(ctr)))} {
		if g, w := strings.Join(got, "\n"), strings.Join(want, "\n"); g != w {
			t.Errorf("%s differs from flatten:\n%s\nwant\n%s", what, g, w)
		}
	}
	out := filepath.Join(dir, "out")
	os.Mkdir(out, 0o755)
	mustImgtool(t, root, "cp", "c1:/"+deepDir+"f-link", filepath.Join(out, "copied"))
	if b, err := os.ReadFile(filepath.Join(out, "copied")); err != nil || string(b) != "deep\n" {
		t.Errorf("cp of the deep hard link: %q, %v", b, err)
	}
}

// onlyLayerOf is the layer tar of a one-layer docker-save archive.
func onlyLayerOf(t *testing.T, p string) []byte {
	t.Helper()
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	files := map[string][]byte{}
	tr := tar.NewReader(f)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if files[h.Name], err = io.ReadAll(tr); err != nil {
			t.Fatal(err)
		}
	}
	var m []struct{ Layers []string }
	if err := json.Unmarshal(files["manifest.json"], &m); err != nil || len(m) != 1 || len(m[0].Layers) != 1 {
		t.Fatalf("%s: manifest.json %s: %v", p, files["manifest.json"], err)
	}
	return files[m[0].Layers[0]]
}
