package tarball

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"testing"
)

// A fresh layer skips lookups for names it has not made; a name reached
// through a symlink made earlier in the same layer must still replace what
// it reaches, as Docker's unpacker does.
func TestApplyThroughOwnSymlinkReplaces(t *testing.T) {
	_, layer := sandbox(t)
	data := buildTar(t,
		dir("b/", 0o755),
		file("b/x", "old", 0o644),
		symlink("a", "b"),
		file("a/x", "new", 0o644),
		dir("d/e/", 0o755), // implicit parent d, then a file replacing the dir e
	)
	if _, err := Apply(bytes.NewReader(data), layer, io.Discard, ApplyOptions{}); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(filepath.Join(layer, "b", "x"))
	if err != nil || string(got) != "new" {
		t.Fatalf("b/x = %q, %v; want the entry written through a -> b", got, err)
	}
	data2 := buildTar(t, file("d/e/f", "1", 0o644), file("d/e", "file now", 0o644))
	_, layer2 := sandbox(t)
	if _, err := Apply(bytes.NewReader(data2), layer2, io.Discard, ApplyOptions{}); err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(filepath.Join(layer2, "d", "e")); string(got) != "file now" {
		t.Fatalf("d/e = %q: a file must replace the implicit directory", got)
	}
}
