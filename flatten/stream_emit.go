package flatten

import (
	"archive/tar"
	"fmt"

	"github.com/imgtool/imgtool/overlay"
	"golang.org/x/sys/unix"
)

// dir writes the merged children of the directory prefix (layers dirs) in
// name order, each directory followed by its contents. With only, just the
// child only[0] is written (the Subtree path, resolved already).
func (s *streamer) dir(dirs []layerDir, prefix string, root bool, only []string) error {
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
		c := kids[n]
		cp := join(prefix, n)
		if c.hdr.Typeflag != tar.TypeDir {
			if err := s.file(dirs, c, n, cp); err != nil {
				return err
			}
			continue
		}
		h := header(cp+"/", s.meta.metaOf(c.hdr))
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
		if err != nil {
			return err
		}
	}
	return nil
}

// file writes the non-directory c at cp: an inode's first path carries the
// content, the others are hard links to it, as the builder's output.
func (s *streamer) file(dirs []layerDir, c *mergedChild, base, cp string) error {
	ino := &inode{meta: s.meta.metaOf(c.hdr), typ: c.hdr.Typeflag, size: c.hdr.Size,
		linkname: c.hdr.Linkname, major: c.hdr.Devmajor, minor: c.hdr.Devminor}
	if ino.typ == tar.TypeSymlink {
		ino.mode = 0777
	}
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
