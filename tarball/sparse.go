package tarball

import (
	"archive/tar"
	"errors"
	"hash/crc64"
	"io"
	"strings"
	"sync/atomic"

	"github.com/vbatts/tar-split/tar/storage"
)

// errSparse refuses GNU sparse entries (old-style 'S' and PAX
// GNU.sparse.*). Extracting one writes its holes as zeros, and tar-split
// records the expanded bytes, not the sparse map: save would then produce
// a different tar and the layer would fail its diff ID forever. A 7 KB
// entry may also declare a TiB of holes.
var errSparse = errors.New("sparse files (GNU sparse entries) are not supported: the layer could not be saved back byte for byte")

// isSparse reports a GNU sparse entry. Go's reader turns PAX sparse
// entries into regular ones but keeps their GNU.sparse.* records.
func isSparse(hdr *tar.Header) bool {
	if hdr.Typeflag == tar.TypeGNUSparse {
		return true
	}
	for k := range hdr.PAXRecords {
		if strings.HasPrefix(k, "GNU.sparse.") {
			return true
		}
	}
	return false
}

// errStopped ends tar-split's parse once the extraction has failed.
var errStopped = errors.New("stopped: the extraction failed")

// stopPutter is tar-split's bit-bucket FilePutter (the crc64 of each
// entry's content, the same sums) with a stop switch. tar-split's reader
// makes the holes of a sparse entry up without reading its input, so
// closing the input does not stop it: without the switch, its goroutine
// would go on hashing a TiB of zeros after the extraction gave up.
type stopPutter struct {
	stop atomic.Bool
	buf  [64 << 10]byte
}

func (p *stopPutter) Put(_ string, r io.Reader) (int64, []byte, error) {
	c := crc64.New(storage.CRCTable)
	var n int64
	for {
		if p.stop.Load() {
			return n, nil, errStopped
		}
		m, err := r.Read(p.buf[:])
		c.Write(p.buf[:m])
		n += int64(m)
		if err == io.EOF {
			return n, c.Sum(nil), nil
		}
		if err != nil {
			return n, nil, err
		}
	}
}
