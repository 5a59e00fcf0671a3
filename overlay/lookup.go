package overlay

import (
	"os"
	"strings"

	"golang.org/x/sys/unix"
)

// Lookup finds a path in the merged view of diff dirs (bottom first), as
// the merge of their tars would: the topmost layer that has it wins, a char
// 0:0 device is a whiteout, a non-directory ancestor ends the search, and an
// opaque directory hides what is below. A diff dir's own opacity is
// ignored, as overlayfs ignores it (see the package comment). It returns the
// diff dir holding the path, or ok=false when the path does not exist in the
// merged view. Symlinks are not followed; paths of any length are looked up
// (one component at a time, relative to directory fds).
func Lookup(dirs []string, p string) (layer string, fi os.FileInfo, ok bool) {
	p = Clean(p)
	if p == "" {
		fi, err := os.Lstat(dirs[len(dirs)-1])
		return dirs[len(dirs)-1], fi, err == nil
	}
	parts := strings.Split(p, "/")
	for i := len(dirs) - 1; i >= 0; i-- {
		switch found, hidden := probe(dirs[i], parts); {
		case found == deleted:
			return "", nil, false
		case found == present:
			fi, err := lstatIn(dirs[i], p)
			return dirs[i], fi, err == nil
		case hidden:
			return "", nil, false
		}
	}
	return "", nil, false
}

type presence int

const (
	absent  presence = iota
	present          // the path is in this layer
	deleted          // a whiteout, or a non-directory ancestor, ends the search here
)

// probe looks the path parts up in one diff dir and reports whether an
// ancestor on the way is opaque.
func probe(dir string, parts []string) (found presence, opaque bool) {
	fd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return absent, false
	}
	defer func() { unix.Close(fd) }()
	var st unix.Stat_t
	for _, c := range parts[:len(parts)-1] {
		if unix.Fstatat(fd, c, &st, unix.AT_SYMLINK_NOFOLLOW) != nil {
			return absent, opaque
		}
		if st.Mode&unix.S_IFMT != unix.S_IFDIR {
			return deleted, opaque
		}
		next, err := unix.Openat(fd, c, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
		if err != nil {
			return absent, opaque
		}
		unix.Close(fd)
		fd = next
		opaque = opaque || IsOpaque(fd)
	}
	if unix.Fstatat(fd, parts[len(parts)-1], &st, unix.AT_SYMLINK_NOFOLLOW) != nil {
		return absent, opaque
	}
	if IsWhiteoutStat(&st) {
		return deleted, opaque
	}
	return present, opaque
}

// lstatIn is os.Lstat of the root-relative p, resolved inside dir.
func lstatIn(dir, p string) (os.FileInfo, error) {
	r, err := os.OpenRoot(dir)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	return r.Lstat(p)
}
