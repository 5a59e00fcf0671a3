package tarball

import (
	"encoding/json"
	"io"
	"unicode/utf8"

	"github.com/vbatts/tar-split/tar/storage"
)

// namelessPacker writes exactly what storage.NewJSONPacker writes (the same
// encoding/json encoder over the same storage.Entry, the same positions and
// the same switch of non-UTF-8 names to name_raw) but keeps no set of every
// file name: that set grew ~100 bytes a file. Duplicate names are refused
// by the extractor instead (extract.go, dup.go), before the second copy is
// written.
type namelessPacker struct {
	enc *json.Encoder
	pos int
}

func newNamelessPacker(w io.Writer) storage.Packer {
	return &namelessPacker{enc: json.NewEncoder(w)}
}

func (p *namelessPacker) AddEntry(e storage.Entry) (int, error) {
	if e.Name != "" && !utf8.ValidString(e.Name) {
		e.NameRaw = []byte(e.Name)
		e.Name = ""
	}
	e.Position = p.pos
	if err := p.enc.Encode(e); err != nil {
		return -1, err
	}
	p.pos++
	return e.Position, nil
}
