package overlay

import (
	"archive/tar"
	"os"
	"sort"
	"time"

	"golang.org/x/sys/unix"
)

// Tar names of the one xattr a layer tar keeps (Docker's tar writer records
// only security.capability).
const (
	PAXXattrPrefix = "SCHILY.xattr."
	CapXattr       = "security.capability"
)

// Walk reads the overlay diff dir root as a layer tar's headers: fn is called
// for each entry in lexical order, a directory before its contents, with
// AUFS-style whiteouts as Docker's overlay ConvertWrite writes them: a char
// device 0:0 NAME becomes `.wh.NAME` with mode 0600 and an opaque directory D
// is followed right away by `D/.wh..wh..opq`. The diff dir's own opacity (a
// root-level marker) is not written: overlayfs ignores it, and Docker's
// ConvertWrite skips the root too. Hard links become TypeLink headers
// naming their first path. Other overlay xattrs (redirect, metacopy, origin)
// are ignored; Docker disables redirect_dir and metacopy.
//
// For a regular file, open opens its content; it is valid only while fn runs.
//
// The walk holds one directory fd per level and resolves only single names
// relative to it (openat, fstatat, readlinkat), so no path is ever longer
// than one component: trees deeper than PATH_MAX, which load accepts, are
// read as well. It is hand-written rather than filepath.WalkDir for that
// reason.
func Walk(root string, fn func(hdr *tar.Header, open func() (*os.File, error)) error) error {
	fd, err := unix.Open(root, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return &os.PathError{Op: "open", Path: root, Err: err}
	}
	defer unix.Close(fd)
	w := &walker{fn: fn, seen: map[[2]uint64]string{}}
	return w.dir(fd, "")
}

type walker struct {
	fn   func(hdr *tar.Header, open func() (*os.File, error)) error
	seen map[[2]uint64]string // (dev, ino) -> first path, for hard links
	// xattrBuf is lgetxattr's scratch space, one for the walk.
	xattrBuf [256]byte
}

func (w *walker) dir(dirfd int, prefix string) error {
	names, err := ReadNames(dirfd, prefix)
	if err != nil {
		return err
	}
	for _, n := range names {
		if err := w.entry(dirfd, prefix, n); err != nil {
			return err
		}
	}
	return nil
}

// ReadNames lists the open directory dirfd (tar name prefix, for errors)
// in lexical order, the order Walk visits it in.
func ReadNames(dirfd int, prefix string) ([]string, error) {
	names, err := readNames(dirfd)
	if err != nil {
		return nil, &os.PathError{Op: "readdir", Path: prefix, Err: err}
	}
	sort.Strings(names)
	return names, nil
}

func (w *walker) entry(dirfd int, prefix, base string) error {
	e, err := ReadEntry(dirfd, prefix, base, w.xattrBuf[:])
	switch {
	case err != nil || e.Hdr == nil:
		return err
	case e.Whiteout:
		return w.fn(e.Hdr, nil)
	case e.Hdr.Typeflag == tar.TypeDir:
		return w.subdir(dirfd, base, e.Hdr.Name, e.Hdr)
	}
	hdr, key := e.Hdr, [2]uint64{e.Dev, e.Ino}
	if e.Nlink > 1 {
		if first := w.seen[key]; first != "" {
			hdr.Typeflag, hdr.Linkname, hdr.Size, hdr.Devmajor, hdr.Devminor = tar.TypeLink, first, 0, 0, 0
			return w.fn(hdr, nil)
		}
		w.seen[key] = hdr.Name
	}
	var open func() (*os.File, error)
	if hdr.Typeflag == tar.TypeReg {
		open = func() (*os.File, error) { return openAt(dirfd, base, hdr.Name) }
	}
	return w.fn(hdr, open)
}

// Entry is one directory entry as Walk reads it, before hard links are
// resolved.
type Entry struct {
	// Hdr is the entry's header: a whiteout is `.wh.NAME` (Whiteout set), a
	// directory has Typeflag TypeDir and no trailing "/", and a socket has
	// none (nil; sockets are not archived).
	Hdr      *tar.Header
	Whiteout bool
	// Dev, Ino and Nlink identify the inode, for hard links.
	Dev, Ino, Nlink uint64
}

// ReadEntry reads base in the directory dirfd, whose tar name is prefix,
// with one fstatat and, unless it is a whiteout, one lgetxattr (xattrBuf is
// scratch space the caller keeps).
func ReadEntry(dirfd int, prefix, base string, xattrBuf []byte) (Entry, error) {
	name := join(prefix, base)
	var st unix.Stat_t
	if err := unix.Fstatat(dirfd, base, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return Entry{}, &os.PathError{Op: "lstat", Path: name, Err: err}
	}
	hdr := &tar.Header{
		Name: name, Mode: int64(st.Mode & 07777), Uid: int(st.Uid), Gid: int(st.Gid),
		ModTime: time.Unix(st.Mtim.Sec, 0), Format: tar.FormatPAX,
	}
	// Checked before hard-link bookkeeping because the kernel shares one
	// whiteout inode between them.
	if IsWhiteoutStat(&st) {
		hdr.Name, hdr.Typeflag, hdr.Mode = WhiteoutName(name), tar.TypeReg, 0600
		return Entry{Hdr: hdr, Whiteout: true}, nil
	}
	caps, err := lgetxattrAt(dirfd, base, CapXattr, xattrBuf)
	if err != nil {
		return Entry{}, &os.PathError{Op: "getxattr", Path: name, Err: err}
	}
	if caps != nil {
		hdr.PAXRecords = map[string]string{PAXXattrPrefix + CapXattr: string(caps)}
	}
	e := Entry{Hdr: hdr, Dev: uint64(st.Dev), Ino: st.Ino, Nlink: uint64(st.Nlink)}
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFDIR:
		hdr.Typeflag, e.Nlink = tar.TypeDir, 1
	case unix.S_IFREG:
		hdr.Typeflag, hdr.Size = tar.TypeReg, st.Size
	case unix.S_IFLNK:
		hdr.Typeflag = tar.TypeSymlink
		if hdr.Linkname, err = readlinkAt(dirfd, base); err != nil {
			return Entry{}, &os.PathError{Op: "readlink", Path: name, Err: err}
		}
	case unix.S_IFIFO:
		hdr.Typeflag = tar.TypeFifo
	case unix.S_IFCHR, unix.S_IFBLK:
		hdr.Typeflag = tar.TypeBlock
		if st.Mode&unix.S_IFMT == unix.S_IFCHR {
			hdr.Typeflag = tar.TypeChar
		}
		hdr.Devmajor, hdr.Devminor = int64(unix.Major(st.Rdev)), int64(unix.Minor(st.Rdev))
	default:
		return Entry{}, nil // sockets are not archived (Docker skips them too)
	}
	return e, nil
}

// subdir emits directory name (and its opaque marker), then its contents
// through its own fd.
func (w *walker) subdir(dirfd int, base, name string, hdr *tar.Header) error {
	fd, err := unix.Openat(dirfd, base, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return &os.PathError{Op: "open", Path: name, Err: err}
	}
	defer unix.Close(fd)
	hdr.Typeflag = tar.TypeDir
	hdr.Name += "/"
	if err := w.fn(hdr, nil); err != nil {
		return err
	}
	if IsOpaque(fd) {
		var st unix.Stat_t
		if err := unix.Fstat(fd, &st); err != nil {
			return &os.PathError{Op: "stat", Path: name, Err: err}
		}
		if err := w.fn(opaqueHeader(name, &st), nil); err != nil {
			return err
		}
	}
	return w.dir(fd, name)
}

// opaqueHeader is the marker Docker's ConvertWrite writes for an opaque
// directory: the directory's permissions and owner, mtime 0.
func opaqueHeader(dir string, st *unix.Stat_t) *tar.Header {
	return &tar.Header{
		Name: OpaqueName(dir), Typeflag: tar.TypeReg,
		Mode: int64(st.Mode & 0777), Uid: int(st.Uid), Gid: int(st.Gid),
		ModTime: time.Unix(0, 0), Format: tar.FormatPAX,
	}
}

func join(dir, name string) string {
	if dir == "" {
		return name
	}
	return dir + "/" + name
}
