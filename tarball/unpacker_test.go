package tarball

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"reflect"
	"strings"
	"testing"

	"github.com/vbatts/tar-split/tar/asm"
	"github.com/vbatts/tar-split/tar/storage"
)

// The hand parser must give exactly the entries tar-split's own JSON
// unpacker gives, for names that take its fast path and names that do not
// (escapes, non-ASCII, invalid UTF-8 stored as name_raw, long names).
func TestLineUnpackerMatchesTarSplit(t *testing.T) {
	in := buildTar(t,
		dir("d/", 0o755),
		file("d/plain", "x", 0o644),
		file("d/empty", "", 0o644),
		file("d/quote\"back\\slash", "y", 0o644),
		file("d/<html>&amp", "z", 0o644),
		file("d/ünïcödé", "u", 0o644),
		file("d/bad\xffutf8", "b", 0o644),
		file("d/"+strings.Repeat("long/", 40)+"f", "l", 0o644),
		file("d/ctl\x01x", "c", 0o644),
		symlink("d/ln", "plain"),
	)
	var ts bytes.Buffer
	packer := storage.NewJSONPacker(&ts)
	stream, done, err := asm.NewInputTarStreamWithDone(bytes.NewReader(in), packer, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(io.Discard, stream); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	want := readAll(t, storage.NewJSONUnpacker(bytes.NewReader(ts.Bytes())))
	got := readAll(t, newLineUnpacker(bytes.NewReader(ts.Bytes())))
	if len(want) < 20 {
		t.Fatalf("only %d entries", len(want))
	}
	if !reflect.DeepEqual(got, want) {
		for i := range want {
			if i >= len(got) || !reflect.DeepEqual(got[i], want[i]) {
				t.Fatalf("entry %d: got %+v, want %+v", i, got[i], want[i])
			}
		}
		t.Fatalf("got %d entries, want %d", len(got), len(want))
	}
	// Lines in another shape (spaces, other key order) still parse.
	e := storage.Entry{Type: storage.FileType, Name: "a", Size: 3, Payload: []byte{1, 2}, Position: 7}
	b, _ := json.MarshalIndent(e, "", "")
	line := bytes.ReplaceAll(b, []byte("\n"), nil)
	line = append([]byte(`{"position":7,`), bytes.TrimPrefix(bytes.Replace(line, []byte(`,"position":7`), nil, 1), []byte("{"))...)
	got = readAll(t, newLineUnpacker(bytes.NewReader(append(line, '\n'))))
	if len(got) != 1 || !reflect.DeepEqual(got[0], e) {
		t.Fatalf("reordered line %s: got %+v", line, got)
	}
}

func readAll(t *testing.T, u storage.Unpacker) []storage.Entry {
	t.Helper()
	var out []storage.Entry
	for {
		e, err := u.Next()
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, *e)
	}
}
