package flatten

import (
	"archive/tar"
	"fmt"
	"strings"

	"github.com/imgtool/imgtool/overlay"
	"golang.org/x/sys/unix"
)

// dir writes the merged children of the directory prefix (layers dirs) in
// name order, each directory followed by its contents. With only, just the
// child only[0] is written (the Subtree path, resolved already).
func (s *streamer) dir(dirs []layerDir, prefix string, root bool, only []string) error {
	if len(only) == 0 {
		lists := make([][]string, len(dirs))
		plain := true
		for k, d := range dirs {
			names, err := overlay.ReadNames(d.fd, prefix)
			if err != nil {
				return err
			}
			lists[k], plain = names, plain && !needsMerge(names)
		}
		if plain {
			return s.sorted(dirs, prefix, lists)
		}
	}
	kids, err := s.merge(dirs, prefix, root)
	if err != nil {
		return err
	}
	names := sortedNames(kids)
	var rest []string
	if len(only) > 0 {
		names, rest = only[:1], only[1:]
	}
	for _, n := range names {
		if err := s.child(dirs, kids[n], n, join(prefix, n), rest); err != nil {
			return err
		}
	}
	return nil
}

// sorted writes a directory whose copies hold no literal whiteout names as
// a merge of their sorted name lists, with no map: for each name the
// topmost copy's entry decides (a whiteout hides it, a non-directory
// shows), and a directory merges the directories right below it down to
// the first other entry, which is what applying them bottom first gives.
func (s *streamer) sorted(dirs []layerDir, prefix string, lists [][]string) error {
	for {
		n, ok := "", false
		for _, l := range lists {
			if len(l) > 0 && (!ok || l[0] < n) {
				n, ok = l[0], true
			}
		}
		if !ok {
			return nil
		}
		var c *mergedChild
		done := false
		for k := len(dirs) - 1; k >= 0; k-- {
			if len(lists[k]) == 0 || lists[k][0] != n {
				continue
			}
			lists[k] = lists[k][1:]
			if done {
				continue
			}
			e, err := overlay.ReadEntry(dirs[k].fd, prefix, n, s.xattrBuf[:])
			switch {
			case err != nil:
				return err
			case e.Hdr == nil: // a socket: the walk skips it too
			case c == nil && e.Whiteout:
				done = true // hidden
			case c == nil:
				c = s.newChild(e, dirs[k].layer)
				done = !c.isDir()
			case e.Hdr.Typeflag == tar.TypeDir:
				c.layers = append([]int{dirs[k].layer}, c.layers...)
			default:
				done = true
			}
		}
		if c != nil {
			if err := s.child(dirs, c, n, join(prefix, n), nil); err != nil {
				return err
			}
		}
	}
}

// needsMerge reports a literal whiteout name (`.wh.*`, a file or a
// directory a user made in a container): applied as the tree does, it can
// hide what its own layer wrote or create a directory, so the directory
// takes the merge. Docker's own whiteouts are char devices, not such names.
func needsMerge(names []string) bool {
	for _, n := range names {
		if strings.HasPrefix(n, overlay.WhiteoutPrefix) {
			return true
		}
	}
	return false
}

// child writes c, named n in the directory whose copies are dirs, at cp;
// a directory is followed by its contents (only rest of them if set).
func (s *streamer) child(dirs []layerDir, c *mergedChild, n, cp string, rest []string) error {
	if !c.isDir() {
		return s.file(dirs, c, n, cp)
	}
	h := header(cp+"/", c.meta)
	h.Typeflag = tar.TypeDir
	if err := s.tw.WriteHeader(h); err != nil {
		return fmt.Errorf("%q: %w", cp, err)
	}
	sub, err := openDirs(dirs, c, n, cp)
	if err != nil {
		return err
	}
	err = s.dir(sub, cp, false, rest)
	closeDirs(sub)
	return err
}

// file writes the non-directory c at cp: an inode's first path carries the
// content, the others are hard links to it, as the builder's output.
func (s *streamer) file(dirs []layerDir, c *mergedChild, base, cp string) error {
	ino := &c.inode
	if c.nlink > 1 {
		key := linkKey{c.layer, c.dev, c.ino}
		if p, ok := s.primary[key]; ok {
			ino.linked, ino.primary = true, p
		} else {
			s.primary[key] = cp
		}
	}
	h := fileHeader(cp, ino)
	if err := s.tw.WriteHeader(h); err != nil {
		return fmt.Errorf("%q: %w", cp, err)
	}
	if h.Typeflag != tar.TypeReg || h.Size == 0 {
		return nil
	}
	if err := s.content(fdOf(dirs, c.layer), base, h.Size); err != nil {
		return fmt.Errorf("%q: content from layer %d: %w", cp, c.layer, err)
	}
	return nil
}

// content copies the regular file base of the directory dirfd, which must
// still have size bytes.
func (s *streamer) content(dirfd int, base string, size int64) error {
	fd, err := unix.Openat(dirfd, base, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	r := overlay.FdReader(fd)
	defer r.Close()
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return err
	}
	if st.Mode&unix.S_IFMT != unix.S_IFREG || st.Size != size {
		return errChanged
	}
	return copyExact(s.tw, r, size)
}
