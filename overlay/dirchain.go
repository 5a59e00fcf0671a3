package overlay

import (
	"errors"
	"io"
	"os"
	"strings"

	"golang.org/x/sys/unix"
)

// DirChain keeps the directories on the path of the last entry open, so
// the next entry in the same directory (the common case: a tar lists a
// directory's files together, and readers go in tar order) costs one *at
// call on its parent's fd instead of an os.Root walk of every component
// (each an openat, a close and, for an *os.File, an fcntl): a 6.8k-entry
// rootfs took 67k openat and 53k fcntl that way.
//
// Confinement is unchanged: a directory enters the chain only by an
// openat(O_NOFOLLOW|O_DIRECTORY) of one component relative to the root or
// to a directory already in the chain, so it is the real directory at that
// path, never reached through a symlink. Whatever cannot be opened that
// way (a symlinked parent, a missing one, a tree deeper than maxChain)
// reports ok=false and the caller goes through the os.Root as before,
// which gives the same errors and the same symlink handling. A writer
// keeps the chain true by calling Invalidate before every removal; a
// reader needs nothing, as nobody renames or removes a layer's directories
// while it is read.
type DirChain struct {
	rootfd int
	names  []string // clamped paths, each the parent of the next
	fds    []int
}

// maxChain bounds the open fds (a hostile tree may be thousands deep).
const maxChain = 64

// NewDirChain starts a chain at root's directory.
func NewDirChain(root *os.Root) (*DirChain, error) {
	d, err := root.Open(".")
	if err != nil {
		return nil, err
	}
	defer d.Close()
	sc, err := d.SyscallConn()
	if err != nil {
		return nil, err
	}
	c := &DirChain{rootfd: -1}
	var derr error
	if err := sc.Control(func(fd uintptr) { c.rootfd, derr = unix.FcntlInt(fd, unix.F_DUPFD_CLOEXEC, 0) }); err != nil {
		return nil, err
	}
	return c, derr
}

// Open returns an fd of the clamped directory dir ("." for the root), owned
// by the chain and valid until the next Open, Invalidate or Close.
func (c *DirChain) Open(dir string) (int, bool) {
	if dir == "." {
		return c.rootfd, true
	}
	k := 0
	for k < len(c.names) && within(dir, c.names[k]) {
		k++
	}
	c.truncate(k)
	fd, done := c.rootfd, 0
	if k > 0 {
		fd, done = c.fds[k-1], len(c.names[k-1])+1
	}
	for done < len(dir)+1 {
		end := strings.IndexByte(dir[done:], '/')
		if end < 0 {
			end = len(dir)
		} else {
			end += done
		}
		if len(c.fds) == maxChain {
			return -1, false
		}
		next, err := unix.Openat(fd, dir[done:end], unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
		if err != nil {
			return -1, false
		}
		c.names = append(c.names, dir[:end])
		c.fds = append(c.fds, next)
		fd, done = next, end+1
	}
	return fd, true
}

// within reports whether p is dir or below it.
func within(p, dir string) bool {
	return p == dir || len(p) > len(dir) && p[len(dir)] == '/' && strings.HasPrefix(p, dir)
}

// Invalidate drops name and what is below it: it is about to be removed.
func (c *DirChain) Invalidate(name string) {
	for k := range c.names {
		if within(c.names[k], name) {
			c.truncate(k)
			return
		}
	}
}

func (c *DirChain) truncate(k int) {
	for _, fd := range c.fds[k:] {
		unix.Close(fd)
	}
	c.names, c.fds = c.names[:k], c.fds[:k]
}

// Close closes every fd of the chain.
func (c *DirChain) Close() {
	c.truncate(0)
	if c.rootfd >= 0 {
		unix.Close(c.rootfd)
		c.rootfd = -1
	}
}

// FdWriter writes to a raw fd: wrapping it in an *os.File would cost an
// fcntl per file for the poller check.
type FdWriter int

func (w FdWriter) Write(p []byte) (int, error) {
	n := 0
	for n < len(p) {
		m, err := unix.Write(int(w), p[n:])
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return n, &os.PathError{Op: "write", Path: "layer file", Err: err}
		}
		n += m
	}
	return n, nil
}

// FdReader reads a raw fd (see FdWriter).
type FdReader int

func (r FdReader) Read(p []byte) (int, error) {
	for {
		n, err := unix.Read(int(r), p)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return 0, &os.PathError{Op: "read", Path: "layer file", Err: err}
		}
		if n == 0 && len(p) > 0 {
			return 0, io.EOF
		}
		return n, nil
	}
}

// Close closes the fd.
func (r FdReader) Close() error { return unix.Close(int(r)) }

// OpenRegular opens the regular file at the clamped name for reading and
// returns it with its size; anything but a regular file is an error. The
// fast path is one openat(O_NOFOLLOW) on the parent's fd from chain; any
// failure there (a symlink, a missing parent) is retried through root's
// OpenFile, which resolves symlinks inside the root, so the result is the
// same as with the os.Root alone. O_NONBLOCK keeps a fifo from blocking
// the open.
func OpenRegular(root *os.Root, chain *DirChain, name string) (io.ReadCloser, int64, error) {
	dir, base := SplitParent(name)
	if dirfd, ok := chain.Open(dir); ok {
		fd, err := unix.Openat(dirfd, base, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
		if err == nil {
			var st unix.Stat_t
			if err := unix.Fstat(fd, &st); err == nil && st.Mode&unix.S_IFMT == unix.S_IFREG {
				return FdReader(fd), st.Size, nil
			}
			unix.Close(fd)
		}
	}
	f, err := root.OpenFile(RootRel(name), os.O_RDONLY|unix.O_NONBLOCK, 0)
	if err != nil {
		return nil, 0, err
	}
	fi, err := f.Stat()
	if err == nil && !fi.Mode().IsRegular() {
		err = errNotRegular
	}
	if err != nil {
		f.Close()
		return nil, 0, err
	}
	return f, fi.Size(), nil
}

var errNotRegular = errors.New("not a regular file")
