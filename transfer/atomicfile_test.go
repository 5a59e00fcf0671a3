package transfer

import (
	"bytes"
	"math/rand"
	"os"
	"path/filepath"
	"testing"
)

// A durable OutputFile starts writeback every writebackChunk bytes while
// it is written; the file it commits is still exactly what was written,
// for writes that straddle the chunk boundaries, and nothing is left
// beside it.
func TestOutputFileDurableWriteback(t *testing.T) {
	want := make([]byte, 3*writebackChunk+12345)
	rand.New(rand.NewSource(1)).Read(want)
	for _, durable := range []bool{true, false} {
		dir := t.TempDir()
		path := filepath.Join(dir, "out.tar")
		o, err := CreateOutput(path, durable)
		if err != nil {
			t.Fatal(err)
		}
		for rest := want; len(rest) > 0; {
			n := min(len(rest), 3<<20+1)
			if _, err := o.Write(rest[:n]); err != nil {
				t.Fatal(err)
			}
			rest = rest[n:]
		}
		// At most one chunk and one write are not yet queued for writeback.
		if lag := int64(len(want)) - o.queued; durable && lag >= writebackChunk+3<<20+1 || !durable && o.queued != 0 {
			t.Errorf("durable=%v: writeback started for %d bytes of %d", durable, o.queued, len(want))
		}
		if err := o.Commit(); err != nil {
			t.Fatal(err)
		}
		got, err := os.ReadFile(path)
		if err != nil || !bytes.Equal(got, want) {
			t.Fatalf("durable=%v: committed %d bytes (%v), want the %d written", durable, len(got), err, len(want))
		}
		if ents, _ := os.ReadDir(dir); len(ents) != 1 {
			t.Errorf("durable=%v: %d files beside the output", durable, len(ents)-1)
		}
	}
}
