package overlay2

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/imgtool/imgtool/imageid"
	"github.com/imgtool/imgtool/store"
)

// killedWriterLeftovers makes what a SIGKILLed load leaves: a write-set,
// an overlay2 dir with its l/ link that nothing references, a temp file.
func killedWriterLeftovers(t *testing.T, s *Store) []string {
	t.Helper()
	ws := filepath.Join(s.layerDBDir(), "tmp", "write-set-123")
	id, link := randomID(), linkID()
	dir := filepath.Join(s.overlayDir(), id)
	tmp := filepath.Join(s.imageDir(), ".tmp-repositories.json123")
	for _, d := range []string{ws, filepath.Join(dir, "diff")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	os.WriteFile(filepath.Join(dir, "diff", "big"), bytes.Repeat([]byte("x"), 4096), 0o644)
	os.WriteFile(filepath.Join(dir, "link"), []byte(link), 0o644)
	os.Symlink(filepath.Join("..", id, "diff"), filepath.Join(s.overlayDir(), "l", link))
	os.WriteFile(tmp, []byte("{"), 0o600)
	return []string{ws, dir, filepath.Join(s.overlayDir(), "l", link), tmp}
}

// TestWriterRemovesKilledWritersLeftovers: the next writer after a killed
// one (its marker still there) removes the leftovers; a writer after a
// clean unlock does not scan at all.
func TestWriterRemovesKilledWritersLeftovers(t *testing.T) {
	s, _, _ := ckStore(t)
	left := killedWriterLeftovers(t, s)
	unlock, err := s.Writer()
	if err != nil {
		t.Fatal(err)
	}
	unlock()
	for _, p := range left {
		if _, err := os.Lstat(p); err != nil {
			t.Fatalf("no marker: %s removed, but only a killed writer's leftovers go", p)
		}
	}
	os.WriteFile(s.markerPath(), nil, 0o600) // a writer killed while holding the lock
	unlock, err = s.Writer()
	if err != nil {
		t.Fatal(err)
	}
	unlock()
	for _, p := range left {
		if _, err := os.Lstat(p); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s left after the next writer: %v", p, err)
		}
	}
	if _, err := os.Stat(s.markerPath()); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("marker left after a clean unlock")
	}
	if r := ckRun(t, s, store.CheckOptions{Deep: true}); len(r.Problems) != 0 {
		t.Errorf("check after cleanup: %v", r.Problems)
	}
}

// TestLayerBudget: a layer past --max-layer-size fails naming the limit
// and the flag, and the transaction leaves nothing.
func TestLayerBudget(t *testing.T) {
	s, err := Open(filepath.Join(t.TempDir(), "root"))
	if err != nil {
		t.Fatal(err)
	}
	s.SetOptions(store.Options{MaxLayerSize: 64 << 10})
	layer := ckTar(t, "big", strings.Repeat("z", 200<<10))
	img := &memImage{layers: [][]byte{layer}}
	img.config, _ = json.Marshal(map[string]any{"os": "linux", "architecture": "amd64",
		"rootfs": map[string]any{"type": "layers", "diff_ids": []string{imageid.FromBytes(layer).String()}}})
	unlock, err := s.Writer()
	if err != nil {
		t.Fatal(err)
	}
	defer unlock()
	tx := s.begin()
	if _, err := tx.AddImage(img, v1.Hash{}); err != nil {
		t.Fatal(err)
	}
	err = tx.Extract(context.Background(), nil)
	tx.Abort()
	if err == nil || !strings.Contains(err.Error(), "64 KiB") || !strings.Contains(err.Error(), "--max-layer-size") || !strings.Contains(err.Error(), "layer 0") {
		t.Fatalf("want the budget error naming layer, limit and flag, got %v", err)
	}
	if errors.Is(err, syscall.ENOSPC) {
		t.Errorf("a --max-layer-size refusal is not ENOSPC")
	}
	if r := ckRun(t, s, store.CheckOptions{}); len(r.Problems) != 0 {
		t.Errorf("leftovers after the refused layer: %v", r.Problems)
	}
	// The same layer through AddLayer (import, commit).
	tx = s.begin()
	_, _, err = tx.AddLayer(bytes.NewReader(layer), v1.Hash{})
	tx.Abort()
	if err == nil || !strings.Contains(err.Error(), "--max-layer-size") {
		t.Fatalf("AddLayer: want the budget error, got %v", err)
	}
}

// TestExtractStopsOnFirstError: with several layers in flight, the first
// over budget fails the transaction with its own error (not the others'
// cancellation) and Abort leaves nothing.
func TestExtractStopsOnFirstError(t *testing.T) {
	s, err := Open(filepath.Join(t.TempDir(), "root"))
	if err != nil {
		t.Fatal(err)
	}
	s.SetOptions(store.Options{MaxLayerSize: 256 << 10})
	img := &memImage{}
	var diffs []string
	for i, n := range []int{1 << 10, 2 << 20, 100 << 10, 3 << 20} {
		l := ckTar(t, "f", strings.Repeat(string(rune('a'+i)), n))
		img.layers = append(img.layers, l)
		diffs = append(diffs, imageid.FromBytes(l).String())
	}
	img.config, _ = json.Marshal(map[string]any{"os": "linux", "architecture": "amd64",
		"rootfs": map[string]any{"type": "layers", "diff_ids": diffs}})
	unlock, err := s.Writer()
	if err != nil {
		t.Fatal(err)
	}
	defer unlock()
	tx := s.begin()
	if _, err := tx.AddImage(img, v1.Hash{}); err != nil {
		t.Fatal(err)
	}
	err = tx.Extract(context.Background(), nil)
	tx.Abort()
	if err == nil || !strings.Contains(err.Error(), "--max-layer-size") || errors.Is(err, context.Canceled) {
		t.Fatalf("want the budget error of a layer, got %v", err)
	}
	if r := ckRun(t, s, store.CheckOptions{}); len(r.Problems) != 0 {
		t.Errorf("leftovers: %v", r.Problems)
	}
}
