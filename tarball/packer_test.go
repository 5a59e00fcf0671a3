package tarball

import (
	"archive/tar"
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/vbatts/tar-split/tar/asm"
	"github.com/vbatts/tar-split/tar/storage"
)

// packWith runs tar-split's disassembler over in with the packer newPacker
// makes, and returns the JSON lines it wrote.
func packWith(t *testing.T, in []byte, newPacker func(io.Writer) storage.Packer) ([]byte, error) {
	t.Helper()
	return packFrom(t, bytes.NewReader(in), newPacker)
}

// packFrom is packWith over any reader of the tar.
func packFrom(t *testing.T, src io.Reader, newPacker func(io.Writer) storage.Packer) ([]byte, error) {
	t.Helper()
	var out bytes.Buffer
	stream, done, err := asm.NewInputTarStreamWithDone(src, newPacker(&out), nil)
	if err != nil {
		t.Fatal(err)
	}
	_, cerr := io.Copy(io.Discard, stream)
	if err := <-done; err != nil {
		return out.Bytes(), err
	}
	return out.Bytes(), cerr
}

// globalHeader is a PAX global header named name.
func globalHeader(name string) ent {
	return ent{hdr: tar.Header{Typeflag: tar.TypeXGlobalHeader, Name: name, PAXRecords: map[string]string{"comment": "global"}}}
}

// The packer Apply uses writes, byte for byte, what tar-split's own
// storage.NewJSONPacker writes: Docker reads that stream back.
func TestNamelessPackerMatchesTarSplit(t *testing.T) {
	long := file(strings.Repeat("gnu/", 40)+"long", "gnu\n", 0o644)
	long.hdr.Format = tar.FormatGNU // GNU long name and long link entries
	longLink := hardlink(strings.Repeat("l/", 60)+"link", long.hdr.Name)
	longLink.hdr.Format = tar.FormatGNU
	html := file("a<b>&c.txt", "escaped by encoding/json\n", 0o644)
	inputs := map[string][]byte{
		"rich (PAX, xattrs, raw names, links, devices, whiteouts)": richLayer(t),
		"padded with trailing bytes":                               gnuPad(richLayer(t), "trailing junk"),
		"sparse":                                                   paxSparseTar(t, 1<<20),
		"GNU long names and a global header":                       buildTar(t, globalHeader("pax_global_header"), long, longLink, html),
		"empty":                                                    buildTar(t),
		"no end blocks":                                            buildTar(t, file("a", "x", 0o644))[:1024],
	}
	if rich, _ := packWith(t, inputs["padded with trailing bytes"], storage.NewJSONPacker); !bytes.Contains(rich, []byte(`"name_raw":`)) {
		t.Fatal("the rich layer no longer has a non-UTF-8 name")
	}
	for name, in := range inputs {
		t.Run(name, func(t *testing.T) {
			want, err := packWith(t, in, storage.NewJSONPacker)
			if err != nil {
				t.Fatalf("tar-split's packer: %v", err)
			}
			got, err := packWith(t, in, newNamelessPacker)
			if err != nil {
				t.Fatalf("nameless packer: %v", err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("stream differs from tar-split's packer:\ngot  %s\nwant %s", got, want)
			}
			if len(want) == 0 {
				t.Error("no entries to compare")
			}
		})
	}
}

// With a duplicate, tar-split's packer stops at the second copy; the
// nameless packer wrote the same bytes up to there (Apply's extractor
// refuses the duplicate itself: TestApplyDuplicates).
func TestNamelessPackerDuplicatePrefix(t *testing.T) {
	in := buildTar(t, file("a", "1", 0o644), file("b", "2", 0o644), file("./a", "3", 0o644), file("c", "4", 0o644))
	want, err := packWith(t, in, storage.NewJSONPacker)
	if !errors.Is(err, storage.ErrDuplicatePath) {
		t.Fatalf("tar-split's packer: err = %v, want ErrDuplicatePath", err)
	}
	got, err := packWith(t, in, newNamelessPacker)
	if err != nil {
		t.Fatalf("nameless packer: %v", err)
	}
	if !bytes.HasPrefix(got, want) || len(got) == len(want) {
		t.Errorf("tar-split's output is not a proper prefix:\ngot  %s\nwant %s", got, want)
	}
}
