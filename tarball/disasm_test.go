package tarball

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"

	"github.com/vbatts/tar-split/tar/asm"
	"github.com/vbatts/tar-split/tar/storage"
)

// oldApplySource is the reader Apply hands the parser: the aside hasher's
// 256 KiB chunks behind a 256 KiB buffer. How trailing bytes are cut into
// segments depends on it, so both sides of a comparison read through it.
func oldApplySource(in []byte) (*bufio.Reader, func()) {
	hr := NewAsideHasher(bytes.NewReader(in))
	return bufio.NewReaderSize(hr, 256<<10), func() { hr.Close() }
}

// asmStream is what Apply recorded before the in-line disassembler:
// tar-split's NewInputTarStream with its own JSON packer, read to the end.
func asmStream(t *testing.T, in []byte) ([]byte, error) {
	src, closeSrc := oldApplySource(in)
	defer closeSrc()
	return packFrom(t, src, func(w io.Writer) storage.Packer { return storage.NewJSONPacker(w) })
}

// disasmStream runs the in-line disassembler alone, reading every entry's
// content in reads of odd sizes, as an extractor might.
func disasmStream(t *testing.T, in []byte) ([]byte, error) {
	src, closeSrc := oldApplySource(in)
	defer closeSrc()
	var out bytes.Buffer
	rec := newRecorder(newNamelessPacker(&out))
	d := newDisassembler(src, rec)
	defer d.putBufs()
	buf := make([]byte, 300<<10)
	for i := 0; ; i++ {
		hdr, err := d.next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return recorded(rec, &out, err)
		}
		if i%2 == 0 { // every other entry: read part, leave the rest to done
			d.Read(buf[:1+i%7000])
		}
		if err := d.done(hdr); err != nil {
			return recorded(rec, &out, err)
		}
	}
	return recorded(rec, &out, d.tail())
}

// recorded is what rec wrote into out once it is closed, and the first
// error.
func recorded(rec *recorder, out *bytes.Buffer, err error) ([]byte, error) {
	if cerr := rec.Close(); err == nil {
		err = cerr
	}
	return out.Bytes(), err
}

func disasmInputs(t *testing.T) map[string][]byte {
	big := file("big", strings.Repeat("0123456789abcdef", 40000), 0o644) // 640 KB
	// Enough entries and content to fill the recorder's batches many times,
	// so that segments and content meet every batch boundary.
	var many []ent
	for i := range 3000 {
		many = append(many, file(fmt.Sprintf("d%d/f%04d", i%7, i), strings.Repeat("x", (i*37)%1500), 0o644))
	}
	return map[string][]byte{
		"many entries across batches": buildTar(t, many...),
		"rich":                        richLayer(t),
		"padded, trailing bytes":      gnuPad(richLayer(t), "trailing junk"),
		"big file, big trailer":       append(buildTar(t, big, file("small", "s", 0o644)), bytes.Repeat([]byte("junk"), 700<<10)...),
		"global header, GNU":          buildTar(t, globalHeader("pax_global_header"), ent{hdr: file(strings.Repeat("n/", 80)+"x", "x", 0o644).hdr, content: "x"}),
		"empty":                       buildTar(t),
		"truncated":                   richLayer(t)[:2000],
		"garbage":                     bytes.Repeat([]byte("not a tar "), 200),
	}
}

// The in-line disassembler records what tar-split's NewInputTarStream
// records, byte for byte, errors included; sparse entries and duplicates
// too (Apply refuses those, but the stream must not drift).
func TestDisassemblerMatchesTarSplit(t *testing.T) {
	inputs := disasmInputs(t)
	inputs["sparse"] = paxSparseTar(t, 1<<20)
	inputs["duplicate"] = buildTar(t, file("a", "1", 0o644), file("./a", "2", 0o644))
	for name, in := range inputs {
		t.Run(name, func(t *testing.T) {
			src, closeSrc := oldApplySource(in)
			var want bytes.Buffer
			stream, done, _ := asm.NewInputTarStreamWithDone(src, newNamelessPacker(&want), nil)
			_, cerr := io.Copy(io.Discard, stream)
			werr := <-done
			closeSrc()
			if werr == nil {
				werr = cerr
			}
			got, gerr := disasmStream(t, in)
			if !bytes.Equal(got, want.Bytes()) {
				t.Errorf("stream differs: %s", firstDiff(got, want.Bytes()))
			}
			if (gerr == nil) != (werr == nil) || (gerr != nil && !strings.Contains(werr.Error(), strings.TrimPrefix(gerr.Error(), "recording tar-split: "))) {
				t.Errorf("error %v, tar-split's %v", gerr, werr)
			}
		})
	}
}

// Apply's recorded tar-split is what tar-split's own packer and
// NewInputTarStream write for the same tar.
func TestApplyTarSplitMatchesTarSplit(t *testing.T) {
	for name, in := range disasmInputs(t) {
		t.Run(name, func(t *testing.T) {
			want, werr := asmStream(t, in)
			_, layer := sandbox(t)
			var gz bytes.Buffer
			_, err := Apply(bytes.NewReader(in), layer, &gz, DefaultApplyOptions())
			if (err == nil) != (werr == nil) {
				t.Fatalf("Apply: %v; tar-split: %v", err, werr)
			}
			if err != nil {
				return
			}
			zr, err := gzip.NewReader(&gz)
			if err != nil {
				t.Fatal(err)
			}
			got, err := io.ReadAll(zr)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("tar-split differs: %s", firstDiff(got, want))
			}
		})
	}
}

// firstDiff names the first JSON line where got and want differ.
func firstDiff(got, want []byte) string {
	g, w := bytes.Split(got, []byte("\n")), bytes.Split(want, []byte("\n"))
	for i := 0; i < len(g) || i < len(w); i++ {
		var gl, wl []byte
		if i < len(g) {
			gl = g[i]
		}
		if i < len(w) {
			wl = w[i]
		}
		if !bytes.Equal(gl, wl) {
			return fmt.Sprintf("line %d of %d/%d:\ngot  %.400s\nwant %.400s", i, len(g), len(w), gl, wl)
		}
	}
	return "equal"
}
