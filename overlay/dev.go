package overlay

import (
	"errors"
	"os"
	"strconv"
	"syscall"

	"golang.org/x/sys/unix"
)

// IsWhiteoutStat reports an overlay whiteout: a char device 0:0.
func IsWhiteoutStat(st *unix.Stat_t) bool {
	return st.Mode&unix.S_IFMT == unix.S_IFCHR && st.Rdev == 0
}

// IsWhiteout is IsWhiteoutStat for an os.FileInfo from Lstat.
func IsWhiteout(fi os.FileInfo) bool {
	if fi.Mode()&os.ModeCharDevice == 0 || fi.Mode()&os.ModeDevice == 0 {
		return false
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	return ok && st.Rdev == 0
}

// IsOpaque reports whether the open directory dirfd is opaque.
func IsOpaque(dirfd int) bool {
	buf := make([]byte, 4)
	n, err := unix.Fgetxattr(dirfd, OpaqueXattr, buf)
	return err == nil && n == 1 && buf[0] == 'y'
}

// IsOpaquePath reports whether the directory p is opaque (p not followed).
func IsOpaquePath(p string) bool {
	buf := make([]byte, 4)
	n, err := unix.Lgetxattr(p, OpaqueXattr, buf)
	return err == nil && n == 1 && buf[0] == 'y'
}

// InDir opens the root-relative directory dir through root and runs fn with
// its fd. Parents that are symlinks are followed only inside the root; the
// *at calls fn makes resolve nothing but a single base name, so no host path
// is ever joined.
func InDir(root *os.Root, dir string, fn func(dirfd int) error) error {
	d, err := root.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	sc, err := d.SyscallConn()
	if err != nil {
		return err
	}
	var ferr error
	if err := sc.Control(func(fd uintptr) { ferr = fn(int(fd)) }); err != nil {
		return err
	}
	return ferr
}

// FdPath names base inside an open directory via /proc, for the xattr calls
// that have no *at form. The magic link pins the directory; base is one
// component and the l*xattr calls do not follow it.
func FdPath(dirfd int, base string) string {
	return "/proc/self/fd/" + strconv.Itoa(dirfd) + "/" + base
}

// ToOverlay converts the tar entry at clamped name, if it is an AUFS
// whiteout, to its overlay form inside root and reports whether it was one.
// An opaque marker sets trusted.overlay.opaque=y on its directory (the diff
// dir itself for a root-level marker); ".wh.NAME" becomes a char device 0:0
// named NAME with mode 0, owned by uid/gid. Neither leaves a file with the
// .wh. name: the tar form is kept only in tar-split.
//
// Other ".wh..wh." names are AUFS-internal (.wh..wh.plnk): overlay has no use
// for them, so they are skipped (Docker's overlay converter would mknod a
// device ".wh.plnk" instead; its generic unpacker skips them).
//
// A whiteout carrying content is refused: its bytes would have nowhere to
// live, and the layer could not be reassembled later (Docker accepts it at
// load and fails at save). An existing NAME (the same layer also has the
// path) makes mknod fail with EEXIST, as in Docker.
func ToOverlay(root *os.Root, clamped string, size int64, uid, gid int) (bool, error) {
	dir, base := SplitParent(clamped)
	kind, orig := ParseWhiteout(base)
	switch kind {
	case NotWhiteout:
		return false, nil
	case Meta:
		return true, nonEmpty(size)
	case Invalid:
		if err := nonEmpty(size); err != nil {
			return true, err
		}
		return true, errors.New("invalid whiteout name")
	}
	if err := nonEmpty(size); err != nil {
		return true, err
	}
	if kind == Opaque {
		return true, InDir(root, dir, func(dirfd int) error {
			if err := unix.Fsetxattr(dirfd, OpaqueXattr, []byte("y"), 0); err != nil {
				return &os.PathError{Op: "setxattr " + OpaqueXattr, Path: dir, Err: err}
			}
			return nil
		})
	}
	return true, InDir(root, dir, func(dirfd int) error {
		if err := unix.Mknodat(dirfd, orig, unix.S_IFCHR, 0); err != nil {
			return &os.PathError{Op: "mknod", Path: orig, Err: err}
		}
		return unix.Fchownat(dirfd, orig, uid, gid, unix.AT_SYMLINK_NOFOLLOW)
	})
}

func nonEmpty(size int64) error {
	if size > 0 {
		return errors.New("whiteout entry has content")
	}
	return nil
}
