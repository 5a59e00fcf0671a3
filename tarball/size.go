package tarball

import (
	"os"

	"golang.org/x/sys/unix"
)

// DirSize computes a layer's size the way Docker's directory.Size does
// (docker-formats.md §3.6): the lstat sizes of every non-directory entry with
// a size above zero, each inode counted once (hard links), so symlinks count
// their target's length and whiteout devices nothing. The walk goes through
// directory fds opened without following symlinks.
func DirSize(dir string) (int64, error) {
	root, err := os.OpenRoot(dir)
	if err != nil {
		return 0, err
	}
	defer root.Close()
	d, err := root.Open(".")
	if err != nil {
		return 0, err
	}
	seen := map[uint64]struct{}{}
	var size int64
	err = dirSize(d, seen, &size)
	return size, err
}

// dirSize adds d's entries to size and closes d.
func dirSize(d *os.File, seen map[uint64]struct{}, size *int64) error {
	defer d.Close()
	for {
		names, err := d.Readdirnames(1024)
		if len(names) == 0 {
			return nil // io.EOF or an empty directory
		}
		if err != nil {
			return err
		}
		for _, name := range names {
			if err := entrySize(d, name, seen, size); err != nil {
				return err
			}
		}
	}
}

func entrySize(d *os.File, name string, seen map[uint64]struct{}, size *int64) error {
	sc, err := d.SyscallConn()
	if err != nil {
		return err
	}
	var st unix.Stat_t
	var sub int
	var opErr error
	err = sc.Control(func(fd uintptr) {
		opErr = unix.Fstatat(int(fd), name, &st, unix.AT_SYMLINK_NOFOLLOW)
		if opErr == nil && st.Mode&unix.S_IFMT == unix.S_IFDIR {
			sub, opErr = unix.Openat(int(fd), name, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
		}
	})
	if err == nil {
		err = opErr
	}
	if err != nil {
		if err == unix.ENOENT {
			return nil // vanished while walking; Docker ignores these too
		}
		return &os.PathError{Op: "lstat", Path: d.Name() + "/" + name, Err: err}
	}
	if st.Mode&unix.S_IFMT == unix.S_IFDIR {
		return dirSize(os.NewFile(uintptr(sub), d.Name()+"/"+name), seen, size)
	}
	if st.Size <= 0 {
		return nil
	}
	// Only an inode with more than one link can be met again: keeping the
	// others (as Docker's DirSize does) made the set grow with every file.
	if st.Nlink > 1 {
		if _, dup := seen[st.Ino]; dup {
			return nil
		}
		seen[st.Ino] = struct{}{}
	}
	*size += st.Size
	return nil
}
