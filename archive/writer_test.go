package archive

import (
	"archive/tar"
	"bytes"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/imgtool/imgtool/item"
	"github.com/imgtool/imgtool/tarball"
)

func toTagged(es []item.Item) []item.Item {
	var out []item.Item
	for _, e := range es {
		out = append(out, item.Item{Image: e.Image, Tags: e.Tags})
	}
	return out
}

// members reads a tar into name → (header, body).
type member struct {
	h    *tar.Header
	body []byte
}

func members(t testing.TB, b []byte) ([]string, map[string]member) {
	t.Helper()
	tr := tar.NewReader(bytes.NewReader(b))
	var names []string
	m := map[string]member{}
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(tr)
		names = append(names, h.Name)
		m[h.Name] = member{h, body}
	}
	return names, m
}

func writeBytes(t testing.TB, imgs []item.Item, opts Options) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := Write(&b, imgs, opts); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// The legacy writer must reproduce Docker 20.10's v1 IDs, <v1id>/json
// files, symlink dedup, manifest.json and repositories for a real save.
func TestWriteLegacyMatchesDocker2010(t *testing.T) {
	src, err := os.ReadFile(fixture2010)
	if err != nil {
		t.Fatal(err)
	}
	a := openBytes(t, src)
	out := writeBytes(t, toTagged(a.Images()), Options{Format: DockerLegacy})
	wantNames, want := members(t, src)
	gotNames, got := members(t, out)
	if !reflect.DeepEqual(gotNames, wantNames) {
		t.Fatalf("names:\n got %q\nwant %q", gotNames, wantNames)
	}
	for _, n := range wantNames {
		w, g := want[n], got[n]
		if !bytes.Equal(w.body, g.body) {
			t.Errorf("%s differs:\n got %s\nwant %s", n, g.body, w.body)
		}
		if w.h.Typeflag != g.h.Typeflag || w.h.Linkname != g.h.Linkname {
			t.Errorf("%s: type %c→%q, want %c→%q", n, g.h.Typeflag, g.h.Linkname, w.h.Typeflag, w.h.Linkname)
		}
		if g.h.Uid != 0 || g.h.Gid != 0 || g.h.Uname != "" || !g.h.ModTime.Equal(time.Unix(0, 0)) {
			t.Errorf("%s: header %+v", n, g.h)
		}
	}
	// and it reads back
	b := openBytes(t, out)
	for i, e := range b.Images() {
		raw, _ := e.Image.RawConfigFile()
		want, _ := a.Images()[i].Image.RawConfigFile()
		if !bytes.Equal(raw, want) || !reflect.DeepEqual(tagStrings(e), tagStrings(a.Images()[i])) {
			t.Fatalf("image %d differs after round trip", i)
		}
	}
}

func TestWriteDockerForm(t *testing.T) {
	src, _ := os.ReadFile(fixture2010)
	a := openBytes(t, src)
	out := writeBytes(t, toTagged(a.Images()), Options{})
	if out2 := writeBytes(t, toTagged(a.Images()), Options{}); !bytes.Equal(out, out2) {
		t.Fatal("not deterministic")
	}
	names, m := members(t, out)
	if names[0] != "blobs/" || names[1] != "blobs/sha256/" {
		t.Fatalf("names %q", names)
	}
	tail := names[len(names)-4:]
	if !reflect.DeepEqual(tail, []string{"index.json", "manifest.json", "oci-layout", "repositories"}) {
		t.Fatalf("names %q", names)
	}
	// 2 configs + 2 distinct layers + 2 manifests
	if len(names) != 2+6+4 {
		t.Fatalf("names %q", names)
	}
	for _, n := range names {
		h := m[n].h
		if h.Uid != 0 || h.Gid != 0 || h.Uname != "" || h.Gname != "" || h.ModTime.Unix() != 0 || h.Format == tar.FormatPAX {
			t.Fatalf("%s: header %+v", n, h)
		}
		if (h.Typeflag == tar.TypeDir) != (h.Mode == 0o755) {
			t.Fatalf("%s: mode %o", n, h.Mode)
		}
		if strings.HasPrefix(n, "blobs/sha256/") && len(n) > len("blobs/sha256/") && sha(m[n].body).Hex != n[len("blobs/sha256/"):] {
			t.Fatalf("%s: content is not its digest", n)
		}
	}
	const f, s = "f759cb645a35e7b2f72543ced8ce939c08d4f8dadf8dd5b7ce749130f4c61956", "dbe3195279be9a79f027348250ad0f488a8b0262c4a85dbe1f270410ea5e827e"
	if got := string(m["repositories"].body); got != `{"arch-fix/app":{"2":"`+s+`"},"arch-fix/base":{"1":"`+f+`"},"reg.example:5000/ns/app":{"latest":"`+s+`"}}`+"\n" {
		t.Fatalf("repositories %s", got)
	}
	if got := string(m["oci-layout"].body); got != `{"imageLayoutVersion": "1.0.0"}` {
		t.Fatalf("oci-layout %s", got)
	}
	mj := string(m["manifest.json"].body)
	ls := func(d string) string {
		return `"sha256:` + d + `":{"mediaType":"application/vnd.oci.image.layer.v1.tar","size":` + map[string]string{f: "10240", s: "2560"}[d] + `,"digest":"sha256:` + d + `"}`
	}
	wantMJ := `[{"Config":"blobs/sha256/` + appID + `","RepoTags":["arch-fix/app:2","reg.example:5000/ns/app:latest"],"Layers":["blobs/sha256/` + f + `","blobs/sha256/` + s + `"],"LayerSources":{` + ls(s) + `,` + ls(f) + `}},` +
		`{"Config":"blobs/sha256/` + baseID + `","RepoTags":["arch-fix/base:1"],"Layers":["blobs/sha256/` + f + `"],"LayerSources":{` + ls(f) + `}}]` + "\n"
	if mj != wantMJ {
		t.Fatalf("manifest.json\n got %s\nwant %s", mj, wantMJ)
	}
	var idx struct {
		Manifests []struct {
			Digest      v1.Hash
			Annotations map[string]string
		}
	}
	json.Unmarshal(m["index.json"].body, &idx)
	if len(idx.Manifests) != 3 || idx.Manifests[1].Annotations["io.containerd.image.name"] != "reg.example:5000/ns/app:latest" ||
		idx.Manifests[0].Annotations["io.containerd.image.name"] != "docker.io/arch-fix/app:2" || idx.Manifests[0].Annotations["org.opencontainers.image.ref.name"] != "2" {
		t.Fatalf("index.json %s", m["index.json"].body)
	}
	man := string(m["blobs/sha256/"+idx.Manifests[2].Digest.Hex].body)
	if want := `{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:` + baseID + `","size":911},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"sha256:` + f + `","size":10240}]}`; man != want {
		t.Fatalf("manifest\n got %s\nwant %s", man, want)
	}
	// read back: manifest.json is preferred, OCI manifests are attached
	b := openBytes(t, out)
	for i, e := range b.Images() {
		orig := a.Images()[i]
		raw, _ := orig.Image.RawConfigFile()
		var layers [][]byte
		ols, _ := orig.Image.Layers()
		for _, l := range ols {
			layers = append(layers, readAllRC(t, l.Uncompressed))
		}
		checkImage(t, e.Image, raw, layers)
		if e.Digest == (v1.Hash{}) || !reflect.DeepEqual(tagStrings(e), tagStrings(orig)) {
			t.Fatalf("image %d: %+v", i, e)
		}
	}
}

// Input with gzip layers (not streamable: spooled) and an untagged image;
// Epoch honoured.
func TestWriteDockerFromCompressedAndUntagged(t *testing.T) {
	b, layers, _ := ociLayoutTar(t, true, true, "")
	a := openBytes(t, b)
	imgs := []item.Item{{Image: a.Images()[0].Image}}
	ep := time.Unix(1700000000, 500)
	out := writeBytes(t, imgs, Options{Epoch: ep, Jobs: 2})
	names, m := members(t, out)
	for _, n := range names {
		if m[n].h.ModTime.Unix() != 1700000000 {
			t.Fatalf("%s mtime %v", n, m[n].h.ModTime)
		}
	}
	if _, ok := m["repositories"]; ok {
		t.Fatal("repositories without tags")
	}
	if !strings.Contains(string(m["manifest.json"].body), `"RepoTags":null`) {
		t.Fatalf("manifest.json %s", m["manifest.json"].body)
	}
	r := openBytes(t, out)
	checkImage(t, r.Images()[0].Image, configFor(t, layers, "linux"), layers)
}

func TestWriteOCIArchiveCompressed(t *testing.T) {
	src, _ := os.ReadFile(fixture2010)
	a := openBytes(t, src)
	for _, c := range []tarball.Compression{tarball.None, tarball.Gzip, tarball.Zstd} {
		t.Run(c.String(), func(t *testing.T) {
			opts := Options{Format: OCIArchive, Compression: c}
			out := writeBytes(t, toTagged(a.Images()), opts)
			if out2 := writeBytes(t, toTagged(a.Images()), Options{Format: OCIArchive, Compression: c, Jobs: 1}); !bytes.Equal(out, out2) {
				t.Fatal("not deterministic")
			}
			_, m := members(t, out)
			if _, ok := m["manifest.json"]; ok {
				t.Fatal("OCI archive has manifest.json")
			}
			r := openBytes(t, out)
			if len(r.Images()) != 2 {
				t.Fatalf("%d images", len(r.Images()))
			}
			want := map[tarball.Compression]string{tarball.None: "application/vnd.oci.image.layer.v1.tar",
				tarball.Gzip: "application/vnd.oci.image.layer.v1.tar+gzip", tarball.Zstd: "application/vnd.oci.image.layer.v1.tar+zstd"}[c]
			for i, e := range r.Images() {
				orig := a.Images()[i]
				raw, _ := orig.Image.RawConfigFile()
				var layers [][]byte
				ols, _ := orig.Image.Layers()
				for _, l := range ols {
					layers = append(layers, readAllRC(t, l.Uncompressed))
				}
				checkImage(t, e.Image, raw, layers)
				if !reflect.DeepEqual(tagStrings(e), tagStrings(orig)) {
					t.Fatalf("tags %v", tagStrings(e))
				}
				ls, _ := e.Image.Layers()
				for _, l := range ls {
					if mt, _ := l.MediaType(); string(mt) != want {
						t.Fatalf("media type %s", mt)
					}
				}
			}
		})
	}
}

func TestWriteLayout(t *testing.T) {
	src, _ := os.ReadFile(fixture2010)
	a := openBytes(t, src)
	for _, c := range []tarball.Compression{tarball.None, tarball.Gzip} {
		dir := filepath.Join(t.TempDir(), "lay")
		if err := WriteLayout(dir, toTagged(a.Images()), Options{Format: OCILayout, Compression: c}); err != nil {
			t.Fatal(err)
		}
		// read the directory back through a tar of it
		var files []tf
		filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
			if err != nil || fi.IsDir() {
				return err
			}
			rel, _ := filepath.Rel(dir, p)
			body, _ := os.ReadFile(p)
			if fi.Mode().Perm() != 0o644 {
				t.Errorf("%s: mode %v", rel, fi.Mode())
			}
			files = append(files, tf{name: rel, body: body})
			return nil
		})
		r := openBytes(t, mkTar(t, files))
		if len(r.Images()) != 2 || len(r.Images()[0].Tags) != 2 {
			t.Fatalf("%+v", r.Images())
		}
		for _, e := range r.Images() {
			checkBlobs(t, e.Image)
		}
		ents, _ := os.ReadDir(filepath.Join(dir, "blobs", "sha256"))
		for _, e := range ents {
			if strings.Contains(e.Name(), "tmp") {
				t.Fatalf("leftover %s", e.Name())
			}
		}
		if len(ents) != 6 {
			t.Fatalf("%d blobs", len(ents))
		}
	}
}

// fakeImage wraps an image, replacing its config so its diff_ids lie.
type lyingImage struct {
	v1.Image
	raw []byte
}

func (l lyingImage) RawConfigFile() ([]byte, error) { return l.raw, nil }

func TestWriteDiffIDMismatch(t *testing.T) {
	b, _, _ := dockerForm(t)
	a := openBytes(t, b)
	img := a.Images()[0].Image
	bad := configFor(t, [][]byte{testLayers[0], testLayers[2]}, "linux")
	want := "layer " + sha(testLayers[2]).String() + ": content does not match its diff_id (got " + sha(testLayers[1]).String() + ")"
	for _, f := range []Format{Docker, DockerLegacy, OCIArchive} {
		for _, c := range []tarball.Compression{tarball.None, tarball.Gzip} {
			if c != tarball.None && f != OCIArchive {
				continue
			}
			err := Write(io.Discard, []item.Item{{Image: lyingImage{img, bad}}}, Options{Format: f, Compression: c})
			if err == nil || err.Error() != want {
				t.Fatalf("%v/%v: %v", f, c, err)
			}
		}
	}
	if err := Write(io.Discard, []item.Item{{Image: img}}, Options{Format: Docker, Compression: tarball.Gzip}); err == nil {
		t.Fatal("gzip allowed for Docker form")
	}
}

// docker load of both Docker forms on a real engine runs in the interop
// suite against a private daemon (TestDockerSaveImgtoolRoundTrip and
// ...Legacy load what imgtool saves; TestDockerSaveLegacyWholeArchive
// compares whole legacy archives with docker save's).

// checkBlobs verifies a ggcr image's config and layer digests and diff IDs.
func checkBlobs(t testing.TB, img v1.Image) {
	t.Helper()
	raw, err := img.RawConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	m, err := img.Manifest()
	if err != nil {
		t.Fatal(err)
	}
	if sha(raw) != m.Config.Digest {
		t.Fatal("config digest")
	}
	cf, _ := img.ConfigFile()
	ls, _ := img.Layers()
	for i, l := range ls {
		if sha(readAllRC(t, l.Compressed)) != m.Layers[i].Digest {
			t.Fatalf("layer %d digest", i)
		}
		if sha(readAllRC(t, l.Uncompressed)) != cf.RootFS.DiffIDs[i] {
			t.Fatalf("layer %d diff id", i)
		}
	}
}
