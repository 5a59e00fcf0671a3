package overlay

import (
	"os"
	"path/filepath"
	"strings"
)

// Lookup finds a path in the merged view of diff dirs (bottom first), as
// the merge of their tars would: the topmost layer that has it wins, a char
// 0:0 device is a whiteout, a non-directory ancestor ends the search, and an
// opaque directory hides what is below. A diff dir's own opacity is
// ignored, as overlayfs ignores it (see the package comment). It returns the diff dir holding the path, or ok=false when the path
// does not exist in the merged view. Symlinks are not followed.
func Lookup(dirs []string, p string) (layer string, fi os.FileInfo, ok bool) {
	p = Clean(p)
	if p == "" {
		fi, err := os.Lstat(dirs[len(dirs)-1])
		return dirs[len(dirs)-1], fi, err == nil
	}
	parts := strings.Split(p, "/")
	for i := len(dirs) - 1; i >= 0; i-- {
		hidden := false
		for j := 1; j < len(parts); j++ {
			anc := filepath.Join(dirs[i], filepath.Join(parts[:j]...))
			fi, err := os.Lstat(anc)
			if err != nil {
				continue
			}
			if !fi.IsDir() { // a file or whiteout ancestor: nothing below it here or lower
				return "", nil, false
			}
			if IsOpaquePath(anc) {
				hidden = true
			}
		}
		fi, err := os.Lstat(filepath.Join(dirs[i], p))
		if err == nil {
			if IsWhiteout(fi) {
				return "", nil, false
			}
			return dirs[i], fi, true
		}
		if hidden {
			return "", nil, false
		}
	}
	return "", nil, false
}
