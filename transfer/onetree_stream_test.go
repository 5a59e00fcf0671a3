package transfer

import (
	"bytes"
	"fmt"
	"io"
	"math/rand"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/imgtool/imgtool/flatten"
	"github.com/imgtool/imgtool/store"
)

// TestExportStreamEqualsTree: export merges diff dirs by a walk, one
// directory at a time (flatten's stream.go); the same dirs read as tars go
// through flatten's tree of the whole stack. Both must write the same bytes,
// for the corpus, the synthetic cases and random stacks (whiteouts, opaque
// dirs, hard links, symlinks replaced by directories).
func TestExportStreamEqualsTree(t *testing.T) {
	st := rootStore(t)
	check := func(t *testing.T, img v1.Image) {
		loaded := loadInto(t, st, img)
		ld, _ := store.Dirs(st)
		dirs, err := ld.DiffDirs(loaded.StoreLayers())
		if err != nil {
			t.Fatal(err)
		}
		var tree, stream bytes.Buffer
		var tars []flatten.Layer
		for _, d := range dirs {
			tars = append(tars, flatten.TarLayer(func() (io.ReadCloser, error) { return flatten.DirLayer(d).Open() }))
		}
		if err := flatten.Flatten(&tree, tars, flatten.Options{}); err != nil {
			t.Fatal(err)
		}
		if err := ExportImage(&stream, st, loaded); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(tree.Bytes(), stream.Bytes()) {
			a, b := treeLines(t, &tree), treeLines(t, &stream)
			t.Fatalf("export differs from the tree's bytes (- tree, + export):\n%q", diffLines(a, b))
		}
	}
	for name, layers := range oneTreeCases(t) {
		t.Run(name, func(t *testing.T) { check(t, synthImage(t, layers...)) })
	}
	forCorpus(t, check)
	names := []string{"a", "b", "a/c", "a/d", "b/e", "a/c/f", "-x", "a/-y", "a/c/g", "z", "b/e/h", "a/d/i"}
	for seed := int64(1); seed <= 150; seed++ {
		rnd := rand.New(rand.NewSource(seed))
		var layers [][]byte
		for range 1 + rnd.Intn(6) {
			layers = append(layers, randomLayer(t, rnd, names))
		}
		t.Run(fmt.Sprint(seed), func(t *testing.T) { check(t, synthImage(t, layers...)) })
	}
}
