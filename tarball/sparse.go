package tarball

import (
	"archive/tar"
	"errors"
	"strings"
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
