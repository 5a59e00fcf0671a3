package flatten

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"strings"
	"testing"
	"time"
)

// ent describes one entry of a test layer tar.
type ent struct {
	name   string
	typ    byte
	mode   int64
	uid    int
	gid    int
	data   string
	link   string
	major  int64
	minor  int64
	xattrs map[string]string
	mtime  int64
}

func f(name, data string) ent { return ent{name: name, typ: tar.TypeReg, mode: 0644, data: data} }
func d(name string) ent       { return ent{name: name, typ: tar.TypeDir, mode: 0755} }
func sl(name, target string) ent {
	return ent{name: name, typ: tar.TypeSymlink, mode: 0777, link: target}
}
func hl(name, target string) ent   { return ent{name: name, typ: tar.TypeLink, mode: 0644, link: target} }
func wh(name string) ent           { return ent{name: name, typ: tar.TypeReg, mode: 0600} }
func (e ent) m(mode int64) ent     { e.mode = mode; return e }
func (e ent) own(uid, gid int) ent { e.uid, e.gid = uid, gid; return e }
func (e ent) at(sec int64) ent     { e.mtime = sec; return e }
func (e ent) x(k, v string) ent    { e.xattrs = map[string]string{k: v}; return e }

func mkTar(t testing.TB, ents ...ent) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range ents {
		h := &tar.Header{Name: e.name, Typeflag: e.typ, Mode: e.mode, Uid: e.uid, Gid: e.gid,
			Linkname: e.link, Devmajor: e.major, Devminor: e.minor,
			ModTime: time.Unix(1600000000+e.mtime, 123456789), Format: tar.FormatPAX}
		if e.typ == tar.TypeReg {
			h.Size = int64(len(e.data))
		}
		for k, v := range e.xattrs {
			if h.PAXRecords == nil {
				h.PAXRecords = map[string]string{}
			}
			h.PAXRecords["SCHILY.xattr."+k] = v
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatalf("%s: %v", e.name, err)
		}
		if _, err := io.WriteString(tw, e.data); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// bytesLayer returns a TarLayer over b that counts how often it is opened.
func bytesLayer(b []byte, opens *int) Layer {
	return TarLayer(func() (io.ReadCloser, error) {
		if opens != nil {
			*opens++
		}
		// io.NopCloser hides Seek, so this is a pure stream.
		return io.NopCloser(bytes.NewReader(b)), nil
	})
}

func layers(t testing.TB, ls ...[]ent) []Layer {
	var out []Layer
	for _, l := range ls {
		out = append(out, bytesLayer(mkTar(t, l...), nil))
	}
	return out
}

func flat(t testing.TB, ls []Layer, opts Options) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := Flatten(&buf, ls, opts); err != nil {
		t.Fatalf("Flatten: %v", err)
	}
	return buf.Bytes()
}

func sum(s string) string { h := sha256.Sum256([]byte(s)); return hex.EncodeToString(h[:]) }

// Expected-node helpers.
func nd(p string) Node { return Node{Path: p, Type: tar.TypeDir, Mode: 0755} }
func nf(p, data string) Node {
	return Node{Path: p, Type: tar.TypeReg, Mode: 0644, Size: int64(len(data)), SHA256: sum(data)}
}
func ns(p, target string) Node {
	return Node{Path: p, Type: tar.TypeSymlink, Mode: 0777, Linkname: target}
}
func nl(p, target string) Node {
	return Node{Path: p, Type: tar.TypeLink, Mode: 0644, Linkname: target}
}

func checkTree(t *testing.T, out []byte, want ...Node) {
	t.Helper()
	got, err := Describe(bytes.NewReader(out))
	if err != nil {
		t.Fatal(err)
	}
	if diff := DiffTrees(want, got); diff != nil {
		t.Errorf("tree mismatch (- want, + got):\n%s", strings.Join(diff, "\n"))
	}
}

func TestWhiteouts(t *testing.T) {
	out := flat(t, layers(t,
		[]ent{d("a/"), f("a/keep", "k"), f("a/gone", "g"), d("a/sub/"), f("a/sub/x", "x"), f("top", "t")},
		[]ent{d("a/"), wh("a/.wh.gone"), wh("a/.wh.sub"), wh("a/.wh.never"), wh(".wh.nodir/.wh.x"),
			wh("nodir/.wh.y"), wh("a/.wh..wh.plnk"), wh(".wh.top")},
		[]ent{f("a/gone2", "new")},
	), Options{})
	// A whiteout's missing parents are created, as Docker's unpacker does.
	checkTree(t, out, nd(".wh.nodir"), nd("a"), nf("a/gone2", "new"), nf("a/keep", "k"), nd("nodir"))
}

func TestOpaque(t *testing.T) {
	out := flat(t, layers(t,
		[]ent{d("o/"), f("o/old", "1"), d("o/d/"), f("o/d/old", "2"), d("o/e/"), f("o/e/old", "3"), f("p", "p")},
		// New content before and after the marker; o/d re-stated before the
		// marker keeps only this layer's entries.
		[]ent{d("o/").m(0700), f("o/before", "b"), d("o/d/"), f("o/d/new", "n"),
			wh("o/.wh..wh..opq"), f("o/after", "a")},
	), Options{})
	n := nd("o")
	n.Mode = 0700
	checkTree(t, out, n, nf("o/after", "a"), nf("o/before", "b"), nd("o/d"), nf("o/d/new", "n"), nf("p", "p"))
}

func TestReplaceTypes(t *testing.T) {
	out := flat(t, layers(t,
		[]ent{d("fd/"), f("fd/x", "x"), f("df", "file"), sl("sd", "/target"), d("dd/").m(0700).own(1, 1), f("dd/k", "k")},
		[]ent{f("fd", "now a file"), d("df/"), f("df/y", "y"), d("sd/"), d("dd/").m(0750).own(2, 3).at(5)},
		[]ent{f("dd/k2", "k2")},
	), Options{})
	dd := nd("dd")
	dd.Mode, dd.Uid, dd.Gid = 0750, 2, 3
	checkTree(t, out, dd, nf("dd/k", "k"), nf("dd/k2", "k2"), nd("df"), nf("df/y", "y"), nf("fd", "now a file"), nd("sd"))
}

func TestDirMetadataTopmost(t *testing.T) {
	out := flat(t, layers(t,
		[]ent{d("etc/").m(0755).at(1).x("security.capability", "old"), f("etc/a", "a")},
		[]ent{d("etc/").m(01777).own(7, 8).at(99)},
		[]ent{f("etc/b", "b")}, // implicit parent: existing dir keeps metadata
	), Options{})
	etc := nd("etc")
	etc.Mode, etc.Uid, etc.Gid = 01777, 7, 8
	checkTree(t, out, etc, nf("etc/a", "a"), nf("etc/b", "b"))
	tr := tar.NewReader(bytes.NewReader(out))
	h, _ := tr.Next()
	if h.ModTime.Unix() != 1600000099 || len(h.PAXRecords) != 0 {
		t.Errorf("etc/: mtime %v pax %v", h.ModTime.Unix(), h.PAXRecords)
	}
}

func TestImplicitParents(t *testing.T) {
	out := flat(t, layers(t, []ent{f("x/y/z", "z"), f("./b", "b"), f("/c", "c"), f("../../d", "d"),
		{name: "./", typ: tar.TypeDir, mode: 0700}, {name: ".", typ: tar.TypeDir, mode: 0700}}), Options{})
	checkTree(t, out, nf("b", "b"), nf("c", "c"), nf("d", "d"), nd("x"), nd("x/y"), nf("x/y/z", "z"))
	tr := tar.NewReader(bytes.NewReader(out))
	var names []string
	for {
		h, err := tr.Next()
		if err != nil {
			break
		}
		names = append(names, h.Name)
		if h.Typeflag == tar.TypeDir && (h.Uid != 0 || h.Mode != 0755 || h.ModTime.Unix() != 0) {
			t.Errorf("implicit %s: %+v", h.Name, h)
		}
	}
	if got := strings.Join(names, " "); got != "b c d x/ x/y/ x/y/z" {
		t.Errorf("order: %s", got)
	}
}

func TestDuplicatesLastWins(t *testing.T) {
	out := flat(t, layers(t, []ent{f("a", "1"), f("a", "2"), d("b/"), f("b/x", "x"), d("b/").m(0700),
		f("c", "c"), d("c/"), f("c/in", "in")}), Options{})
	b := nd("b")
	b.Mode = 0700
	checkTree(t, out, nf("a", "2"), b, nf("b/x", "x"), nd("c"), nf("c/in", "in"))
}

func TestHardlinks(t *testing.T) {
	out := flat(t, layers(t,
		[]ent{f("del", "D"), hl("del-link", "del"),
			f("ow", "O1"), hl("ow-link", "ow"),
			f("rl", "R1"), hl("rl-link", "rl"), f("other", "X"),
			f("chain", "C")},
		[]ent{wh(".wh.del"), f("ow", "O2"), hl("rl", "other"), hl("chain2", "chain")},
		[]ent{hl("chain3", "chain2"), wh(".wh.chain"), wh(".wh.chain2")},
	), Options{})
	checkTree(t, out,
		nf("chain3", "C"),
		nf("del-link", "D"),
		nf("other", "X"),
		nf("ow", "O2"), nf("ow-link", "O1"),
		nl("rl", "other"), nf("rl-link", "R1"))
}

func TestHardlinkPrimaryIsFirstInOutputOrder(t *testing.T) {
	out := flat(t, layers(t, []ent{f("z", "Z"), hl("a", "z"), hl("m/b", "z")}), Options{})
	checkTree(t, out, nf("a", "Z"), nd("m"), nl("m/b", "a"), nl("z", "a"))
}

func TestHardlinkMetadata(t *testing.T) {
	// Like Docker's createTarFile, a link header updates the shared inode.
	out := flat(t, layers(t, []ent{f("a", "A").m(0600).own(1, 1)}, []ent{hl("b", "a").m(0640).own(5, 6)}), Options{})
	a, b := nf("a", "A"), nl("b", "a")
	a.Mode, a.Uid, a.Gid = 0640, 5, 6
	b.Mode, b.Uid, b.Gid = 0640, 5, 6
	checkTree(t, out, a, b)
}

func TestErrors(t *testing.T) {
	for name, ls := range map[string][][]ent{
		"missing link target": {{hl("x", "nope")}},
		"link to dir":         {{d("dir/"), hl("x", "dir")}},
		"deleted target":      {{f("t", "t")}, {wh(".wh.t"), hl("x", "t")}},
		"symlink parent":      {{sl("lib", "usr/lib"), d("usr/lib/")}, {f("lib/x", "x")}},
		"file parent":         {{f("p", "p"), f("p/x", "x")}},
		"link via symlink":    {{d("usr/"), f("usr/f", "f"), sl("u", "usr")}, {hl("x", "u/f")}},
	} {
		var buf bytes.Buffer
		err := Flatten(&buf, layers(t, ls...), Options{})
		if err == nil {
			t.Errorf("%s: no error", name)
			continue
		}
		t.Logf("%s: %v", name, err)
	}
	var buf bytes.Buffer
	err := Flatten(&buf, layers(t, []ent{hl("bad/link", "nope")}), Options{})
	if err == nil || !strings.Contains(err.Error(), `"bad/link"`) {
		t.Errorf("error does not name the entry: %v", err)
	}
}

func TestSymlinksVerbatim(t *testing.T) {
	out := flat(t, layers(t,
		[]ent{d("usr/"), d("usr/lib/"), sl("lib", "usr/lib"), sl("abs", "/usr/lib/../lib"), sl("dots", "../../../etc/passwd"),
			sl("dangling", "/nowhere")},
		[]ent{wh("usr/.wh.lib")}, // target deleted: link stays
	), Options{})
	checkTree(t, out, ns("abs", "/usr/lib/../lib"), ns("dangling", "/nowhere"), ns("dots", "../../../etc/passwd"),
		ns("lib", "usr/lib"), nd("usr"))
}

func TestNamesAndXattrs(t *testing.T) {
	long := strings.Repeat("d", 120) + "/" + strings.Repeat("n", 150)
	nonUTF8 := "bad\xff\xfename"
	capV3 := string([]byte{0, 0, 0, 3, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xe8, 3, 0, 0})
	out := flat(t, layers(t, []ent{
		f(long, "long"), f("üñí.txt", "u"), f(nonUTF8, "b"),
		f("cap", "c").m(0755).x("security.capability", "\x01\x00\x00\x02 v2-data-0123456789"),
		f("cap3", "c3").x("security.capability", capV3),
		f("user", "u").x("user.foo", "bar"),
		d("xd/").x("trusted.overlay.opaque", "y").x("user.a", "b"),
		{name: "chr", typ: tar.TypeChar, mode: 0666, major: 1, minor: 3},
		{name: "blk", typ: tar.TypeBlock, mode: 0660, major: 8, minor: 1},
		{name: "fifo", typ: tar.TypeFifo, mode: 0644},
		f("suid", "s").m(04755).own(1000, 1000), f("sgid", "s").m(02755), d("tmp/").m(01777),
	}), Options{})
	capN := nf("cap", "c")
	capN.Mode = 0755
	capN.Xattrs = map[string]string{"security.capability": "\x01\x00\x00\x02 v2-data-0123456789"}
	cap3 := nf("cap3", "c3")
	cap3.Xattrs = map[string]string{"security.capability": string([]byte{0, 0, 0, 2, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0})}
	suid, sgid, tmp := nf("suid", "s"), nf("sgid", "s"), nd("tmp")
	suid.Mode, suid.Uid, suid.Gid = 04755, 1000, 1000
	sgid.Mode = 02755
	tmp.Mode = 01777
	checkTree(t, out,
		nf(nonUTF8, "b"),
		Node{Path: "blk", Type: tar.TypeBlock, Mode: 0660, Devmajor: 8, Devminor: 1},
		capN, cap3,
		Node{Path: "chr", Type: tar.TypeChar, Mode: 0666, Devmajor: 1, Devminor: 3},
		nd(strings.Repeat("d", 120)), nf(long, "long"),
		Node{Path: "fifo", Type: tar.TypeFifo, Mode: 0644},
		sgid, suid, tmp, nf("user", "u"), nd("xd"), nf("üñí.txt", "u"))
	// Header conventions.
	tr := tar.NewReader(bytes.NewReader(out))
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		needPAX := len(h.Name) > 100 || h.Name == "üñí.txt" || h.Name == nonUTF8 || strings.HasPrefix(h.Name, "cap")
		if (h.Format == tar.FormatPAX) != needPAX {
			t.Errorf("%q: format %v", h.Name, h.Format)
		}
		if h.ModTime.Nanosecond() != 0 || !h.AccessTime.IsZero() || !h.ChangeTime.IsZero() {
			t.Errorf("%q: times %v %v %v", h.Name, h.ModTime, h.AccessTime, h.ChangeTime)
		}
		if h.Uname != "" || h.Gname != "" {
			t.Errorf("%q: names %q %q", h.Name, h.Uname, h.Gname)
		}
	}
}

func TestOutputOrder(t *testing.T) {
	out := flat(t, layers(t, []ent{f("a.txt", ""), f("a-b", ""), f("a/x", ""), f(".dockerenv", ""), f("B", ""), f("a/.h", "")}), Options{})
	tr := tar.NewReader(bytes.NewReader(out))
	var names []string
	for {
		h, err := tr.Next()
		if err != nil {
			break
		}
		names = append(names, h.Name)
	}
	if got := strings.Join(names, " "); got != ".dockerenv B a/ a/.h a/x a-b a.txt" {
		t.Errorf("order: %s", got)
	}
}

func TestNamesKeep(t *testing.T) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	tw.WriteHeader(&tar.Header{Name: "f", Typeflag: tar.TypeReg, Mode: 0644, Uname: "root", Gname: "wheel"})
	tw.Close()
	for _, c := range []struct {
		p    NamePolicy
		want string
	}{{NamesNone, ""}, {NamesKeep, "root"}} {
		out := flat(t, []Layer{bytesLayer(buf.Bytes(), nil)}, Options{Names: c.p})
		h, _ := tar.NewReader(bytes.NewReader(out)).Next()
		if h.Uname != c.want {
			t.Errorf("policy %d: uname %q", c.p, h.Uname)
		}
	}
}

// Layers whose entries are not in output order: content is spilled and still
// correct; each layer is opened exactly twice.
func TestOutOfOrderSpill(t *testing.T) {
	var opens [2]int
	l0 := mkTar(t, f("z", "Z0"), f("m/y", "Y"), f("a", "A0"), f("q", "Q"))
	l1 := mkTar(t, f("y", "Y1"), f("b", "B1"), wh(".wh.q"), f("a", "A1"))
	tmp := t.TempDir()
	out := flat(t, []Layer{bytesLayer(l0, &opens[0]), bytesLayer(l1, &opens[1])}, Options{TempDir: tmp})
	checkTree(t, out, nf("a", "A1"), nf("b", "B1"), nd("m"), nf("m/y", "Y"), nf("y", "Y1"), nf("z", "Z0"))
	if opens != [2]int{2, 2} {
		t.Errorf("opens = %v", opens)
	}
	if ents, _ := readDirNames(tmp); len(ents) != 0 {
		t.Errorf("spill dir left behind: %v", ents)
	}
}

func TestLayerChangedBetweenPasses(t *testing.T) {
	l0 := mkTar(t, f("a", "one"))
	l1 := mkTar(t, f("a", "two!"))
	n := 0
	ly := TarLayer(func() (io.ReadCloser, error) {
		n++
		if n == 1 {
			return io.NopCloser(bytes.NewReader(l0)), nil
		}
		return io.NopCloser(bytes.NewReader(l1)), nil
	})
	if err := Flatten(io.Discard, []Layer{ly}, Options{}); err == nil {
		t.Fatal("no error")
	}
}

func TestDeterministic(t *testing.T) {
	mk := func() []Layer {
		return layers(t,
			[]ent{d("a/"), f("a/1", "1"), f("a/2", "2"), hl("a/3", "a/1"), sl("s", "a"), f("z", "z"), d("e/"), f("e/x", "x")},
			[]ent{f("b/c", "c"), wh("a/.wh.1"), wh("e/.wh..wh..opq"), f("e/y", "y")},
		)
	}
	o1, o2 := flat(t, mk(), Options{}), flat(t, mk(), Options{})
	if !bytes.Equal(o1, o2) {
		t.Fatal("outputs differ")
	}
	checkTree(t, o1, nd("a"), nf("a/2", "2"), nf("a/3", "1"), nd("b"), nf("b/c", "c"), nd("e"), nf("e/y", "y"),
		ns("s", "a"), nf("z", "z"))
}

func TestEmpty(t *testing.T) {
	out := flat(t, nil, Options{})
	if len(out) != 1024 || !bytes.Equal(out, make([]byte, 1024)) {
		t.Errorf("empty output is %d bytes", len(out))
	}
}
