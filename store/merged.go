package store

import (
	"os"
	"path"
	"path/filepath"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// LookupMerged finds a path in the overlay view of layer dirs (bottom
// first), as overlayfs would: the topmost layer that has it wins, a char
// 0:0 device is a whiteout, and an opaque directory hides what is below.
// It returns the layer dir holding the path, or ok=false when the path
// does not exist in the merged view. Symlinks are not followed.
func LookupMerged(dirs []string, p string) (layer string, fi os.FileInfo, ok bool) {
	p = strings.TrimPrefix(path.Clean("/"+p), "/")
	if p == "" {
		fi, err := os.Lstat(dirs[len(dirs)-1])
		return dirs[len(dirs)-1], fi, err == nil
	}
	parts := strings.Split(p, "/")
	for i := len(dirs) - 1; i >= 0; i-- {
		hidden := false
		for j := 1; j < len(parts); j++ { // a non-dir or whiteout ancestor in this layer ends the search
			anc := filepath.Join(dirs[i], filepath.Join(parts[:j]...))
			fi, err := os.Lstat(anc)
			if err != nil {
				continue
			}
			if !fi.IsDir() {
				return "", nil, false
			}
			if isOpaque(anc) {
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

// IsWhiteout reports an overlay whiteout: a char device 0:0.
func IsWhiteout(fi os.FileInfo) bool {
	if fi.Mode()&os.ModeCharDevice == 0 || fi.Mode()&os.ModeDevice == 0 {
		return false
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	return ok && st.Rdev == 0
}

func isOpaque(dir string) bool {
	buf := make([]byte, 4)
	n, err := unix.Lgetxattr(dir, "trusted.overlay.opaque", buf)
	return err == nil && n == 1 && buf[0] == 'y'
}
