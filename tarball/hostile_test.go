package tarball

import (
	"archive/tar"
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
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

func TestApplyDuplicates(t *testing.T) {
	cases := map[string][]ent{
		"same name":      {file("a", "1", 0o644), file("./a", "2", 0o644)},
		"dir and file":   {dir("d/", 0o755), file("d", "2", 0o644)},
		"after clamping": {file("a", "1", 0o644), file("../a", "2", 0o644)},
	}
	for name, ents := range cases {
		t.Run(name, func(t *testing.T) {
			_, layer := sandbox(t)
			second := ents[1].hdr.Name
			applyErr(t, buildTar(t, ents...), layer, "duplicates of file paths not supported", `layer entry "`+second+`"`)
		})
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
