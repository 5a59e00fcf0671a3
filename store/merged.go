package store

import (
	"os"

	"github.com/imgtool/imgtool/overlay"
)

// LookupMerged finds a path in the overlay view of layer dirs (bottom
// first); see overlay.Lookup, which it is (kept for its callers).
func LookupMerged(dirs []string, p string) (layer string, fi os.FileInfo, ok bool) {
	return overlay.Lookup(dirs, p)
}

// IsWhiteout reports an overlay whiteout: a char device 0:0 (overlay.IsWhiteout).
func IsWhiteout(fi os.FileInfo) bool { return overlay.IsWhiteout(fi) }
