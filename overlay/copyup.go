package overlay

import (
	"fmt"
	"os"
	"syscall"

	"golang.org/x/sys/unix"
)

// CopyUpDir creates the directory rel in upper (its parent must exist there)
// with the mode, owner and times rel has in the merged view of dirs (bottom
// first; upper may be the top one), as overlayfs's copy-up gives it. It
// reports false, creating nothing, when the merged view has no directory rel.
// Container creation (the init layer's /etc and /dev) and cp (the parents of
// what it writes) both copy up through it.
func CopyUpDir(dirs []string, upper, rel string) (bool, error) {
	rel = Clean(rel)
	_, fi, ok := Lookup(dirs, rel)
	if !ok || !fi.IsDir() || rel == "" {
		return false, nil
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return false, fmt.Errorf("copy-up of /%s: no stat", rel)
	}
	r, err := os.OpenRoot(upper)
	if err != nil {
		return false, err
	}
	defer r.Close()
	if err := r.Mkdir(rel, 0o700); err != nil {
		return false, err
	}
	dir, base := SplitParent(rel)
	return true, InDir(r, dir, func(dirfd int) error {
		// Owner first: chown may clear setgid, chmod then sets every bit.
		if err := unix.Fchownat(dirfd, base, int(st.Uid), int(st.Gid), unix.AT_SYMLINK_NOFOLLOW); err != nil {
			return &os.PathError{Op: "chown", Path: rel, Err: err}
		}
		if err := unix.Fchmodat(dirfd, base, st.Mode&0o7777, 0); err != nil {
			return &os.PathError{Op: "chmod", Path: rel, Err: err}
		}
		ts := []unix.Timespec{unix.Timespec(st.Atim), unix.Timespec(st.Mtim)}
		return unix.UtimesNanoAt(dirfd, base, ts, unix.AT_SYMLINK_NOFOLLOW)
	})
}
