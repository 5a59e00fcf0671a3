package interop

import (
	"archive/tar"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/imgtool/imgtool/flatten"
	"github.com/imgtool/imgtool/internal/dockertest"
)

// The flatten corpus (testdata/flatten) is made by TestGenerateFlattenCorpus,
// run by testdata/flatten/gen.sh with IMGTOOL_GEN_FLATTEN_CORPUS=1. Each case
// is a docker-save archive (<case>.tar, docker save output of a private
// Docker 20.10) and the tree of `docker export` of a container created from
// it (<case>.tree: one flatten.Describe node per line, full sha256, with the
// init layer's entries removed). The unit test in transfer/squash_test.go
// flattens every archive and compares with the tree, without Docker.
//
// Docker-built cases are `docker build --network none` on the harness's
// busybox base; their layers are then restacked on a tiny base layer (a few
// directories and etc/motd, no busybox) so that each archive stays a few KB:
// the image Docker loads, exports and saves is exactly the committed one, so
// the expected tree is still Docker's. Synthetic cases (what docker build
// cannot make) are layer tars written here in Go on the same tiny base.
const genCorpusEnv = "IMGTOOL_GEN_FLATTEN_CORPUS"

// initLayerPaths are what docker export adds from the init layer; dev and
// etc are removed only when the image has no such directory.
var initLayerPaths = []string{".dockerenv", "dev/console", "dev/pts", "dev/shm", "etc/hostname", "etc/hosts",
	"etc/resolv.conf", "etc/mtab", "proc", "sys"}

type corpusCase struct {
	name, what string
	run        string                      // Dockerfile lines after FROM (docker-built)
	layers     func(t *testing.T) [][]byte // synthetic layers above the tiny base
	umociNote  string                      // known difference of umoci unpack, "" if none
}

var corpusCases = []corpusCase{
	{name: "whiteout", what: "files deleted by whiteouts (own layer's file, base file etc/motd, a whole dir)",
		run: `RUN mkdir -p /w/d/sub && echo keep > /w/keep && echo gone > /w/gone && echo x > /w/d/sub/x && echo y > /w/d/y
RUN rm /w/gone /etc/motd && rm -r /w/d
`},
	{name: "opaque", what: "directory hidden by .wh..wh..opq: lower content gone, own new content kept",
		run: `RUN mkdir -p /o/sub/deep && echo old > /o/old && echo s > /o/sub/s && echo d > /o/sub/deep/d && echo k > /o/keep-sibling
RUN rm -r /o && mkdir -p /o/sub && echo new > /o/new && echo s2 > /o/sub/s2
RUN echo later > /o/later
`},
	{name: "replace", what: "a file replacing a directory and a directory replacing a file",
		run: `RUN mkdir -p /r/dir/sub && echo a > /r/dir/a && echo b > /r/dir/sub/b && echo f > /r/file
RUN rm -r /r/dir && echo now-a-file > /r/dir && rm /r/file && mkdir /r/file && echo c > /r/file/child
RUN rm /r/dir && mkdir /r/dir && echo again > /r/dir/again
`},
	{name: "hardlinks", what: "hardlinks whose target is deleted, overwritten, re-linked; chains across layers",
		run: `RUN mkdir /h && echo a > /h/a && ln /h/a /h/a1 && ln /h/a /h/a2 && echo b > /h/b && ln /h/b /h/b1 && echo c > /h/c && ln /h/c /h/c1 && echo x > /h/x && echo w > /h/w && ln /h/w /h/w1
RUN rm /h/a && rm /h/b && echo b-new > /h/b && rm /h/c && ln /h/a1 /h/c && ln /h/x /h/y && echo w-new >> /h/w
RUN ln /h/y /h/z && rm /h/x && chmod 0600 /h/z
RUN ln /h/z /h/zz && rm /h/y
`},
	{name: "symlinks", what: "absolute, relative, dangling and directory symlinks; a symlink replaced by a file and back",
		run: `RUN mkdir -p /s/dir && echo t > /s/dir/t && ln -s /s/dir/t /s/abs && ln -s dir/t /s/rel && ln -s ../s/dir /s/reldir && ln -s /nowhere /s/dangling && ln -s dir /s/willbefile && echo f > /s/willbelink
RUN rm /s/willbefile && echo file > /s/willbefile && rm /s/willbelink && ln -s /s/abs /s/willbelink && ln -s reldir/t /s/chain
`},
	{name: "names", what: "PAX long names (>100 bytes, 255-byte component) and non-ASCII and spaced names",
		run: `RUN mkdir -p /n/$(busybox printf 'a%.0s' $(busybox seq 1 120))/$(busybox printf 'b%.0s' $(busybox seq 1 60)) && echo long > /n/$(busybox printf 'a%.0s' $(busybox seq 1 120))/$(busybox printf 'b%.0s' $(busybox seq 1 60))/$(busybox printf 'c%.0s' $(busybox seq 1 255)) && echo u > "/n/$(busybox printf '\303\274ber \346\227\245\346\234\254')" && echo sp > "/n/with space" && ln -s "$(busybox printf 'z\303\244l')" /n/sym-$(busybox printf '\303\251') && ln "/n/with space" /n/$(busybox printf 'd%.0s' $(busybox seq 1 110))
RUN rm "/n/with space" && echo 2 > /n/$(busybox printf '\303\274ber')2
`},
	{name: "special", what: "device nodes, fifos, setuid/setgid/sticky, owners",
		run: `RUN mkdir /sp && mknod /sp/null c 1 3 && mknod /sp/loop b 7 0 && busybox mkfifo /sp/fifo && echo s > /sp/suid && chmod 4755 /sp/suid && echo g > /sp/sgid && chmod 2750 /sp/sgid && mkdir /sp/sticky && chmod 1777 /sp/sticky && mkdir /sp/gdir && chmod 2775 /sp/gdir && echo o > /sp/owned && busybox chown 1000:2000 /sp/owned /sp/null && busybox chown 33:33 /sp/gdir
RUN rm /sp/loop && mknod /sp/loop b 7 1 && chmod 0600 /sp/null && busybox mkfifo /sp/fifo2 && busybox chown 7:8 /sp/fifo2
`},
	{name: "dirmeta", what: "a directory's metadata comes from its topmost copy",
		run: `RUN mkdir -p /m/a/b && echo f > /m/a/b/f && chmod 0750 /m/a
RUN chmod 0700 /m/a && busybox chown 5:6 /m/a && chmod 0711 /m/a/b
RUN echo g > /m/a/g && busybox chown 9:9 /m/a/b
`},
	{name: "synthetic-whiteout-missing", umociNote: "umoci does not create a whiteout's missing parent (ghost/)", what: "whiteouts for paths that never existed (also under a missing dir), entries without parent entries",
		layers: func(t *testing.T) [][]byte {
			return [][]byte{
				synthTar(t, sEnt{name: "x/", dir: true}, sEnt{name: "x/real", body: "real\n"}),
				synthTar(t, sEnt{name: "x/", dir: true}, sEnt{name: "x/.wh.never"}, sEnt{name: ".wh.nothing-here"},
					sEnt{name: "ghost/.wh.phantom"}, sEnt{name: "deep/er/file", body: "no parent entries\n"},
					sEnt{name: "etc/.wh.motd-not-this"}),
			}
		}},
	{name: "synthetic-xattr", umociNote: "umoci does not apply a hardlink header's mode, owner or (absent) xattrs to the inode", what: "security.capability (PAX SCHILY.xattr) kept, other xattrs dropped on export, v3 capability downgraded",
		layers: func(t *testing.T) [][]byte {
			capV2 := string([]byte{0, 0, 0, 2, 0, 0x20, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}) // cap_net_bind_service+ep... permitted bit 10
			capV3 := string([]byte{0, 0, 0, 3, 0, 0x20, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0})
			return [][]byte{
				synthTar(t, sEnt{name: "cap/", dir: true},
					sEnt{name: "cap/ping", body: "binary\n", mode: 0o755, xattrs: map[string]string{"security.capability": capV2}},
					sEnt{name: "cap/user-xattr", body: "u\n", xattrs: map[string]string{"user.note": "hello"}},
					sEnt{name: "cap/replaced", body: "old\n", mode: 0o755, xattrs: map[string]string{"security.capability": capV2}},
					sEnt{name: "cap/ping-link", link: "cap/ping", hard: true}),
				synthTar(t, sEnt{name: "cap/", dir: true},
					sEnt{name: "cap/replaced", body: "new, no caps\n", mode: 0o755},
					sEnt{name: "cap/v3", body: "v3\n", mode: 0o755, xattrs: map[string]string{"security.capability": capV3}}),
			}
		}},
	{name: "synthetic-opaque-order", umociNote: "umoci does not apply a hardlink header's mode and owner to the inode", what: "opaque marker after the layer's own entries, hardlink headers changing the inode's metadata",
		layers: func(t *testing.T) [][]byte {
			return [][]byte{
				synthTar(t, sEnt{name: "q/", dir: true}, sEnt{name: "q/old", body: "old\n"}, sEnt{name: "q/sub/", dir: true},
					sEnt{name: "q/sub/old", body: "old\n"}, sEnt{name: "f", body: "f\n"}),
				synthTar(t, sEnt{name: "q/", dir: true, mode: 0o700}, sEnt{name: "q/mine", body: "mine\n"},
					sEnt{name: "q/sub/", dir: true}, sEnt{name: "q/sub/mine", body: "mine\n"},
					sEnt{name: "q/.wh..wh..opq"}, sEnt{name: "q/after", body: "after\n"},
					sEnt{name: "g", body: "g\n"}, sEnt{name: "g-link", link: "g", hard: true, mode: 0o600, uid: 3, gid: 4}),
			}
		}},
}

// sEnt is one entry of a synthetic layer tar.
type sEnt struct {
	name, body, link string
	dir, hard        bool
	mode             int64
	uid, gid         int
	xattrs           map[string]string
}

func synthTar(t *testing.T, ents ...sEnt) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range ents {
		h := &tar.Header{Name: e.name, Mode: e.mode, Uid: e.uid, Gid: e.gid, ModTime: time.Unix(1700000000, 0), Format: tar.FormatPAX}
		switch {
		case e.dir:
			h.Typeflag = tar.TypeDir
			if h.Mode == 0 {
				h.Mode = 0o755
			}
		case e.hard:
			h.Typeflag, h.Linkname = tar.TypeLink, e.link
		case e.link != "":
			h.Typeflag, h.Linkname, h.Mode = tar.TypeSymlink, e.link, 0o777
		default:
			h.Typeflag, h.Size = tar.TypeReg, int64(len(e.body))
		}
		if h.Mode == 0 {
			h.Mode = 0o644
		}
		for k, v := range e.xattrs {
			if h.PAXRecords == nil {
				h.PAXRecords = map[string]string{}
			}
			h.PAXRecords["SCHILY.xattr."+k] = v
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if _, err := io.WriteString(tw, e.body); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// tinyBase is the base layer every corpus case sits on.
func tinyBase(t *testing.T) []byte {
	return synthTar(t, sEnt{name: "bin/", dir: true}, sEnt{name: "bin/sh", link: "busybox"},
		sEnt{name: "etc/", dir: true}, sEnt{name: "etc/motd", body: "hello\n"},
		sEnt{name: "root/", dir: true, mode: 0o700}, sEnt{name: "tmp/", dir: true, mode: 0o1777})
}

// corpusConfig returns config bytes for layers: base (a docker-built
// config) with rootfs.diff_ids replaced, or a synthetic config.
func corpusConfig(t *testing.T, base []byte, c corpusCase, layers [][]byte) []byte {
	t.Helper()
	var ids []string
	for _, l := range layers {
		ids = append(ids, digestOf(l))
	}
	cfg := map[string]any{}
	if base != nil {
		if err := json.Unmarshal(base, &cfg); err != nil {
			t.Fatal(err)
		}
	} else {
		var hist []map[string]any
		for i := range layers {
			hist = append(hist, map[string]any{"created": "2024-01-02T03:04:05Z", "created_by": fmt.Sprintf("synthetic layer %d", i)})
		}
		cfg = map[string]any{
			"architecture": "amd64", "os": "linux", "created": "2024-01-02T03:04:05Z",
			"config": map[string]any{"Env": []string{"PATH=/bin"}, "Cmd": []string{"/bin/sh"},
				"Labels": map[string]string{"imgtool.flatten.case": c.name}},
			"history": hist,
		}
	}
	cfg["rootfs"] = map[string]any{"type": "layers", "diff_ids": ids}
	b, err := json.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// writeImageArchive writes a manifest.json docker-save archive of one image.
func writeImageArchive(t *testing.T, p string, cfg []byte, layers [][]byte, tag string) {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	add := func(name string, b []byte) {
		if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(b)), ModTime: time.Unix(1700000000, 0), Typeflag: tar.TypeReg}); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write(b); err != nil {
			t.Fatal(err)
		}
	}
	item := manifestItem{Config: strings.TrimPrefix(digestOf(cfg), "sha256:") + ".json", RepoTags: []string{tag}}
	add(item.Config, cfg)
	seen := map[string]bool{}
	for _, l := range layers {
		n := strings.TrimPrefix(digestOf(l), "sha256:") + "/layer.tar"
		if !seen[n] {
			add(n, l)
			seen[n] = true
		}
		item.Layers = append(item.Layers, n)
	}
	mb, _ := json.Marshal([]manifestItem{item})
	add("manifest.json", mb)
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

// treeLine is a Describe node on one line, with the full sha256.
func treeLine(n flatten.Node) string {
	s := n.String()
	if n.SHA256 != "" {
		s = strings.Replace(s, "sha256="+n.SHA256[:12], "sha256="+n.SHA256, 1)
	}
	return s
}

// exportTree describes a docker export tar without the init layer's
// entries (dev and etc too unless keepDev/keepEtc).
func exportTree(t *testing.T, export []byte, keepDev, keepEtc bool) []flatten.Node {
	t.Helper()
	nodes, err := flatten.Describe(bytes.NewReader(export))
	if err != nil {
		t.Fatal(err)
	}
	drop := map[string]bool{}
	for _, p := range initLayerPaths {
		drop[p] = true
	}
	if !keepDev {
		drop["dev"] = true
	}
	if !keepEtc {
		drop["etc"] = true
	}
	var out []flatten.Node
	for _, n := range nodes {
		if !drop[n.Path] && n.Path != "" {
			out = append(out, n)
		}
	}
	return out
}

// layersHave reports whether any layer tar has an entry at or under dir.
func layersHave(t *testing.T, layers [][]byte, dir string) bool {
	for _, l := range layers {
		tr := tar.NewReader(bytes.NewReader(l))
		for {
			h, err := tr.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			n := strings.TrimPrefix(strings.TrimPrefix(h.Name, "./"), "/")
			if n == dir || strings.HasPrefix(n, dir+"/") {
				return true
			}
		}
	}
	return false
}

func corpusDir(t *testing.T) string {
	t.Helper()
	root, err := dockertest.ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	return filepath.Join(root, "testdata", "flatten")
}

// TestGenerateFlattenCorpus (re)writes testdata/flatten; see genCorpusEnv.
func TestGenerateFlattenCorpus(t *testing.T) {
	if os.Getenv(genCorpusEnv) != "1" {
		t.Skipf("set %s=1 (testdata/flatten/gen.sh) to regenerate the flatten corpus", genCorpusEnv)
	}
	d := dockertest.Shared(t)
	base := dockertest.BaseImage(t, d, "")
	out := corpusDir(t)
	if err := os.MkdirAll(out, 0o755); err != nil {
		t.Fatal(err)
	}
	tmp := t.TempDir()
	for _, c := range corpusCases {
		t.Run(c.name, func(t *testing.T) {
			layers := [][]byte{tinyBase(t)}
			var baseCfg []byte
			if c.run != "" {
				btag := "flatten-build/" + c.name + ":1"
				d.Build(t, btag, "FROM "+base+"\n"+c.run, nil)
				p := filepath.Join(tmp, c.name+"-build.tar")
				d.Docker(t, "save", "-o", p, btag)
				a := readArchive(t, p)
				baseCfg = a.files[a.manifest[0].Config]
				for _, l := range a.manifest[0].Layers[1:] {
					b, ok := a.file(l)
					if !ok {
						t.Fatalf("layer %s missing", l)
					}
					layers = append(layers, b)
				}
				d.Docker(t, "rmi", btag)
			} else {
				layers = append(layers, c.layers(t)...)
			}
			tag := "flatten-corpus/" + c.name + ":1"
			cfg := corpusConfig(t, baseCfg, c, layers)
			in := filepath.Join(tmp, c.name+".tar")
			writeImageArchive(t, in, cfg, layers, tag)
			d.Docker(t, "load", "-i", in)
			ctr := "flatten-corpus-" + c.name
			d.Docker(t, "create", "--network", "none", "--name", ctr, tag)
			exp := filepath.Join(tmp, c.name+"-export.tar")
			d.Docker(t, "export", "-o", exp, ctr)
			d.Docker(t, "rm", ctr)
			d.Docker(t, "save", "-o", filepath.Join(out, c.name+".tar"), tag)
			d.Docker(t, "rmi", tag)
			eb, err := os.ReadFile(exp)
			if err != nil {
				t.Fatal(err)
			}
			var lines []string
			for _, n := range exportTree(t, eb, layersHave(t, layers, "dev"), layersHave(t, layers, "etc")) {
				lines = append(lines, treeLine(n))
			}
			if err := os.WriteFile(filepath.Join(out, c.name+".tree"), []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
				t.Fatal(err)
			}
			fi, _ := os.Stat(filepath.Join(out, c.name+".tar"))
			t.Logf("%s: %d bytes, %d layers, %d tree entries", c.name, fi.Size(), len(layers), len(lines))
		})
	}
}

// TestFlattenCorpusUmoci compares each corpus tree with `umoci unpack` of
// the same archive (through skopeo's docker-archive: -> oci:). Cases with a
// umociNote differ as documented there (and in testdata/flatten/README.md);
// the differences are logged, the others must be equal.
func TestFlattenCorpusUmoci(t *testing.T) {
	dockertest.Require(t, "root", "skopeo", "umoci", "tar")
	dir := corpusDir(t)
	for _, c := range corpusCases {
		t.Run(c.name, func(t *testing.T) {
			arch := filepath.Join(dir, c.name+".tar")
			wantB, err := os.ReadFile(filepath.Join(dir, c.name+".tree"))
			if err != nil {
				t.Fatalf("corpus case missing (run testdata/flatten/gen.sh): %v", err)
			}
			tmp := t.TempDir()
			layout := filepath.Join(tmp, "oci")
			if out, err := runCmd("skopeo", "copy", "--quiet", "docker-archive:"+arch, "oci:"+layout+":c"); err != nil {
				t.Fatalf("skopeo copy: %v\n%s", err, out)
			}
			bundle := filepath.Join(tmp, "bundle")
			if out, err := runCmd("umoci", "unpack", "--image", layout+":c", bundle); err != nil {
				if c.umociNote != "" {
					t.Logf("umoci unpack fails (%s): %v\n%s", c.umociNote, err, out)
					return
				}
				t.Fatalf("umoci unpack: %v\n%s", err, out)
			}
			cmd := exec.Command("tar", "--sort=name", "--format=posix", "--xattrs", "--xattrs-include=security.capability",
				"-C", filepath.Join(bundle, "rootfs"), "-cf", "-", ".")
			var tb, eb bytes.Buffer
			cmd.Stdout, cmd.Stderr = &tb, &eb
			if err := cmd.Run(); err != nil {
				t.Fatalf("tar rootfs: %v\n%s", err, eb.String())
			}
			nodes, err := flatten.Describe(&tb)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, n := range nodes {
				if n.Path != "" {
					got = append(got, treeLine(n))
				}
			}
			diff := lineDiff(strings.Split(strings.TrimSpace(string(wantB)), "\n"), got)
			switch {
			case len(diff) == 0 && c.umociNote != "":
				t.Logf("umoci now matches docker export (note was: %s)", c.umociNote)
			case len(diff) == 0:
			case c.umociNote != "":
				t.Logf("umoci differs from docker export as documented (%s):\n%s", c.umociNote, strings.Join(diff, "\n"))
			default:
				t.Errorf("umoci unpack differs from docker export (- docker, + umoci):\n%s", strings.Join(diff, "\n"))
			}
		})
	}
}

// lineDiff returns "- " lines only in a and "+ " lines only in b, sorted by path.
func lineDiff(a, b []string) []string {
	in := func(ls []string) map[string]bool {
		m := map[string]bool{}
		for _, l := range ls {
			m[l] = true
		}
		return m
	}
	ma, mb := in(a), in(b)
	var out []string
	for _, l := range a {
		if !mb[l] {
			out = append(out, "- "+l)
		}
	}
	for _, l := range b {
		if !ma[l] {
			out = append(out, "+ "+l)
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i][2:] < out[j][2:] })
	return out
}

// flattenRichDockerfile adds devices, a fifo, setuid bits, hardlink chains
// and a file/dir swap to RichDockerfile's cases, on the busybox base.
func flattenRichDockerfile(base string) string {
	return dockertest.RichDockerfile(base, "flatten") + `RUN mkdir /x && mknod /x/null c 1 3 && busybox mkfifo /x/fifo && echo s > /x/suid && chmod 4755 /x/suid && mkdir /x/sticky && chmod 1777 /x/sticky && echo h > /x/h && ln /x/h /x/h1 && mkdir /x/d && echo d > /x/d/f && busybox chown 1000:1000 /x/h
RUN rm /x/h && ln /x/h1 /x/h2 && rm -r /x/d && echo file > /x/d && busybox chown 0:0 /x/h1
WORKDIR /data
ENV FLAT=yes
ENTRYPOINT ["/bin/sh", "-c"]
LABEL org.example.flatten="a&b<c>"
EXPOSE 8080/tcp
USER 0:0
`
}

// TestFlattenLoadsAndRunsInDocker: docker build -> docker save -> imgtool
// load -> imgtool flatten -> imgtool save -> docker load: the flattened
// image runs, has one layer, one history entry and the source's config,
// and its docker export tree equals the source image's.
func TestFlattenLoadsAndRunsInDocker(t *testing.T) {
	d := dockertest.Shared(t)
	base := dockertest.BaseImage(t, d, "")
	tag, flatTag := "interop-flatten-src:1", "interop-flatten-flat:1"
	d.Build(t, tag, flattenRichDockerfile(base), dockertest.RichFiles("flatten"))
	srcID := d.ImageID(t, tag)
	dir := t.TempDir()
	src := filepath.Join(dir, "src.tar")
	d.Docker(t, "save", "-o", src, tag)

	store := newStore(t)
	dockertest.MustImgtool(t, "--root", store, "load", "-i", src)
	id := strings.TrimSpace(dockertest.MustImgtool(t, "--root", store, "flatten", "--tag", flatTag, tag))
	if again := strings.TrimSpace(dockertest.MustImgtool(t, "--root", store, "flatten", tag)); again != id {
		t.Errorf("flattening twice: %s then %s", id, again)
	}
	if fromArchive := strings.TrimSpace(dockertest.MustImgtool(t, "--root", newStore(t), "flatten", "docker-archive:"+src)); fromArchive != id {
		t.Errorf("flatten from the archive gives %s, from the store %s", fromArchive, id)
	}
	out := filepath.Join(dir, "flat.tar")
	dockertest.MustImgtool(t, "--root", store, "save", "-o", out, flatTag)
	d.Docker(t, "load", "-i", out)
	if got := d.ImageID(t, flatTag); got != id {
		t.Errorf("docker load gives image %s, imgtool printed %s", got, id)
	}
	if n := len(rootFSLayers(t, d, flatTag)); n != 1 {
		t.Errorf("flattened image has %d layers", n)
	}
	hist := d.Docker(t, "history", "--no-trunc", "--format", "{{.CreatedBy}}|{{.Comment}}", flatTag)
	if want := "imgtool flatten|flattened from " + srcID; hist != want {
		t.Errorf("docker history: %q, want %q", hist, want)
	}
	for _, f := range []string{".Config.Env", ".Config.Cmd", ".Config.Entrypoint", ".Config.WorkingDir", ".Config.User",
		".Config.Labels", ".Config.ExposedPorts", ".Created", ".Architecture", ".Os"} {
		a := d.Docker(t, "image", "inspect", "-f", "{{json "+f+"}}", tag)
		b := d.Docker(t, "image", "inspect", "-f", "{{json "+f+"}}", flatTag)
		if a != b {
			t.Errorf("%s: source %s, flattened %s", f, a, b)
		}
	}
	check := "cat /data/a.txt /data/opq/new.txt /x/h2 && test -c /x/null && test -p /x/fifo && test -u /x/suid && test -f /x/d && ! test -e /data/gone.txt && echo RUNS"
	if got := d.Docker(t, "run", "--rm", "--network", "none", flatTag, check); !strings.HasSuffix(got, "RUNS") {
		t.Errorf("flattened image run: %q", got)
	}
	if a, b := d.Run(t, tag, "echo $FLAT; pwd; id -u"), d.Run(t, flatTag, "echo $FLAT; pwd; id -u"); a != b {
		t.Errorf("run output: source %q, flattened %q", a, b)
	}
	trees := map[string][]flatten.Node{}
	for _, r := range []string{tag, flatTag} {
		ctr := strings.NewReplacer(":", "-", "/", "-").Replace(r) + "-ctr"
		d.Docker(t, "create", "--network", "none", "--name", ctr, r)
		p := filepath.Join(dir, ctr+".tar")
		d.Docker(t, "export", "-o", p, ctr)
		d.Docker(t, "rm", ctr)
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		trees[r] = exportTree(t, b, true, true)
	}
	if len(trees[tag]) < 40 {
		t.Fatalf("precondition: source export has only %d entries", len(trees[tag]))
	}
	if diff := flatten.DiffTrees(trees[tag], trees[flatTag]); diff != nil {
		t.Errorf("docker export trees differ (- source, + flattened):\n%s", strings.Join(diff, "\n"))
	}
	d.Docker(t, "rmi", flatTag, tag)
}
