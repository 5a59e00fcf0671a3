package tarball

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"strconv"

	"github.com/vbatts/tar-split/tar/storage"
)

// lineUnpacker reads tar-split's JSON entries (one object a line, as
// storage.NewJSONPacker writes them) like storage.NewJSONUnpacker, but
// parses the packer's own shape by hand: encoding/json's Decoder was
// 45 % of the CPU of a save of many small files (two entries a file).
// A line that is not exactly that shape (escapes in a name, other key
// order, spaces) goes through json.Unmarshal, so any valid input gives the
// same entries. Unlike storage's unpacker it keeps no set of every file
// name: that set grew with the layer (~100 bytes a file), and a duplicate
// name cannot come from Apply, whose extractor refused it (dup.go);
// assembling one would only repeat the file's content.
type lineUnpacker struct {
	r *bufio.Reader
}

func newLineUnpacker(r io.Reader) *lineUnpacker {
	return &lineUnpacker{r: entryReaders.get(r)}
}

// release gives the read buffer back (pool.go); the unpacker and the
// entries it returned are not used after.
func (u *lineUnpacker) release() {
	entryReaders.put(u.r)
	u.r = nil
}

func (u *lineUnpacker) Next() (*storage.Entry, error) {
	line, err := u.line()
	if err != nil {
		return nil, err
	}
	e := &storage.Entry{}
	if !parseEntry(line, e) {
		*e = storage.Entry{}
		if err := json.Unmarshal(line, e); err != nil {
			return nil, fmt.Errorf("tar-split entry: %w", err)
		}
	}
	return e, nil
}

// line returns the next non-blank line (without its newline), or io.EOF.
func (u *lineUnpacker) line() ([]byte, error) {
	for {
		line, err := u.r.ReadSlice('\n')
		if err == bufio.ErrBufferFull {
			rest, rerr := u.r.ReadBytes('\n')
			line, err = append(append([]byte(nil), line...), rest...), rerr
		}
		if err == io.EOF && len(bytes.TrimSpace(line)) > 0 {
			err = nil
		}
		if err != nil {
			return nil, err
		}
		if line = bytes.TrimSpace(line); len(line) > 0 {
			return line, nil
		}
	}
}

// parseEntry parses the packer's shape,
// {"type":T[,"name":"N"][,"name_raw":"B64"][,"size":S],"payload":null|"B64","position":P},
// reporting false for anything else.
func parseEntry(b []byte, e *storage.Entry) bool {
	p := &entryParser{b: b}
	if !p.lit(`{"type":`) {
		return false
	}
	t, ok := p.int()
	if !ok {
		return false
	}
	e.Type = storage.Type(t)
	if p.lit(`,"name":`) {
		s, ok := p.str()
		if !ok {
			return false
		}
		e.Name = string(s)
	}
	if p.lit(`,"name_raw":`) {
		if e.NameRaw, ok = p.b64(); !ok {
			return false
		}
	}
	if p.lit(`,"size":`) {
		if e.Size, ok = p.int(); !ok {
			return false
		}
	}
	if !p.lit(`,"payload":`) {
		return false
	}
	if !p.lit("null") {
		if e.Payload, ok = p.b64(); !ok {
			return false
		}
	}
	if !p.lit(`,"position":`) {
		return false
	}
	pos, ok := p.int()
	if !ok {
		return false
	}
	e.Position = int(pos)
	return p.lit("}") && p.i == len(p.b)
}

type entryParser struct {
	b []byte
	i int
}

func (p *entryParser) lit(s string) bool {
	if bytes.HasPrefix(p.b[p.i:], []byte(s)) {
		p.i += len(s)
		return true
	}
	return false
}

// int reads a decimal integer (an optional minus, no leading zeros as
// JSON requires).
func (p *entryParser) int() (int64, bool) {
	j := p.i
	if j < len(p.b) && p.b[j] == '-' {
		j++
	}
	start := j
	for j < len(p.b) && p.b[j] >= '0' && p.b[j] <= '9' {
		j++
	}
	if j == start || (p.b[start] == '0' && j-start > 1) {
		return 0, false
	}
	n, err := strconv.ParseInt(string(p.b[p.i:j]), 10, 64)
	if err != nil {
		return 0, false
	}
	p.i = j
	return n, true
}

// str reads a JSON string without escapes or control characters; the
// bytes must be valid UTF-8 as json.Unmarshal would keep them.
func (p *entryParser) str() ([]byte, bool) {
	if !p.lit(`"`) {
		return nil, false
	}
	end := bytes.IndexByte(p.b[p.i:], '"')
	if end < 0 {
		return nil, false
	}
	s := p.b[p.i : p.i+end]
	for _, c := range s {
		if c == '\\' || c < 0x20 || c >= 0x80 {
			return nil, false // escapes and non-ASCII: json.Unmarshal's rules
		}
	}
	p.i += end + 1
	return s, true
}

func (p *entryParser) b64() ([]byte, bool) {
	s, ok := p.str()
	if !ok {
		return nil, false
	}
	out := make([]byte, base64.StdEncoding.DecodedLen(len(s)))
	n, err := base64.StdEncoding.Decode(out, s)
	if err != nil {
		return nil, false
	}
	return out[:n], true
}
