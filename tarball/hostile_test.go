package tarball

import (
	"archive/tar"
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vbatts/tar-split/tar/storage"
)

// applyErr runs Apply expecting an error containing every want string; the
// error must be a single line.
func applyErr(t *testing.T, in []byte, layer string, want ...string) {
	t.Helper()
	_, err := Apply(bytes.NewReader(in), layer, new(bytes.Buffer), DefaultApplyOptions())
	if err == nil {
		t.Fatalf("Apply succeeded, want error containing %q", want)
	}
	msg := err.Error()
	t.Logf("error: %s", msg)
	if strings.Contains(msg, "\n") {
		t.Errorf("error is not one line: %q", msg)
	}
	for _, w := range want {
		if !strings.Contains(msg, w) {
			t.Errorf("error %q does not contain %q", msg, w)
		}
	}
}

// Traversal names are clamped inside the layer, as Docker's chroot does, and
// Assemble reads them back from the same place.
func TestApplyClampsTraversal(t *testing.T) {
	in := buildTar(t,
		file("../../evil", "evil\n", 0o644),
		file("/abs/path", "abs\n", 0o644),
		file("../../../../tmp/x", "tmp\n", 0o644),
		file("a/../../b", "b\n", 0o644),
	)
	parent, layer := sandbox(t)
	_, ts := applyBytes(t, in, layer, DefaultApplyOptions())
	assertOnlyLayer(t, parent)
	got := strings.Join(listTree(t, layer), " ")
	if want := "abs abs/path b evil tmp tmp/x"; got != want {
		t.Errorf("layer tree = %q, want %q", got, want)
	}
	roundTrip(t, in, ts, layer)
}

// Assemble must not read "../outside" next to the layer dir, which is what a
// naive filepath.Join(dir, name) would do.
func TestAssembleDoesNotReadHostPaths(t *testing.T) {
	in := buildTar(t, file("../outside", "inside\n", 0o644))
	parent, layer := sandbox(t)
	_, ts := applyBytes(t, in, layer, DefaultApplyOptions())
	if err := os.WriteFile(filepath.Join(parent, "outside"), []byte("HOST!!\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	roundTrip(t, in, ts, layer)
}

func TestApplySymlinkEscapes(t *testing.T) {
	outside := t.TempDir() // a host directory the layer must not reach
	canary := "imgtool-canary-" + filepath.Base(outside)
	cases := map[string][]ent{
		"absolute to host dir": {symlink("a", outside), file("a/owned", "x", 0o644)},
		"absolute /etc":        {symlink("a", "/etc"), file("a/"+canary, "x", 0o644)},
		"relative climb":       {symlink("up", "../../.."+outside), file("up/owned", "x", 0o644)},
		"nested":               {dir("d/", 0o755), symlink("d/up", "../../../../../"), file("d/up/"+canary, "x", 0o644)},
		"loop":                 {symlink("l1", "l2"), symlink("l2", "l1"), file("l1/x", "x", 0o644)},
	}
	for name, ents := range cases {
		t.Run(name, func(t *testing.T) {
			parent, layer := sandbox(t)
			applyErr(t, buildTar(t, ents...), layer, "layer entry", ents[len(ents)-1].hdr.Name)
			assertOnlyLayer(t, parent)
			if des, _ := os.ReadDir(outside); len(des) != 0 {
				t.Errorf("wrote into %s: %v", outside, des)
			}
			if _, err := os.Lstat("/etc/" + canary); !os.IsNotExist(err) {
				os.Remove("/etc/" + canary)
				t.Errorf("wrote /etc/%s", canary)
			}
		})
	}
}

// A symlink as the final component is replaced, never written through.
func TestApplyReplacesFinalSymlink(t *testing.T) {
	outside := filepath.Join(t.TempDir(), "target")
	if err := os.WriteFile(outside, []byte("host"), 0o644); err != nil {
		t.Fatal(err)
	}
	parent, layer := sandbox(t)
	in := buildTar(t, symlink("s", outside), dir("d/", 0o755), symlink("d/s2", outside))
	applyBytes(t, in, layer, DefaultApplyOptions())
	// A second layer applied over the same dir (as the overlay upper would
	// not, but a retried apply could) replaces the links.
	in2 := buildTar(t, file("s", "layer", 0o600), ent{hdr: tar.Header{Typeflag: tar.TypeFifo, Name: "d/s2", Mode: 0o600}})
	applyBytes(t, in2, layer, DefaultApplyOptions())
	if b, _ := os.ReadFile(outside); string(b) != "host" {
		t.Errorf("outside file changed: %q", b)
	}
	if b, _ := os.ReadFile(filepath.Join(layer, "s")); string(b) != "layer" {
		t.Errorf("s = %q", b)
	}
	assertOnlyLayer(t, parent)
}

func TestApplyHardlinkEscapes(t *testing.T) {
	hostDir := t.TempDir()
	secret := filepath.Join(hostDir, "secret")
	if err := os.WriteFile(secret, []byte("secret"), 0o600); err != nil {
		t.Fatal(err)
	}
	cases := map[string][]ent{
		"relative":           {hardlink("h", "../../../etc/hostname")},
		"absolute host path": {hardlink("h", secret)},
		"through symlink":    {symlink("s", hostDir), hardlink("h", "s/secret")},
		"missing in layer":   {hardlink("h", "nope")},
	}
	for name, ents := range cases {
		t.Run(name, func(t *testing.T) {
			parent, layer := sandbox(t)
			applyErr(t, buildTar(t, ents...), layer, `layer entry "h"`)
			assertOnlyLayer(t, parent)
			var st syscall.Stat_t
			if err := syscall.Stat(secret, &st); err != nil || st.Nlink != 1 {
				t.Errorf("host file gained links: nlink %d, %v", st.Nlink, err)
			}
			if _, err := os.Lstat(filepath.Join(layer, "h")); !os.IsNotExist(err) {
				t.Errorf("h was created: %v", err)
			}
		})
	}
}

// Duplicate paths are refused as tar-split's packer (and so Docker, which
// loads layers through it) refuses them, naming the second entry; names that
// are the same file only once clamped are refused too (imgtool is stricter
// there). In a fresh layer the filesystem tells duplicates (dup.go), so each
// case is checked against tar-split's own packer on the same tar.
func TestApplyDuplicates(t *testing.T) {
	fifo := ent{hdr: tar.Header{Typeflag: tar.TypeFifo, Name: "p", Mode: 0o644, ModTime: testTime}}
	cases := map[string]struct {
		ents []ent
		// tarSplit: tar-split's packer refuses it too.
		tarSplit bool
	}{
		"same name":              {[]ent{file("a", "1", 0o644), file("./a", "2", 0o644)}, true},
		"dir and file":           {[]ent{dir("d/", 0o755), file("d", "2", 0o644)}, true},
		"file and dir":           {[]ent{file("d", "2", 0o644), dir("d/", 0o755)}, true},
		"dir twice":              {[]ent{dir("d/", 0o755), file("d/x", "", 0o644), dir("d", 0o700)}, true},
		"after clamping":         {[]ent{file("a", "1", 0o644), file("../a", "2", 0o644)}, false},
		"symlink twice":          {[]ent{symlink("l", "x"), symlink("l", "y")}, true},
		"hard link twice":        {[]ent{file("a", "1", 0o644), hardlink("b", "a"), hardlink("b", "a")}, true},
		"fifo twice":             {[]ent{fifo, fifo}, true},
		"through a symlink":      {[]ent{dir("d/", 0o755), symlink("l", "d"), file("l/x", "1", 0o644), file("l/x", "2", 0o644)}, true},
		"parent replaced twice":  {[]ent{file("p/x", "", 0o644), file("p", "1", 0o644), file("p", "2", 0o644)}, true},
		"whiteout twice":         {[]ent{file(".wh.gone", "", 0o644), file(".wh.gone", "", 0o644)}, true},
		"opaque twice":           {[]ent{dir("o/", 0o755), file("o/.wh..wh..opq", "", 0o644), file("o/.wh..wh..opq", "", 0o644)}, true},
		"meta whiteout twice":    {[]ent{file(".wh..wh.aufs", "", 0o600), file(".wh..wh.aufs", "", 0o600)}, true},
		"meta after clamping":    {[]ent{file(".wh..wh.aufs", "", 0o600), file("../.wh..wh.aufs", "", 0o600)}, false},
		"root twice":             {[]ent{dir("./", 0o755), dir(".", 0o755)}, true},
		"global header twice":    {[]ent{globalHeader("g"), globalHeader("g")}, true},
		"global header and file": {[]ent{globalHeader("a"), file("a", "1", 0o644)}, true},
		"file and global header": {[]ent{file("a", "1", 0o644), globalHeader("a")}, true},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			in := buildTar(t, c.ents...)
			_, err := packWith(t, in, storage.NewJSONPacker)
			if refused := errors.Is(err, storage.ErrDuplicatePath); refused != c.tarSplit {
				t.Errorf("tar-split's packer: %v, want refused %v", err, c.tarSplit)
			}
			_, layer := sandbox(t)
			last := c.ents[len(c.ents)-1].hdr.Name
			applyErr(t, in, layer, "duplicates of file paths not supported", `layer entry "`+last+`"`)
		})
	}
}

// Names that differ for tar-split but meet on disk stay accepted, as tar-split
// (and Docker) accept them: a parent made for a deeper entry claimed by its
// own entry or replaced, "/" and "./", a file reached by two names.
func TestApplyNotDuplicates(t *testing.T) {
	cases := map[string][]ent{
		"implicit dir then its entry": {file("p/x", "1", 0o644), dir("p/", 0o700)},
		"implicit dir then a file":    {file("p/x", "1", 0o644), file("p", "2", 0o644)},
		"root as / and ./":            {dir("/", 0o755), dir("./", 0o755)},
		"by its name then a symlink":  {dir("d/", 0o755), file("d/x", "1", 0o644), symlink("l", "d"), file("l/x", "2", 0o644)},
		"meta dir after its child":    {file(".wh..wh.plnk/1", "1", 0o644), dir(".wh..wh.plnk/", 0o700)},
	}
	for name, ents := range cases {
		t.Run(name, func(t *testing.T) {
			in := buildTar(t, ents...)
			if _, err := packWith(t, in, storage.NewJSONPacker); err != nil {
				t.Fatalf("tar-split's packer refuses it: %v", err)
			}
			_, layer := sandbox(t)
			_, ts := applyBytes(t, in, layer, DefaultApplyOptions())
			// Where a later entry replaced an earlier one's file, the layer
			// cannot give the earlier content back (nor can Docker's).
			if !strings.Contains(name, "then a") {
				roundTrip(t, in, ts, layer)
			}
		})
	}
}

// Into a directory that was not empty, duplicates are still refused and
// names already there are replaced.
func TestApplyDuplicatesNotFresh(t *testing.T) {
	layer := t.TempDir()
	if err := os.WriteFile(filepath.Join(layer, "old"), []byte("old"), 0o644); err != nil {
		t.Fatal(err)
	}
	applyErr(t, buildTar(t, file("a", "1", 0o644), file("./a", "2", 0o644)), layer, "duplicates of file paths not supported", `layer entry "./a"`)
	if _, err := Apply(bytes.NewReader(buildTar(t, file("old", "new", 0o644))), layer, nil, ApplyOptions{}); err != nil {
		t.Fatalf("replacing a file that was there: %v", err)
	}
	if b, _ := os.ReadFile(filepath.Join(layer, "old")); string(b) != "new" {
		t.Errorf("old = %q, want new", b)
	}
}

func TestApplyBadInput(t *testing.T) {
	good := buildTar(t, dir("d/", 0o755), file("d/big", strings.Repeat("z", 5000), 0o644), file("e", "e", 0o644))
	cases := map[string]struct {
		in   []byte
		want string
	}{
		"garbage":          {bytes.Repeat([]byte("not a tar archive "), 100), "archive/tar: invalid tar header"},
		"short garbage":    {[]byte("hello"), "unexpected EOF"},
		"truncated body":   {good[:512*3+100], "unexpected EOF"},
		"truncated header": {good[:512+200], "unexpected EOF"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			parent, layer := sandbox(t)
			applyErr(t, c.in, layer, c.want)
			assertOnlyLayer(t, parent)
		})
	}
}

func TestApplyWhiteoutWithContent(t *testing.T) {
	requireRoot(t)
	_, layer := sandbox(t)
	applyErr(t, buildTar(t, file(".wh.x", "data", 0o644)), layer, `layer entry ".wh.x"`, "whiteout entry has content")
}

// AUFS metadata is skipped in overlay mode, but what sits below it is kept
// so the layer can still be reassembled.
func TestApplyAUFSMeta(t *testing.T) {
	requireRoot(t)
	in := buildTar(t, dir(".wh..wh.plnk/", 0o700), file(".wh..wh.plnk/1234.5", "linked", 0o644), file(".wh..wh.aufs", "", 0o600))
	_, layer := sandbox(t)
	_, ts := applyBytes(t, in, layer, DefaultApplyOptions())
	if got := strings.Join(listTree(t, layer), " "); got != ".wh..wh.plnk .wh..wh.plnk/1234.5" {
		t.Errorf("tree = %q", got)
	}
	roundTrip(t, in, ts, layer)
}

// A fifo reached through a replaced parent must not hang Assemble.
func TestAssembleRefusesNonRegular(t *testing.T) {
	in := buildTar(t,
		ent{hdr: tar.Header{Typeflag: tar.TypeFifo, Name: "x/f", Mode: 0o644}},
		file("a/f", "content", 0o644),
		symlink("a", "x"),
	)
	_, layer := sandbox(t)
	_, ts := applyBytes(t, in, layer, DefaultApplyOptions())
	errc := make(chan error, 1)
	go func() { errc <- Assemble(bytes.NewReader(ts), layer, new(bytes.Buffer)) }()
	select {
	case err := <-errc:
		if err == nil || !strings.Contains(err.Error(), `layer entry "a/f": not a regular file`) {
			t.Fatalf("err = %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Assemble hangs on a fifo")
	}
}
