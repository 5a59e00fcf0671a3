package tarball

import (
	"archive/tar"
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/vbatts/tar-split/tar/storage"
	"golang.org/x/sys/unix"
)

// capV2 is a VFS_CAP_REVISION_2 security.capability value (effective,
// cap_net_bind_service permitted), the form Docker writes into tars.
var capV2 = string([]byte{1, 0, 0, 2, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0})

var longName = "long/" + strings.Repeat("x", 120) + ".txt"

// richLayer covers every entry kind Apply handles. Its expected Size (see
// richSize) is hand-computed from the contents below.
func richLayer(t testing.TB) []byte {
	owned := file("d/a.txt", "hello\n", 0o644)
	owned.hdr.Uid, owned.hdr.Gid = 1000, 1001
	suid := file("bin/su", "#!suid\n", 0o4755)
	suid.hdr.Uid = 1000
	ping := file("bin/ping", "ping\n", 0o755)
	ping.hdr.PAXRecords = map[string]string{
		"SCHILY.xattr.security.capability": capV2,
		"SCHILY.xattr.user.foo":            "bar",
	}
	raw := file("bin/\xff\xfe.bin", "raw\n", 0o644)
	raw.hdr.Format = tar.FormatGNU // PAX needs UTF-8 names; GNU takes bytes
	gone := file("w/.wh.gone", "", 0o600)
	gone.hdr.Uid, gone.hdr.Gid = 7, 8
	// Hard link headers carry the file's owner (tar writers stat the inode);
	// chown through the link hits the shared inode, as in Docker.
	hard := hardlink("d/hard", "d/a.txt")
	hard.hdr.Uid, hard.hdr.Gid = 1000, 1001
	sticky := dir("tmp/", 0o1777)
	return buildTar(t,
		dir("./", 0o755),
		dir("d/", 0o755),
		owned,
		hard,
		symlink("d/abs", "/etc/passwd"),
		symlink("d/rel", "../d/a.txt"),
		ent{hdr: tar.Header{Typeflag: tar.TypeFifo, Name: "d/fifo", Mode: 0o644, ModTime: testTime}},
		ent{hdr: tar.Header{Typeflag: tar.TypeChar, Name: "dev/null", Mode: 0o666, Devmajor: 1, Devminor: 3, ModTime: testTime}},
		file(longName, "long\n", 0o644),
		file("data/üñí.txt", "unicode\n", 0o644),
		raw, suid, ping, sticky,
		dir("w/", 0o755), gone,
		dir("o/", 0o750), file("o/.wh..wh..opq", "", 0o750), file("o/kept", "", 0o644),
		file("../../evil", "evil\n", 0o644),
		file("/abs/path", "abs\n", 0o644),
	)
}

// richSize: a.txt 6 (d/hard is the same inode), symlink targets
// "/etc/passwd" 11 and "../d/a.txt" 10, long 5, unicode 8, raw 4, su 7,
// ping 5, evil 5, abs 4. Dirs, the fifo, the device and whiteouts add 0.
const richSize = 6 + 11 + 10 + 5 + 8 + 4 + 7 + 5 + 5 + 4

// gnuPad pads a tar to the 10240-byte records GNU tar and Python write and
// appends bytes after the logical end, both of which the DiffID covers.
func gnuPad(b []byte, trailer string) []byte {
	out := append([]byte(nil), b...)
	if r := len(out) % 10240; r != 0 {
		out = append(out, make([]byte, 10240-r)...)
	}
	return append(out, trailer...)
}

func applyBytes(t *testing.T, in []byte, layer string, opts ApplyOptions) (ApplyResult, []byte) {
	t.Helper()
	var ts bytes.Buffer
	res, err := Apply(bytes.NewReader(in), layer, &ts, opts)
	if err != nil {
		t.Fatalf("Apply: %v", err)
	}
	if got, want := res.DiffID.String(), sha(in); got != want {
		t.Errorf("DiffID = %s, want %s", got, want)
	}
	if res.TarSize != int64(len(in)) {
		t.Errorf("TarSize = %d, want %d", res.TarSize, len(in))
	}
	return res, ts.Bytes()
}

// roundTrip checks that tar-split + layer dir give back the input exactly.
func roundTrip(t *testing.T, in, ts []byte, layer string) {
	t.Helper()
	n, err := TarSize(bytes.NewReader(ts))
	if err != nil {
		t.Fatalf("TarSize: %v", err)
	}
	if n != int64(len(in)) {
		t.Errorf("TarSize(tar-split) = %d, want %d", n, len(in))
	}
	var out bytes.Buffer
	if err := Assemble(bytes.NewReader(ts), layer, &out); err != nil {
		t.Fatalf("Assemble: %v", err)
	}
	if !bytes.Equal(out.Bytes(), in) {
		t.Fatalf("Assemble output differs: %d bytes, want %d (sha %s vs %s)", out.Len(), len(in), sha(out.Bytes()), sha(in))
	}
	rc := AssembleReader(bytes.NewReader(ts), layer)
	var out2 bytes.Buffer
	if _, err := out2.ReadFrom(rc); err != nil {
		t.Fatalf("AssembleReader: %v", err)
	}
	rc.Close()
	if !bytes.Equal(out2.Bytes(), in) {
		t.Fatal("AssembleReader output differs from the input")
	}
}

func requireRoot(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root")
	}
}

func lstat(t *testing.T, p string) *syscall.Stat_t {
	t.Helper()
	fi, err := os.Lstat(p)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Sys().(*syscall.Stat_t)
}

func TestApplyRichOverlay(t *testing.T) {
	requireRoot(t)
	in := gnuPad(richLayer(t), "TRAILING GARBAGE after the end\n")
	parent, layer := sandbox(t)
	res, ts := applyBytes(t, in, layer, ApplyOptions{Overlay: true, Chown: true})
	assertOnlyLayer(t, parent)
	if res.Size != richSize {
		t.Errorf("Size = %d, want %d", res.Size, richSize)
	}
	L := func(p string) string { return filepath.Join(layer, p) }

	// Regular file content, owner, hardlink sharing its inode.
	if b, _ := os.ReadFile(L("d/a.txt")); string(b) != "hello\n" {
		t.Errorf("d/a.txt = %q", b)
	}
	a, h := lstat(t, L("d/a.txt")), lstat(t, L("d/hard"))
	if a.Ino != h.Ino || a.Nlink != 2 {
		t.Errorf("hardlink: inodes %d/%d nlink %d", a.Ino, h.Ino, a.Nlink)
	}
	if a.Uid != 1000 || a.Gid != 1001 || a.Mode&0o7777 != 0o644 {
		t.Errorf("d/a.txt: uid %d gid %d mode %o", a.Uid, a.Gid, a.Mode)
	}
	if a.Mtim.Sec != testTime.Unix() {
		t.Errorf("d/a.txt mtime %d", a.Mtim.Sec)
	}
	// Symlinks keep their targets verbatim, absolute or not.
	for p, want := range map[string]string{"d/abs": "/etc/passwd", "d/rel": "../d/a.txt"} {
		if got, err := os.Readlink(L(p)); err != nil || got != want {
			t.Errorf("readlink %s = %q, %v; want %q", p, got, err, want)
		}
		if st := lstat(t, L(p)); st.Mtim.Sec != testTime.Unix() {
			t.Errorf("%s: symlink mtime %d (lutimes not applied)", p, st.Mtim.Sec)
		}
	}
	if st := lstat(t, L("d/fifo")); st.Mode&unix.S_IFMT != unix.S_IFIFO || st.Mode&0o7777 != 0o644 {
		t.Errorf("d/fifo mode %o", st.Mode)
	}
	if st := lstat(t, L("dev/null")); st.Mode&unix.S_IFMT != unix.S_IFCHR || unix.Major(st.Rdev) != 1 || unix.Minor(st.Rdev) != 3 {
		t.Errorf("dev/null mode %o rdev %d:%d", st.Mode, unix.Major(st.Rdev), unix.Minor(st.Rdev))
	}
	// Implicit parents are 0755 directories.
	if st := lstat(t, L("dev")); st.Mode&unix.S_IFMT != unix.S_IFDIR || st.Mode&0o777 != 0o755 {
		t.Errorf("dev mode %o", st.Mode)
	}
	for p, want := range map[string]string{longName: "long\n", "data/üñí.txt": "unicode\n", "bin/\xff\xfe.bin": "raw\n", "evil": "evil\n", "abs/path": "abs\n"} {
		if b, err := os.ReadFile(L(p)); err != nil || string(b) != want {
			t.Errorf("%q = %q, %v", p, b, err)
		}
	}
	// setuid survives the chown, which comes first.
	if st := lstat(t, L("bin/su")); st.Mode&0o7777 != 0o4755 || st.Uid != 1000 {
		t.Errorf("bin/su mode %o uid %d", st.Mode, st.Uid)
	}
	if st := lstat(t, L("tmp")); st.Mode&0o7777 != 0o1777 {
		t.Errorf("tmp mode %o", st.Mode)
	}
	buf := make([]byte, 64)
	if n, err := unix.Lgetxattr(L("bin/ping"), "security.capability", buf); err != nil || string(buf[:n]) != capV2 {
		t.Errorf("security.capability = %x, %v", buf[:max(n, 0)], err)
	}
	if n, err := unix.Lgetxattr(L("bin/ping"), "user.foo", buf); err != unix.ENOTSUP && (err != nil || string(buf[:n]) != "bar") {
		t.Errorf("user.foo = %q, %v", buf[:max(n, 0)], err)
	}
	// Whiteout: char 0:0, mode 0, the entry's owner; no .wh. file.
	st := lstat(t, L("w/gone"))
	if st.Mode != unix.S_IFCHR || st.Rdev != 0 || st.Uid != 7 || st.Gid != 8 {
		t.Errorf("w/gone: mode %o rdev %d owner %d:%d", st.Mode, st.Rdev, st.Uid, st.Gid)
	}
	// Opaque: xattr on the dir, no marker file.
	if n, err := unix.Lgetxattr(L("o"), "trusted.overlay.opaque", buf); err != nil || string(buf[:n]) != "y" {
		t.Errorf("o opaque xattr = %q, %v", buf[:max(n, 0)], err)
	}
	for _, p := range []string{"w/.wh.gone", "o/.wh..wh..opq"} {
		if _, err := os.Lstat(L(p)); !os.IsNotExist(err) {
			t.Errorf("%s exists on disk (%v)", p, err)
		}
	}
	// Directory times are applied after their content; modes as in the tar.
	for p, mode := range map[string]uint32{"d": 0o755, "o": 0o750, "w": 0o755} {
		st := lstat(t, L(p))
		if st.Mtim.Sec != testTime.Unix() || st.Mode&0o7777 != mode {
			t.Errorf("%s: mtime %d mode %o", p, st.Mtim.Sec, st.Mode&0o7777)
		}
	}

	roundTrip(t, in, ts, layer)
	checkTarSplitFormat(t, ts)
}

func TestApplyRichUnprivilegedMode(t *testing.T) {
	in := gnuPad(richLayer(t), "")
	if os.Geteuid() != 0 {
		// Without root the device cannot be made; it becomes an empty file.
		t.Log("running unprivileged")
	}
	parent, layer := sandbox(t)
	res, ts := applyBytes(t, in, layer, ApplyOptions{})
	assertOnlyLayer(t, parent)
	if res.Size != richSize {
		t.Errorf("Size = %d, want %d", res.Size, richSize)
	}
	// Whiteouts stay in tar form.
	for _, p := range []string{"w/.wh.gone", "o/.wh..wh..opq"} {
		fi, err := os.Lstat(filepath.Join(layer, p))
		if err != nil || !fi.Mode().IsRegular() || fi.Size() != 0 {
			t.Errorf("%s: %v %v", p, fi, err)
		}
	}
	if _, err := os.Lstat(filepath.Join(layer, "w/gone")); !os.IsNotExist(err) {
		t.Errorf("w/gone exists: %v", err)
	}
	roundTrip(t, in, ts, layer)
}

// checkTarSplitFormat decodes the recorded stream with the standard library
// alone: a gzip of newline-delimited JSON entries, positions in order, the
// non-UTF-8 name in name_raw.
func checkTarSplitFormat(t *testing.T, ts []byte) {
	t.Helper()
	zr, err := gzip.NewReader(bytes.NewReader(ts))
	if err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(zr)
	sc.Buffer(nil, 4<<20)
	pos, sawRaw := 0, false
	for sc.Scan() {
		var e storage.Entry
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			t.Fatalf("line %d: %v", pos, err)
		}
		if e.Position != pos {
			t.Fatalf("position %d at line %d", e.Position, pos)
		}
		if e.Type == storage.FileType && e.GetName() == "bin/\xff\xfe.bin" {
			sawRaw = e.Name == "" && len(e.NameRaw) > 0
		}
		pos++
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if !sawRaw {
		t.Error("non-UTF-8 name not recorded as name_raw")
	}
}

func TestApplyEmptyInput(t *testing.T) {
	parent, layer := sandbox(t)
	res, ts := applyBytes(t, nil, layer, DefaultApplyOptions())
	if res.DiffID.Hex != "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855" || res.Size != 0 {
		t.Errorf("got %+v", res)
	}
	assertOnlyLayer(t, parent)
	roundTrip(t, nil, ts, layer)
}

func TestApplyEmptyTar(t *testing.T) {
	in := buildTar(t) // 1024 zero bytes
	_, layer := sandbox(t)
	res, ts := applyBytes(t, in, layer, DefaultApplyOptions())
	if res.DiffID.Hex != "5f70bf18a086007016e948b04aed3b82103a36bea41755b6cddfaf10ace3c6ef" {
		t.Errorf("empty tar DiffID %s", res.DiffID)
	}
	roundTrip(t, in, ts, layer)
}

func TestApplyNilTarSplit(t *testing.T) {
	in := buildTar(t, file("a", "x", 0o644), file("a", "y", 0o644))
	_, layer := sandbox(t)
	_, err := Apply(bytes.NewReader(in), layer, nil, ApplyOptions{})
	if err == nil || !strings.Contains(err.Error(), "duplicates of file paths not supported") {
		t.Fatalf("err = %v", err)
	}
	in = buildTar(t, file("a", "x", 0o644))
	if res, err := Apply(bytes.NewReader(in), t.TempDir(), nil, ApplyOptions{}); err != nil || res.Size != 1 {
		t.Fatalf("Apply without tar-split: %+v %v", res, err)
	}
}

// A later entry replaces an earlier one of another kind; directories merge.
func TestApplyReplaceAndMerge(t *testing.T) {
	_, layer := sandbox(t)
	if err := os.MkdirAll(filepath.Join(layer, "keep/old"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(layer, "f"), []byte("old"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(layer, "x"), 0o755); err != nil {
		t.Fatal(err)
	}
	in := buildTar(t, dir("keep/", 0o700), symlink("f", "target"), file("x", "now a file", 0o600))
	_, ts := applyBytes(t, in, layer, DefaultApplyOptions())
	if _, err := os.Stat(filepath.Join(layer, "keep/old")); err != nil {
		t.Errorf("merged dir lost its content: %v", err)
	}
	if st := lstat(t, filepath.Join(layer, "keep")); st.Mode&0o777 != 0o700 {
		t.Errorf("keep mode %o", st.Mode)
	}
	if l, err := os.Readlink(filepath.Join(layer, "f")); err != nil || l != "target" {
		t.Errorf("f = %q, %v", l, err)
	}
	if b, err := os.ReadFile(filepath.Join(layer, "x")); err != nil || string(b) != "now a file" {
		t.Errorf("x = %q, %v", b, err)
	}
	roundTrip(t, in, ts, layer)
}

func TestAssembleChecksumMismatch(t *testing.T) {
	in := buildTar(t, dir("d/", 0o755), file("d/f", "content", 0o644))
	_, layer := sandbox(t)
	_, ts := applyBytes(t, in, layer, DefaultApplyOptions())
	if err := os.WriteFile(filepath.Join(layer, "d/f"), []byte("CONTENT"), 0o644); err != nil {
		t.Fatal(err)
	}
	err := Assemble(bytes.NewReader(ts), layer, new(bytes.Buffer))
	if err == nil || err.Error() != `file integrity checksum failed for "d/f"` {
		t.Fatalf("err = %v", err)
	}
	os.Remove(filepath.Join(layer, "d/f"))
	err = Assemble(bytes.NewReader(ts), layer, new(bytes.Buffer))
	if err == nil || !strings.Contains(err.Error(), `"d/f"`) {
		t.Fatalf("missing file: err = %v", err)
	}
}

// AssembleReader checks sizes, not crc64s: a same-size change passes
// through (its consumer's diff ID check catches it, TestSaveModifiedStore
// in archive), a size change or a missing file fails naming the entry, and
// CheckedReader names a same-size change as Assemble does.
func TestAssembleReaderModified(t *testing.T) {
	in := buildTar(t, dir("d/", 0o755), file("d/f", "content", 0o644), file("d/g", "more", 0o644))
	_, layer := sandbox(t)
	_, ts := applyBytes(t, in, layer, DefaultApplyOptions())
	read := func(open func(io.Reader, string) io.ReadCloser) ([]byte, error) {
		rc := open(bytes.NewReader(ts), layer)
		defer rc.Close()
		return io.ReadAll(rc)
	}
	if err := os.WriteFile(filepath.Join(layer, "d/f"), []byte("CONTENT"), 0o644); err != nil {
		t.Fatal(err)
	}
	got, err := read(AssembleReader)
	if err != nil || !bytes.Contains(got, []byte("CONTENT")) || len(got) != len(in) {
		t.Fatalf("same-size change: %d bytes, err %v; want the changed bytes in a tar of %d", len(got), err, len(in))
	}
	if _, err := read(CheckedReader); err == nil || err.Error() != `file integrity checksum failed for "d/f"` {
		t.Fatalf("CheckedReader: err = %v", err)
	}
	for change, want := range map[string]string{
		"longer":  `layer entry "d/f": 8 bytes on disk, the layer recorded 7`,
		"shorter": `layer entry "d/f": 6 bytes on disk, the layer recorded 7`,
		"missing": `layer entry "d/f": `,
	} {
		p := filepath.Join(layer, "d/f")
		var err error
		switch change {
		case "longer":
			err = os.WriteFile(p, []byte("CONTENT!"), 0o644)
		case "shorter":
			err = os.WriteFile(p, []byte("CONTEN"), 0o644)
		default:
			err = os.Remove(p)
		}
		if err != nil {
			t.Fatal(err)
		}
		if _, err := read(AssembleReader); err == nil || !strings.HasPrefix(err.Error(), want) {
			t.Errorf("%s: err = %v, want %q…", change, err, want)
		}
	}
}

// Read-only directories still take their content. Unprivileged, directories
// keep owner rwx and files owner read, or they could not be filled, walked
// or reassembled.
func TestApplyReadOnlyDirs(t *testing.T) {
	in := buildTar(t, dir("ro/", 0o555), dir("ro/none/", 0o000), file("ro/f", "f", 0o000), dir("ro/none/x/", 0o755), file("ro/none/x/y", "y", 0o644))
	want := map[string]uint32{"ro": 0o555, "ro/none": 0, "ro/f": 0}
	if os.Geteuid() != 0 {
		want = map[string]uint32{"ro": 0o755, "ro/none": 0o700, "ro/f": 0o400}
	}
	for _, opts := range []ApplyOptions{{}, DefaultApplyOptions()} {
		_, layer := sandbox(t)
		_, ts := applyBytes(t, in, layer, opts)
		for p, mode := range want {
			if st := lstat(t, filepath.Join(layer, p)); st.Mode&0o7777 != mode || st.Mtim.Sec != testTime.Unix() {
				t.Errorf("%+v: %s mode %o mtime %d", opts, p, st.Mode&0o7777, st.Mtim.Sec)
			}
		}
		roundTrip(t, in, ts, layer)
		os.Chmod(filepath.Join(layer, "ro/none"), 0o755) // let TempDir cleanup in
		os.Chmod(filepath.Join(layer, "ro"), 0o755)
	}
}

func TestHashingReader(t *testing.T) {
	hr := NewHashingReader(strings.NewReader("hello"))
	b, err := io.ReadAll(hr)
	if err != nil || string(b) != "hello" || hr.N() != 5 || hr.Sum().String() != sha(b) {
		t.Fatalf("%q %v n=%d sum=%s", b, err, hr.N(), hr.Sum())
	}
}
