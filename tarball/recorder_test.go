package tarball

import (
	"archive/tar"
	"bytes"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/vbatts/tar-split/tar/storage"
)

// failAfter accepts n entries, then refuses every one.
type failAfter struct{ n int }

var errPackerFull = errors.New("disk full")

func (f *failAfter) AddEntry(storage.Entry) (int, error) {
	if f.n == 0 {
		return -1, errPackerFull
	}
	f.n--
	return 0, nil
}

// When the tar-split cannot be written, the disassembler learns it at a
// later entry (the recorder runs behind it, at most a few batches) and
// Close returns the same error; nothing blocks, whether the failure
// comes early or late.
func TestRecorderFailureReachesTheDisassembler(t *testing.T) {
	var ents []ent
	for i := range 2000 { // more entries than a few batches hold
		ents = append(ents, file(fmt.Sprintf("f%04d", i), strings.Repeat("x", i%700), 0o644))
	}
	layer := buildTar(t, ents...)
	for _, n := range []int{0, 1, 300, 3000} {
		rec := newRecorder(&failAfter{n: n})
		d := newDisassembler(headerReaders.get(bytes.NewReader(layer)), rec)
		var err error
		for err == nil {
			var hdr *tar.Header
			if hdr, err = d.next(); err == nil {
				err = d.done(hdr)
			}
		}
		d.putBufs()
		cerr := rec.Close()
		if !errors.Is(cerr, errPackerFull) {
			t.Errorf("after %d entries: Close returned %v, want the packer's error", n, cerr)
		}
		if n < 1000 && !errors.Is(err, errPackerFull) { // a late failure may come only at Close
			t.Errorf("after %d entries: the disassembler stopped with %v, want the packer's error", n, err)
		}
	}
}

// Apply reports a tar-split it could not write, and the layer is not
// taken as done.
func TestApplyTarSplitWriteFails(t *testing.T) {
	dir := t.TempDir()
	ts, err := os.Create(dir + "/ts")
	if err != nil {
		t.Fatal(err)
	}
	ts.Close() // writes now fail
	out := t.TempDir()
	_, err = Apply(bytes.NewReader(richLayer(t)), out, ts, ApplyOptions{})
	if err == nil || !strings.Contains(err.Error(), "tar-split") {
		t.Fatalf("Apply with a closed tar-split file returned %v, want an error naming the tar-split", err)
	}
}
