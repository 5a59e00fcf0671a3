// Command gen writes imgtool's hostile-input corpus: the input files of
// testdata/bad/, cases.json (what the reliability tests run and expect) and
// README.md (the same table for people). Output is deterministic: fixed
// times, fixed "random" bytes, single-threaded compressors.
//
//	go run ./testdata/bad/gen            # from the module root
//	go run ./testdata/bad/gen -o DIR     # somewhere else (the freshness test)
package main

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"math/rand"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/klauspost/compress/zstd"
)

// Case is one hostile input and what imgtool must do with it. Args may use
// {file} (the input's absolute path), {out} (an output path inside the
// sandbox that must not exist after a failure) and {image} (the reference
// of the known-good image preloaded into the store: good:1).
type Case struct {
	Name string   `json:"name"`
	Cmd  string   `json:"cmd"` // load, import, convert or export
	File string   `json:"file,omitempty"`
	Args []string `json:"args"`
	// Expect is "fail" (non-zero exit, one-line error containing Want,
	// store unchanged) or "ok" (Docker-compatible acceptance: exit 0, and
	// nothing written outside the store; names are clamped into the layer).
	Expect string `json:"expect"`
	Want   string `json:"want,omitempty"`
	// Setup damages the preloaded store before an export case.
	Setup string `json:"setup,omitempty"`
	// Tmpfs runs the case on an 8 MiB tmpfs store (root only), with TMPDIR
	// inside the same tmpfs.
	Tmpfs bool `json:"tmpfs,omitempty"`
	// Unprivileged runs imgtool as uid/gid 65534 (root only).
	Unprivileged bool `json:"unprivileged,omitempty"`
	// Canaries are host paths the case aims at; they must not appear.
	Canaries []string `json:"canaries,omitempty"`
	// MaxRSSMiB, when set, bounds the imgtool process's peak RSS.
	MaxRSSMiB int    `json:"maxRSSMiB,omitempty"`
	Doc       string `json:"doc"`
}

var epoch = time.Unix(1700000000, 0).UTC()

type ent struct {
	hdr  tar.Header
	body []byte
}

func file(name, body string) ent {
	return ent{tar.Header{Name: name, Typeflag: tar.TypeReg, Mode: 0o644, Size: int64(len(body))}, []byte(body)}
}
func dir(name string) ent {
	return ent{hdr: tar.Header{Name: name, Typeflag: tar.TypeDir, Mode: 0o755}}
}
func symlink(name, target string) ent {
	return ent{hdr: tar.Header{Name: name, Typeflag: tar.TypeSymlink, Linkname: target, Mode: 0o777}}
}
func hardlink(name, target string) ent {
	return ent{hdr: tar.Header{Name: name, Typeflag: tar.TypeLink, Linkname: target, Mode: 0o644}}
}
func chardev(name string, major, minor int64) ent {
	return ent{hdr: tar.Header{Name: name, Typeflag: tar.TypeChar, Mode: 0o666, Devmajor: major, Devminor: minor}}
}
func blob(name string, b []byte) ent {
	return ent{tar.Header{Name: name, Typeflag: tar.TypeReg, Mode: 0o644, Size: int64(len(b))}, b}
}

func mkTar(ents ...ent) []byte {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range ents {
		h := e.hdr
		h.ModTime = epoch
		h.Format = tar.FormatPAX
		if err := tw.WriteHeader(&h); err != nil {
			log.Fatalf("%s: %v", h.Name, err)
		}
		if len(e.body) > 0 {
			if _, err := tw.Write(e.body); err != nil {
				log.Fatal(err)
			}
		}
	}
	if err := tw.Close(); err != nil {
		log.Fatal(err)
	}
	return buf.Bytes()
}

func gz(b []byte) []byte {
	var buf bytes.Buffer
	w, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	w.Write(b)
	w.Close()
	return buf.Bytes()
}

func zst(b []byte) []byte {
	enc, err := zstd.NewWriter(nil, zstd.WithEncoderConcurrency(1), zstd.WithEncoderLevel(zstd.SpeedBestCompression))
	if err != nil {
		log.Fatal(err)
	}
	defer enc.Close()
	return enc.EncodeAll(b, nil)
}

func digest(b []byte) string {
	s := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(s[:])
}

// config is a minimal image config over the given diff IDs.
func config(osName string, diffIDs ...string) []byte {
	if diffIDs == nil {
		diffIDs = []string{}
	}
	b, _ := json.Marshal(map[string]any{
		"architecture": "amd64", "os": osName, "created": epoch.Format(time.RFC3339),
		"config": map[string]any{"Cmd": []string{"/bin/sh"}},
		"rootfs": map[string]any{"type": "layers", "diff_ids": diffIDs},
	})
	return b
}

type item struct {
	Config   string
	RepoTags []string
	Layers   []string
}

// archive is a docker-save archive (legacy layout: manifest.json, config
// file and <n>/layer.tar) over layer tars whose diff IDs the config lists.
func archive(tags []string, layers ...[]byte) []byte {
	var diffs []string
	for _, l := range layers {
		diffs = append(diffs, digest(l))
	}
	return archiveWith(config("linux", diffs...), tags, layers)
}

func archiveWith(cfg []byte, tags []string, layers [][]byte, extra ...ent) []byte {
	cfgName := strings.TrimPrefix(digest(cfg), "sha256:") + ".json"
	it := item{Config: cfgName, RepoTags: tags}
	ents := []ent{blob(cfgName, cfg)}
	for i, l := range layers {
		p := fmt.Sprintf("l%d/layer.tar", i)
		it.Layers = append(it.Layers, p)
		ents = append(ents, dir(fmt.Sprintf("l%d/", i)), blob(p, l))
	}
	if it.RepoTags == nil {
		it.RepoTags = []string{}
	}
	m, _ := json.Marshal([]item{it})
	ents = append(ents, extra...)
	ents = append(ents, blob("manifest.json", m))
	return mkTar(ents...)
}

// manifestArchive writes a manifest.json verbatim next to the given entries.
func manifestArchive(manifest string, ents ...ent) []byte {
	return mkTar(append(ents, file("manifest.json", manifest))...)
}

var goodLayer = mkTar(dir("etc/"), file("etc/motd", "good\n"), dir("bin/"), file("bin/sh", "#!fake\n"))

// GoodArchive is preloaded into every case's store as good:1.
var goodArchive = archive([]string{"good:1"}, goodLayer)

func main() {
	out := flag.String("o", "testdata/bad", "output directory")
	flag.Parse()
	if err := os.MkdirAll(*out, 0o755); err != nil {
		log.Fatal(err)
	}
	files := map[string][]byte{"good.tar": goodArchive}
	var cases []Case
	add := func(c Case, name string, data []byte) {
		if data != nil {
			if _, dup := files[name]; dup {
				log.Fatalf("duplicate file %s", name)
			}
			files[name] = data
			c.File = name
		}
		for _, o := range cases {
			if o.Name == c.Name {
				log.Fatalf("duplicate case %s", c.Name)
			}
		}
		cases = append(cases, c)
	}
	loadFail := func(name, want, doc string, data []byte, ext string) {
		add(Case{Name: name, Cmd: "load", Args: []string{"load", "-i", "{file}"}, Expect: "fail", Want: want, Doc: doc}, name+ext, data)
	}
	cfgName := func(cfg []byte) string { return strings.TrimPrefix(digest(cfg), "sha256:") + ".json" }
	goodCfg := config("linux", digest(goodLayer))
	rnd := rand.New(rand.NewSource(8))
	garbage := make([]byte, 8192)
	rnd.Read(garbage)

	// ---- load: the archive itself --------------------------------------
	loadFail("load-garbage", "not a tar archive", "8 KiB of random bytes", garbage, ".bin")
	loadFail("load-empty", "archive is empty", "a 0-byte file", []byte{}, ".tar")
	loadFail("load-empty-tar", "no tar entries", "a tar of only the two end-of-archive blocks", make([]byte, 1024), ".tar")
	big := archive([]string{"big:1"}, mkTar(blob("big", bytes.Repeat([]byte("0123456789abcdef"), 4096))))
	loadFail("load-truncated-tar", "truncated tar archive", "a valid archive cut in the middle of its layer.tar", big[:len(big)/2], ".tar")
	loadFail("load-truncated-gzip", "gzip", "a gzip-compressed archive cut in half", gz(goodArchive)[:len(gz(goodArchive))/2], ".tar.gz")
	zg := zst(big)
	loadFail("load-truncated-zstd", "zstd", "a zstd-compressed archive cut in half", zg[:len(zg)/2], ".tar.zst")
	{
		var buf bytes.Buffer
		tw := tar.NewWriter(&buf)
		tw.WriteHeader(&tar.Header{Name: "manifest.json", Typeflag: tar.TypeReg, Mode: 0o644, Size: 1 << 40, ModTime: epoch})
		tw.Write([]byte("[]"))
		huge := buf.Bytes() // the writer is never closed: 1 TiB claimed, 512 bytes present
		loadFail("load-huge-size-header", "manifest.json", "a tar header claiming a 1 TiB manifest.json, followed by nothing", huge, ".tar")
	}
	loadFail("load-manifest-invalid-json", "manifest.json", "manifest.json is not JSON", manifestArchive("[{\"Config\": "), ".tar")
	loadFail("load-manifest-empty-list", "manifest.json", "manifest.json is []", manifestArchive("[]"), ".tar")
	loadFail("load-config-dotdot", "../../../../etc/hostname", "Config: ../../../../etc/hostname (leaves the archive)",
		manifestArchive(`[{"Config":"../../../../etc/hostname","RepoTags":["x:1"],"Layers":[]}]`), ".tar")
	loadFail("load-config-absolute", "/etc/passwd", "Config: /etc/passwd", manifestArchive(`[{"Config":"/etc/passwd","RepoTags":["x:1"],"Layers":[]}]`), ".tar")
	loadFail("load-layer-dotdot", "../l0/layer.tar", "Layers: [\"x/../../l0/layer.tar\"]",
		manifestArchive(fmt.Sprintf(`[{"Config":%q,"RepoTags":["x:1"],"Layers":["x/../../l0/layer.tar"]}]`, cfgName(goodCfg)), blob(cfgName(goodCfg), goodCfg), blob("l0/layer.tar", goodLayer)), ".tar")
	loadFail("load-manifest-symlink-out", "manifest.json", "manifest.json is a symlink to /etc/passwd",
		mkTar(symlink("manifest.json", "/etc/passwd")), ".tar")
	loadFail("load-manifest-symlink-loop", "manifest.json", "manifest.json -> a -> manifest.json",
		mkTar(symlink("manifest.json", "a"), symlink("a", "manifest.json")), ".tar")
	loadFail("load-config-symlink-out", "leaves the archive", "Config names cfg.json, a symlink to ../../../etc/passwd",
		manifestArchive(`[{"Config":"cfg.json","RepoTags":["x:1"],"Layers":[]}]`, symlink("cfg.json", "../../../etc/passwd")), ".tar")
	loadFail("load-config-symlink-loop", "too many levels", "Config names c1 -> c2 -> c1",
		manifestArchive(`[{"Config":"c1","RepoTags":["x:1"],"Layers":[]}]`, symlink("c1", "c2"), symlink("c2", "c1")), ".tar")
	loadFail("load-layer-symlink-abs", "leaves the archive", "the layer file is a symlink to /etc/passwd",
		manifestArchive(fmt.Sprintf(`[{"Config":%q,"RepoTags":["x:1"],"Layers":["l0/layer.tar"]}]`, cfgName(goodCfg)), blob(cfgName(goodCfg), goodCfg), dir("l0/"), symlink("l0/layer.tar", "/etc/passwd")), ".tar")
	loadFail("load-layer-symlink-parent", "leaves the archive", "the layer's directory is a symlink to /etc (lnk -> /etc, Layers: lnk/passwd)",
		manifestArchive(fmt.Sprintf(`[{"Config":%q,"RepoTags":["x:1"],"Layers":["lnk/passwd"]}]`, cfgName(goodCfg)), blob(cfgName(goodCfg), goodCfg), symlink("lnk", "/etc")), ".tar")
	loadFail("load-layer-symlink-loop", "too many levels", "the layer path is a symlink loop",
		manifestArchive(fmt.Sprintf(`[{"Config":%q,"RepoTags":["x:1"],"Layers":["a/layer.tar"]}]`, cfgName(goodCfg)), blob(cfgName(goodCfg), goodCfg), symlink("a", "b"), symlink("b", "a")), ".tar")
	loadFail("load-layer-missing", "not found", "Layers names a file that is not in the archive",
		manifestArchive(fmt.Sprintf(`[{"Config":%q,"RepoTags":["x:1"],"Layers":["nope/layer.tar"]}]`, cfgName(goodCfg)), blob(cfgName(goodCfg), goodCfg)), ".tar")
	loadFail("load-config-missing", "not found", "Config names a file that is not in the archive",
		manifestArchive(`[{"Config":"nope.json","RepoTags":["x:1"],"Layers":[]}]`), ".tar")
	loadFail("load-manifest-path-nonutf8", "not found", "Layers names a path with invalid UTF-8 (JSON turns it into U+FFFD)",
		manifestArchive(fmt.Sprintf("[{\"Config\":%q,\"RepoTags\":[\"x:1\"],\"Layers\":[\"l\xff/layer.tar\"]}]", cfgName(goodCfg)), blob(cfgName(goodCfg), goodCfg), blob("l\xff/layer.tar", goodLayer)), ".tar")
	{
		other := mkTar(file("other", "not what the config says\n"))
		loadFail("load-diffid-mismatch", "invalid diffID for layer 0", "the layer's content does not hash to the config's diff_id",
			archiveWith(config("linux", digest(mkTar(file("x", "x")))), []string{"x:1"}, [][]byte{other}), ".tar")
	}
	loadFail("load-layer-count-mismatch", "layers length mismatch", "the config lists 2 diff_ids, the manifest 1 layer",
		archiveWith(config("linux", digest(goodLayer), digest(goodLayer)), []string{"x:1"}, [][]byte{goodLayer}), ".tar")
	{
		cfg := []byte(`{"architecture":"amd64","os":"linux","config":{}}`)
		loadFail("load-config-no-rootfs", "no RootFS key", "the config has no rootfs", archiveWith(cfg, []string{"x:1"}, nil), ".tar")
		cfg = []byte(`{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[`)
		loadFail("load-config-invalid-json", "invalid JSON", "the config is cut short", archiveWith(cfg, []string{"x:1"}, nil), ".tar")
		cfg = []byte(`{"os":"linux","rootfs":{"type":"layers","diff_ids":["sha256:xyz"]}}`)
		loadFail("load-config-bad-diffid", "invalid image config", "a diff_id that is not a digest", archiveWith(cfg, []string{"x:1"}, [][]byte{goodLayer}), ".tar")
	}
	loadFail("load-tag-uppercase", "Bad:Tag", "RepoTags [\"Bad:Tag\"]", archive([]string{"Bad:Tag"}, goodLayer), ".tar")
	loadFail("load-tag-invalid", "bad tag!!", "RepoTags [\"bad tag!!\"]", archive([]string{"bad tag!!"}, goodLayer), ".tar")
	loadFail("load-tag-no-tag", "notag", "RepoTags [\"notag\"] (no tag part)", archive([]string{"notag"}, goodLayer), ".tar")
	loadFail("load-tag-dotdot-path", "x/..:1", "RepoTags [\"x/..:1\"] (a path component Docker's grammar rejects)", archive([]string{"x/..:1"}, goodLayer), ".tar")
	loadFail("load-tag-double-slash", "a//b:1", "RepoTags [\"a//b:1\"]", archive([]string{"a//b:1"}, goodLayer), ".tar")
	loadFail("load-windows", "windows", "a windows/amd64 image",
		archiveWith(config("windows", digest(goodLayer)), []string{"win:1"}, [][]byte{goodLayer}), ".tar")
	{
		var diffs []string
		var paths []string
		for i := 0; i < 126; i++ {
			diffs = append(diffs, digest(goodLayer))
			paths = append(paths, "l0/layer.tar")
		}
		cfg := config("linux", diffs...)
		m, _ := json.Marshal([]item{{Config: cfgName(cfg), RepoTags: []string{"deep:1"}, Layers: paths}})
		loadFail("load-126-layers", "max depth exceeded", "126 layers (Docker's limit is 125)",
			mkTar(blob(cfgName(cfg), cfg), dir("l0/"), blob("l0/layer.tar", goodLayer), blob("manifest.json", m)), ".tar")
	}

	limitCases(add)

	// ---- load: hostile layer content -----------------------------------
	layerCase := func(name, expect, want, doc string, layer []byte, canaries ...string) {
		add(Case{Name: name, Cmd: "load", Args: []string{"load", "-i", "{file}"}, Expect: expect, Want: want, Doc: doc, Canaries: canaries},
			name+".tar", archive([]string{name + ":1"}, layer))
	}
	layerCase("layer-garbage", "fail", "reading layer tar", "the layer is random bytes", garbage)
	layerCase("layer-truncated", "fail", "unexpected EOF", "the layer tar is cut inside a file's data", mkTar(blob("f", bytes.Repeat([]byte("x"), 10000)))[:3000])
	{
		var buf bytes.Buffer
		tw := tar.NewWriter(&buf)
		tw.WriteHeader(&tar.Header{Name: "huge", Typeflag: tar.TypeReg, Mode: 0o644, Size: 1 << 40, ModTime: epoch})
		tw.Write(bytes.Repeat([]byte("y"), 4096))
		layerCase("layer-huge-size-header", "fail", "unexpected EOF", "a layer entry whose header claims 1 TiB, with 4 KiB present", buf.Bytes())
	}
	layerCase("layer-dotdot-name", "ok", "", "entry ../../../../../../tmp/imgtool-canary-dotdot: clamped into the layer (Docker's chroot does the same)",
		mkTar(file("../../../../../../tmp/imgtool-canary-dotdot", "x\n")), "/tmp/imgtool-canary-dotdot")
	layerCase("layer-absolute-name", "ok", "", "entry /tmp/imgtool-canary-abs: clamped into the layer",
		mkTar(file("/tmp/imgtool-canary-abs", "x\n")), "/tmp/imgtool-canary-abs")
	layerCase("layer-symlink-parent-etc", "fail", "a/passwd", "a -> /etc, then a regular file a/passwd: must not write /etc/passwd",
		mkTar(symlink("a", "/etc"), file("a/passwd", "owned\n")))
	layerCase("layer-symlink-parent-relative", "fail", "up/imgtool-canary-rel", "up -> ../../../../../../tmp, then up/imgtool-canary-rel",
		mkTar(symlink("up", "../../../../../../tmp"), file("up/imgtool-canary-rel", "x\n")), "/tmp/imgtool-canary-rel")
	layerCase("layer-symlink-parent-nested", "fail", "d/up/imgtool-canary-nested", "d/up -> ../../../../../../tmp inside a subdirectory, then d/up/imgtool-canary-nested",
		mkTar(dir("d/"), symlink("d/up", "../../../../../../tmp"), file("d/up/imgtool-canary-nested", "x\n")), "/tmp/imgtool-canary-nested")
	layerCase("layer-symlink-dir-then-mkdir", "fail", "t/imgtool-canary-mkdir", "t -> /tmp, then a directory t/imgtool-canary-mkdir/",
		mkTar(symlink("t", "/tmp"), dir("t/imgtool-canary-mkdir/")), "/tmp/imgtool-canary-mkdir")
	layerCase("layer-whiteout-through-symlink", "fail", "a/.wh.passwd", "a -> /etc, then the whiteout a/.wh.passwd: must not delete /etc/passwd",
		mkTar(symlink("a", "/etc"), file("a/.wh.passwd", "")))
	layerCase("layer-opaque-through-symlink", "fail", "t/.wh..wh..opq", "t -> /tmp, then the opaque marker t/.wh..wh..opq: must not touch /tmp",
		mkTar(symlink("t", "/tmp"), file("t/.wh..wh..opq", "")))
	layerCase("layer-hardlink-outside", "fail", "h", "hardlink h -> ../../../../../../etc/passwd (resolved inside the layer, where it does not exist)",
		mkTar(hardlink("h", "../../../../../../etc/passwd")))
	layerCase("layer-hardlink-absolute", "fail", "h", "hardlink h -> /etc/passwd",
		mkTar(hardlink("h", "/etc/passwd")))
	layerCase("layer-hardlink-forward", "fail", "early", "hardlink early -> later, where later is a file that comes after it",
		mkTar(hardlink("early", "later"), file("later", "x\n")))
	layerCase("layer-hardlink-via-symlink", "fail", "h", "s -> /etc, then hardlink h -> s/passwd",
		mkTar(symlink("s", "/etc"), hardlink("h", "s/passwd")))
	layerCase("layer-symlink-loop", "fail", "l1/x", "l1 -> l2, l2 -> l1, then l1/x",
		mkTar(symlink("l1", "l2"), symlink("l2", "l1"), file("l1/x", "x\n")))
	layerCase("layer-duplicate", "fail", "duplicates", "the same file twice, as a and ./a",
		mkTar(file("a", "1\n"), file("./a", "2\n")))
	layerCase("layer-duplicate-clamped", "fail", "duplicates", "a and ../a: different names, the same file once clamped",
		mkTar(file("a", "1\n"), file("../a", "2\n")))
	layerCase("layer-nonutf8-name", "ok", "", "an entry name with invalid UTF-8 (kept byte-exact through tar-split's name_raw)",
		mkTar(file("caf\xe9", "x\n")))
	add(Case{Name: "layer-device-unprivileged", Cmd: "load", Args: []string{"load", "-i", "{file}"}, Expect: "ok", Unprivileged: true,
		Doc: "a char device 1:3 loaded by uid 65534: no device is created (an empty file stands in; tar-split keeps the header)"},
		"layer-device-unprivileged.tar", archive([]string{"dev:1"}, mkTar(dir("dev/"), chardev("dev/null", 1, 3))))

	// ---- load: bombs on an 8 MiB tmpfs -----------------------------------
	zeros := make([]byte, 64<<20)
	bombLayer := gz(mkTar(blob("zeros", zeros)))
	{
		rawBomb := mkTar(blob("zeros", zeros))
		cfg := config("linux", digest(rawBomb))
		add(Case{Name: "layer-gzip-bomb", Cmd: "load", Args: []string{"load", "-i", "{file}"}, Expect: "fail", Want: "no space left on device", Tmpfs: true,
			Doc: "a gzip layer of ~64 KiB expanding to 64 MiB, loaded into an 8 MiB store"},
			"layer-gzip-bomb.tar", archiveWith(cfg, []string{"bomb:1"}, [][]byte{bombLayer}))
		zbomb := zst(mkTar(blob("zeros", make([]byte, 128<<20))))
		cfg = config("linux", digest(mkTar(blob("zeros", make([]byte, 128<<20)))))
		add(Case{Name: "layer-zstd-bomb", Cmd: "load", Args: []string{"load", "-i", "{file}"}, Expect: "fail", Want: "no space left on device", Tmpfs: true,
			Doc: "a zstd layer of a few KiB expanding to 128 MiB, loaded into an 8 MiB store"},
			"layer-zstd-bomb.tar", archiveWith(cfg, []string{"zbomb:1"}, [][]byte{zbomb}))
	}
	add(Case{Name: "archive-gzip-bomb", Cmd: "load", Args: []string{"load", "-i", "{file}"}, Expect: "fail", Want: "no space left on device", Tmpfs: true,
		Doc: "a gzip-compressed archive expanding to 64 MiB (spooled to TMPDIR, on the same 8 MiB tmpfs)"},
		"archive-gzip-bomb.tar.gz", gz(archive([]string{"abomb:1"}, mkTar(blob("zeros", zeros)))))

	// ---- import (runs once `imgtool import FILE REF` exists) -------------
	importCase := func(name, expect, want, doc string, data []byte, ext string, canaries ...string) {
		add(Case{Name: name, Cmd: "import", Args: []string{"import", "{file}", "imported:1"}, Expect: expect, Want: want, Doc: doc, Canaries: canaries}, name+ext, data)
	}
	importCase("import-garbage", "fail", "", "random bytes", garbage, ".bin")
	importCase("import-truncated-gzip", "fail", "", "a gzip rootfs tar cut in half", gz(big)[:len(gz(big))/2], ".tar.gz")
	importCase("import-symlink-parent-etc", "fail", "a/passwd", "a -> /etc, then a/passwd", mkTar(symlink("a", "/etc"), file("a/passwd", "owned\n")), ".tar")
	importCase("import-hardlink-outside", "fail", "h", "hardlink h -> ../../../etc/passwd", mkTar(hardlink("h", "../../../etc/passwd")), ".tar")
	importCase("import-symlink-loop", "fail", "l1/x", "l1 -> l2 -> l1, then l1/x", mkTar(symlink("l1", "l2"), symlink("l2", "l1"), file("l1/x", "x")), ".tar")
	importCase("import-duplicate", "fail", "duplicates", "a and ./a", mkTar(file("a", "1"), file("./a", "2")), ".tar")
	importCase("import-dotdot-name", "ok", "", "../../../../tmp/imgtool-canary-import: clamped into the layer",
		mkTar(file("../../../../tmp/imgtool-canary-import", "x")), ".tar", "/tmp/imgtool-canary-import")
	add(Case{Name: "import-gzip-bomb", Cmd: "import", Args: []string{"import", "{file}", "imported:1"}, Expect: "fail", Want: "no space left on device", Tmpfs: true,
		Doc: "a 64 MiB rootfs of zeros, gzipped, imported into an 8 MiB store"}, "import-gzip-bomb.tar.gz", bombLayer)

	// ---- convert: docker-archive:IN to oci-archive:OUT --------------------
	convertCase := func(name, want, doc, src string) {
		add(Case{Name: name, Cmd: "convert", File: src, Args: []string{"convert", "docker-archive:{file}", "oci-archive:{out}"}, Expect: "fail", Want: want, Doc: doc}, "", nil)
	}
	convertCase("convert-garbage", "not a tar archive", "random bytes", "load-garbage.bin")
	convertCase("convert-truncated", "truncated", "a truncated archive", "load-truncated-tar.tar")
	convertCase("convert-config-dotdot", "../../../../etc/hostname", "Config with ..", "load-config-dotdot.tar")
	convertCase("convert-layer-symlink-loop", "too many levels", "a layer path that loops", "load-layer-symlink-loop.tar")
	convertCase("convert-diffid-mismatch", "layer", "a layer that does not match its diff_id", "load-diffid-mismatch.tar")

	// ---- flatten: hostile archives and a damaged store -------------------
	flattenCase := func(name, want, doc, src string) {
		add(Case{Name: name, Cmd: "flatten", File: src, Args: []string{"flatten", "docker-archive:{file}", "{out}"}, Expect: "fail", Want: want, Doc: doc}, "", nil)
	}
	flattenCase("flatten-garbage", "not a tar archive", "random bytes", "load-garbage.bin")
	flattenCase("flatten-truncated", "truncated", "a truncated archive", "load-truncated-tar.tar")
	flattenCase("flatten-config-dotdot", "../../../../etc/hostname", "Config with ..", "load-config-dotdot.tar")
	flattenCase("flatten-layer-symlink-loop", "too many levels", "a layer path that loops", "load-layer-symlink-loop.tar")
	flattenCase("flatten-diffid-mismatch", "diff", "a layer that does not match its diff_id (must be verified as load does)", "load-diffid-mismatch.tar")
	flattenCase("flatten-layer-garbage", "layer", "a layer that is random bytes", "layer-garbage.tar")
	flattenCase("flatten-layer-truncated", "unexpected EOF", "a layer cut inside a file", "layer-truncated.tar")
	flattenCase("flatten-layer-duplicate", "", "a layer with a and ./a: flatten keeps the later one, as an extraction would (load refuses it)", "layer-duplicate.tar")
	cases[len(cases)-1].Expect = "ok"
	add(Case{Name: "flatten-store-missing-layer", Cmd: "flatten", Args: []string{"flatten", "{image}", "{out}"}, Expect: "fail", Want: "does not exist", Setup: "remove-layerdb",
		Doc: "flattening a store image whose layerdb entry was removed"}, "", nil)

	// ---- export (flatten) of a damaged store ----------------------------
	exportCase := func(name, setup, want, doc string) {
		add(Case{Name: name, Cmd: "export", Args: []string{"export", "-o", "{out}", "{image}"}, Expect: "fail", Want: want, Setup: setup, Doc: doc}, "", nil)
	}
	exportCase("export-missing-image", "", "nosuch", "exporting an image that does not exist")
	cases[len(cases)-1].Args = []string{"export", "-o", "{out}", "nosuch:1"}
	exportCase("export-missing-layer", "remove-layerdb", "does not exist", "the image's layerdb entry was removed")
	exportCase("export-bad-cache-id", "cache-id-escape", "cache-id", "the layer's cache-id says ../../../../etc")
	exportCase("export-tampered-config", "tamper-config", "failed to verify", "the image's config no longer hashes to its ID")
	exportCase("export-missing-diff-dir", "remove-diff", "", "the layer's overlay2 diff/ dir was removed")
	exportCase("export-output-dir-missing", "", "no such file or directory", "-o names a file in a directory that does not exist")
	cases[len(cases)-1].Args = []string{"export", "-o", "{out}/missing/rootfs.tar", "{image}"}

	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		if err := os.WriteFile(filepath.Join(*out, n), files[n], 0o644); err != nil {
			log.Fatal(err)
		}
	}
	b, err := json.MarshalIndent(cases, "", "  ")
	if err != nil {
		log.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(*out, "cases.json"), append(b, '\n'), 0o644); err != nil {
		log.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(*out, "README.md"), readme(cases), 0o644); err != nil {
		log.Fatal(err)
	}
}

func readme(cases []Case) []byte {
	var b strings.Builder
	b.WriteString(`# testdata/bad: hostile inputs

Generated by ` + "`go run ./testdata/bad/gen`" + ` (from the module root); do not edit by hand.
` + "`reliability.TestCorpusUpToDate`" + ` fails when the committed files differ from the
generator's output. ` + "`reliability.TestHostileCorpus`" + ` runs every case with the imgtool CLI on a
copy of a store that holds good:1 (good.tar), in a sandbox working directory with its own
TMPDIR, and checks:

* **fail**: non-zero exit, a one-line error containing the fragment, the store listing
  (paths, modes, owners, sizes, sha256 of every file) byte-identical to before, the
  sandbox and TMPDIR empty, no canary path created, /etc/passwd unchanged;
* **ok**: exit 0 (Docker accepts these too: names are clamped into the layer as its
  chrooted unpacker does), then ` + "`imgtool check --deep`" + ` passes, and no canary path or
  sandbox/TMPDIR file appears.

import and convert cases are skipped (with a message) while those commands do not exist.
tmpfs cases (an 8 MiB store) and unprivileged cases (uid 65534) need root.

| case | command | input | expect | error fragment | what |
|---|---|---|---|---|---|
`)
	for _, c := range cases {
		in := c.File
		if c.Setup != "" {
			in = "store damage: " + c.Setup
		}
		extra := ""
		if c.Tmpfs {
			extra = " (8 MiB tmpfs)"
		}
		if c.Unprivileged {
			extra = " (as uid 65534)"
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %s%s |\n", c.Name, c.Cmd, mdCode(in), c.Expect, mdCode(c.Want), mdText(c.Doc), extra)
	}
	return []byte(b.String())
}

func mdText(s string) string {
	return strings.ReplaceAll(strings.ToValidUTF8(s, "\\xff"), "|", "\\|")
}

func mdCode(s string) string {
	if s == "" {
		return ""
	}
	return "`" + strings.ReplaceAll(mdText(s), "`", "'") + "`"
}
