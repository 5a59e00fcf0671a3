package overlay

import (
	"os"

	"golang.org/x/sys/unix"
)

// readNames lists an open directory (without "." and ".."), leaving the fd
// open for the *at calls that follow.
func readNames(fd int) ([]string, error) {
	if _, err := unix.Seek(fd, 0, 0); err != nil {
		return nil, err
	}
	buf := make([]byte, 32<<10)
	var names []string
	for {
		n, err := unix.Getdents(fd, buf)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return nil, err
		}
		if n <= 0 {
			return names, nil
		}
		_, _, names = unix.ParseDirent(buf[:n], -1, names)
	}
}

func openAt(dirfd int, base, name string) (*os.File, error) {
	fd, err := unix.Openat(dirfd, base, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_CLOEXEC|unix.O_NONBLOCK, 0)
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: name, Err: err}
	}
	return os.NewFile(uintptr(fd), name), nil
}

func readlinkAt(dirfd int, base string) (string, error) {
	for size := 256; ; size *= 2 {
		buf := make([]byte, size)
		n, err := unix.Readlinkat(dirfd, base, buf)
		if err != nil {
			return "", err
		}
		if n < size {
			return string(buf[:n]), nil
		}
	}
}

// lgetxattr returns the value of attr on p without following symlinks, or
// nil (and no error) when it is not set or not supported. buf is scratch
// space the caller keeps (the walk asks once per entry, and almost every
// answer is ENODATA); the value returned is a copy.
func lgetxattr(p, attr string, buf []byte) ([]byte, error) {
	for {
		n, err := unix.Lgetxattr(p, attr, buf)
		switch err {
		case nil:
			return append([]byte(nil), buf[:n]...), nil
		case unix.ENODATA, unix.ENOTSUP:
			return nil, nil
		case unix.ERANGE:
			if len(buf) >= 1<<20 {
				return nil, err
			}
			buf = make([]byte, len(buf)*4)
		default:
			return nil, err
		}
	}
}
