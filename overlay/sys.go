package overlay

import (
	"os"
	"runtime"
	"sync/atomic"
	"unsafe"

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

// lgetxattrAt returns the value of attr on base in the directory dirfd,
// without following a symlink, or nil (and no error) when it is not set or
// not supported. buf is scratch space the caller keeps (the walk asks once
// per entry, and almost every answer is ENODATA); the value returned is a
// copy.
func lgetxattrAt(dirfd int, base, attr string, buf []byte) ([]byte, error) {
	for {
		n, err := getxattrAt(dirfd, base, attr, buf)
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

// noGetxattrat is set once getxattrat(2) turned out to be missing.
var noGetxattrat atomic.Bool

// getxattrAt is getxattrat(2) (Linux 6.13) with AT_SYMLINK_NOFOLLOW.
// Hand-written: x/sys has the syscall number but no wrapper. Before it,
// the only way to read an xattr of a name relative to a directory fd was
// lgetxattr on /proc/self/fd/N/NAME, whose lookup through procfs cost
// twice an openat (a quarter of `export`'s samples on 100k small files).
// On older kernels (ENOSYS) it falls back to that path for good; where a
// seccomp filter refuses the new syscall with EPERM, for that call.
func getxattrAt(dirfd int, base, attr string, buf []byte) (int, error) {
	if !noGetxattrat.Load() {
		n, err := getxattrat(dirfd, base, attr, buf)
		switch err {
		case unix.ENOSYS:
			noGetxattrat.Store(true)
		case unix.EPERM: // a seccomp filter's answer, or a real one: ask the old way
		default:
			return n, err
		}
	}
	return unix.Lgetxattr(FdPath(dirfd, base), attr, buf)
}

// xattrArgs is struct xattr_args of <linux/xattr.h>.
type xattrArgs struct {
	value uint64
	size  uint32
	flags uint32
}

func getxattrat(dirfd int, base, attr string, buf []byte) (int, error) {
	p, err := unix.BytePtrFromString(base)
	if err != nil {
		return 0, err
	}
	a, err := unix.BytePtrFromString(attr)
	if err != nil {
		return 0, err
	}
	args := xattrArgs{size: uint32(len(buf))}
	if len(buf) > 0 {
		args.value = uint64(uintptr(unsafe.Pointer(&buf[0])))
	}
	n, _, errno := unix.Syscall6(unix.SYS_GETXATTRAT, uintptr(dirfd), uintptr(unsafe.Pointer(p)),
		unix.AT_SYMLINK_NOFOLLOW, uintptr(unsafe.Pointer(a)), uintptr(unsafe.Pointer(&args)), unsafe.Sizeof(args))
	runtime.KeepAlive(buf)
	if errno != 0 {
		return 0, errno
	}
	return int(n), nil
}
