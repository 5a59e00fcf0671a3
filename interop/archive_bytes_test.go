package interop

import (
	"archive/tar"
	"bytes"
	"io"
	"os"
	"path"
	"path/filepath"
	"sort"
	"testing"

	"github.com/imgtool/imgtool/internal/dockertest"
)

// member is one tar entry of an archive, as compared with Docker's.
type member struct {
	typ  byte
	link string
	body []byte
}

func readMembers(t *testing.T, p string) ([]string, map[string]member) {
	t.Helper()
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out := map[string]member{}
	var names []string
	tr := tar.NewReader(f)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		b, err := io.ReadAll(tr)
		if err != nil {
			t.Fatalf("%s: %s: %v", p, h.Name, err)
		}
		n := path.Clean(h.Name)
		names = append(names, n)
		out[n] = member{typ: h.Typeflag, link: h.Linkname, body: b}
	}
	sort.Strings(names)
	return names, out
}

// The README says --format docker-legacy is byte-identical to Docker
// 20.10's docker save of the same images: compare whole archives made by
// the private daemon and by imgtool (two images sharing layers, so the
// symlink dedup is covered): every member's name, type, link target and
// bytes. Tar headers are not compared: Docker stamps each file with the
// image's creation time, imgtool with SOURCE_DATE_EPOCH (or 0) so that its
// output is reproducible.
func TestDockerSaveLegacyWholeArchive(t *testing.T) {
	d := dockertest.Shared(t)
	tagA, tagB := "interop-bytes:a", "interop-bytes:b"
	richImage(t, d, tagA, "bytes")
	d.Build(t, tagB, "FROM "+tagA+"\nRUN echo b > /b-marker\n", nil)

	dir := t.TempDir()
	theirsTar := filepath.Join(dir, "docker.tar")
	d.Docker(t, "save", "-o", theirsTar, tagA, tagB)
	store := newStore(t)
	dockertest.MustImgtool(t, "--root", store, "load", "-i", theirsTar)
	// Docker 20.10 writes the images in Go map order (moby's save ranges
	// over a map), and the order decides which v1 dir holds a shared
	// layer.tar and which symlinks to it; imgtool writes them in argument
	// order, so it is given Docker's.
	var order []string
	for _, it := range readArchive(t, theirsTar).manifest {
		order = append(order, it.RepoTags...)
	}
	oursTar := filepath.Join(dir, "ours.tar")
	dockertest.MustImgtool(t, append([]string{"--root", store, "save", "--format", "docker-legacy", "-o", oursTar}, order...)...)

	theirNames, theirs := readMembers(t, theirsTar)
	ourNames, ours := readMembers(t, oursTar)
	if !equalStrings(ourNames, theirNames) {
		t.Fatalf("members differ (TZ=%q):\n ours   %q\n docker %q", os.Getenv("TZ"), ourNames, theirNames)
	}
	for _, n := range theirNames {
		w, g := theirs[n], ours[n]
		if w.typ != g.typ || w.link != g.link {
			t.Errorf("%s: type %c -> %q, docker has %c -> %q", n, g.typ, g.link, w.typ, w.link)
		}
		if !bytes.Equal(w.body, g.body) {
			if len(w.body) < 4096 && len(g.body) < 4096 {
				t.Errorf("%s differs:\n ours   %s\n docker %s", n, g.body, w.body)
			} else {
				t.Errorf("%s differs: %d bytes, docker's %d", n, len(g.body), len(w.body))
			}
		}
	}
}
