package tarball

import (
	"os"
	"time"

	"golang.org/x/sys/unix"

	"github.com/imgtool/imgtool/overlay"
)

// The operations os.Root lacks (mknod, xattrs, times on a symlink itself)
// are done with *at syscalls on a directory fd that was opened through the
// Root, with a single-component base name. The kernel then resolves nothing
// but base inside a directory already known to be within the layer, so no
// host path is ever joined.

// inParent runs fn on the parent directory of the clamped name.
func inParent(root *os.Root, clamped string, fn func(dirfd int, base string) error) error {
	dir, base := overlay.SplitParent(clamped)
	return overlay.InDir(root, dir, func(dirfd int) error { return fn(dirfd, base) })
}

func mknodAt(dirfd int, base string, mode uint32, dev uint64) error {
	if err := unix.Mknodat(dirfd, base, mode, int(dev)); err != nil {
		return &os.PathError{Op: "mknod", Path: base, Err: err}
	}
	return nil
}

func lsetxattrAt(dirfd int, base, key string, value []byte) error {
	if err := unix.Lsetxattr(overlay.FdPath(dirfd, base), key, value, 0); err != nil {
		return &os.PathError{Op: "setxattr " + key, Path: base, Err: err}
	}
	return nil
}

// utimesAt sets times without following a final symlink. Like Docker, times
// outside the range the kernel takes reliably become the Unix epoch.
func utimesAt(dirfd int, base string, atime, mtime time.Time) error {
	ts := []unix.Timespec{epochClamp(atime), epochClamp(mtime)}
	return unix.UtimesNanoAt(dirfd, base, ts, unix.AT_SYMLINK_NOFOLLOW)
}

// UnixNano must not overflow.
var maxUnixTime = time.Unix(0, 1<<63-1)

func epochClamp(t time.Time) unix.Timespec {
	if t.Before(time.Unix(0, 0)) || t.After(maxUnixTime) {
		t = time.Unix(0, 0)
	}
	return unix.NsecToTimespec(t.UnixNano())
}
