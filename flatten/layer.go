package flatten

import (
	"archive/tar"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"syscall"
	"time"
	"unsafe"
)

// A Layer is one layer of the stack, bottom first.
type Layer interface {
	// Open returns the layer's uncompressed tar stream (AUFS-style .wh.
	// whiteouts). Flatten calls it at most twice: once for the header pass
	// and once, if the layer contributes file content, for the content pass.
	// Both calls must return the same bytes.
	Open() (io.ReadCloser, error)
}

// contentLayer is implemented by layers that can serve regular-file content by
// name (random access), so the content pass need not re-read the tar.
type contentLayer interface {
	openContent(name string) (io.ReadCloser, int64, error)
}

type tarLayer struct {
	open func() (io.ReadCloser, error)
}

// TarLayer returns a layer whose tar stream is produced by open.
func TarLayer(open func() (io.ReadCloser, error)) Layer { return tarLayer{open} }

func (l tarLayer) Open() (io.ReadCloser, error) { return l.open() }

// DirLayer returns a layer given as an overlayfs upper directory (for example
// a container's rw dir or a store layer's diff dir): a character device 0:0 is
// a whiteout and a directory with xattr trusted.overlay.opaque=y is opaque.
// Its Open produces a tar in lexical walk order with AUFS-style whiteouts
// (like Docker's overlay ConvertWrite: `.wh.NAME` with mode 0600, and
// `D/.wh..wh..opq` right after D). Other overlay xattrs (redirect, metacopy,
// origin) are ignored; Docker disables redirect_dir and metacopy.
// Flatten reads regular-file content from the directory by path.
func DirLayer(dir string) Layer { return dirLayer{dir} }

type dirLayer struct{ root string }

func (l dirLayer) Open() (io.ReadCloser, error) {
	if _, err := os.Stat(l.root); err != nil {
		return nil, err
	}
	pr, pw := io.Pipe()
	go func() {
		tw := tar.NewWriter(pw)
		err := walkDir(l.root, func(hdr *tar.Header, content string) error {
			if err := tw.WriteHeader(hdr); err != nil || content == "" {
				return err
			}
			f, err := os.Open(content)
			if err != nil {
				return err
			}
			defer f.Close()
			return copyExact(tw, f, hdr.Size)
		})
		if err == nil {
			err = tw.Close()
		}
		pw.CloseWithError(err)
	}()
	return pr, nil
}

// headers calls fn for each header Open would produce, without reading
// file content.
func (l dirLayer) headers(fn func(*tar.Header) error) error {
	return walkDir(l.root, func(hdr *tar.Header, _ string) error { return fn(hdr) })
}

func (l dirLayer) openContent(name string) (io.ReadCloser, int64, error) {
	root, err := os.OpenRoot(l.root)
	if err != nil {
		return nil, 0, err
	}
	defer root.Close()
	f, err := root.Open(filepath.FromSlash(name))
	if err != nil {
		return nil, 0, err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, 0, err
	}
	if !fi.Mode().IsRegular() {
		f.Close()
		return nil, 0, &fs.PathError{Op: "open", Path: name, Err: syscall.EINVAL}
	}
	return f, fi.Size(), nil
}

const (
	whPrefix    = ".wh."
	whMetaPfx   = ".wh..wh."
	whOpaque    = ".wh..wh..opq"
	xattrPrefix = "SCHILY.xattr."
	capXattr    = "security.capability"
)

// walkDir walks the overlay upper dir root in lexical order and calls fn with
// each layer tar header and, for regular files, the path holding the content.
func walkDir(root string, fn func(hdr *tar.Header, content string) error) error {
	seen := map[[2]uint64]string{} // (dev, ino) → first path
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if p == root {
			return nil
		}
		rel, err := filepath.Rel(root, p)
		if err != nil {
			return err
		}
		name := filepath.ToSlash(rel)
		fi, err := os.Lstat(p)
		if err != nil {
			return err
		}
		st, _ := fi.Sys().(*syscall.Stat_t)
		hdr := &tar.Header{
			Name:    name,
			Mode:    int64(fi.Mode().Perm()),
			ModTime: time.Unix(fi.ModTime().Unix(), 0),
			Format:  tar.FormatPAX,
		}
		if st != nil {
			hdr.Uid, hdr.Gid = int(st.Uid), int(st.Gid)
			hdr.Mode = int64(st.Mode & 07777)
		}
		mode := fi.Mode()
		// Whiteout: char device 0:0. Checked before hard-link bookkeeping
		// because the kernel shares one whiteout inode between them.
		if mode&fs.ModeCharDevice != 0 && st != nil && st.Rdev == 0 {
			hdr.Name = path.Join(path.Dir(name), whPrefix+path.Base(name))
			hdr.Typeflag = tar.TypeReg
			hdr.Mode = 0600
			return fn(hdr, "")
		}
		if caps, err := lgetxattr(p, capXattr); err == nil && caps != nil {
			hdr.PAXRecords = map[string]string{xattrPrefix + capXattr: string(caps)}
		}
		var content string
		switch {
		case mode.IsDir():
			hdr.Typeflag = tar.TypeDir
			hdr.Name += "/"
		case st != nil && st.Nlink > 1 && seen[[2]uint64{uint64(st.Dev), st.Ino}] != "":
			hdr.Typeflag = tar.TypeLink
			hdr.Linkname = seen[[2]uint64{uint64(st.Dev), st.Ino}]
		case mode.IsRegular():
			hdr.Typeflag = tar.TypeReg
			hdr.Size = fi.Size()
			content = p
		case mode&fs.ModeSymlink != 0:
			hdr.Typeflag = tar.TypeSymlink
			if hdr.Linkname, err = os.Readlink(p); err != nil {
				return err
			}
		case mode&fs.ModeNamedPipe != 0:
			hdr.Typeflag = tar.TypeFifo
		case mode&fs.ModeDevice != 0:
			hdr.Typeflag = tar.TypeBlock
			if mode&fs.ModeCharDevice != 0 {
				hdr.Typeflag = tar.TypeChar
			}
			if st != nil {
				hdr.Devmajor, hdr.Devminor = devMajor(uint64(st.Rdev)), devMinor(uint64(st.Rdev))
			}
		default:
			return nil // sockets are not archived (Docker skips them too)
		}
		if st != nil && !mode.IsDir() && st.Nlink > 1 && hdr.Typeflag != tar.TypeLink {
			seen[[2]uint64{uint64(st.Dev), st.Ino}] = name
		}
		if err := fn(hdr, content); err != nil {
			return err
		}
		if mode.IsDir() {
			if v, err := lgetxattr(p, "trusted.overlay.opaque"); err == nil && string(v) == "y" {
				return fn(&tar.Header{
					Name: name + "/" + whOpaque, Typeflag: tar.TypeReg,
					Mode: hdr.Mode & 0777, Uid: hdr.Uid, Gid: hdr.Gid,
					ModTime: time.Unix(0, 0), Format: tar.FormatPAX,
				}, "")
			}
		}
		return nil
	})
	return err
}

func devMajor(dev uint64) int64 {
	return int64(((dev >> 8) & 0xfff) | ((dev >> 32) & 0xfffff000))
}

func devMinor(dev uint64) int64 {
	return int64((dev & 0xff) | ((dev >> 12) & 0xffffff00))
}

// lgetxattr returns the value of attr on p without following symlinks, or
// nil (and no error) when it is not set or not supported.
func lgetxattr(p, attr string) ([]byte, error) {
	pp, err := syscall.BytePtrFromString(p)
	if err != nil {
		return nil, err
	}
	ap, err := syscall.BytePtrFromString(attr)
	if err != nil {
		return nil, err
	}
	buf := make([]byte, 256)
	for {
		var bp unsafe.Pointer
		if len(buf) > 0 {
			bp = unsafe.Pointer(&buf[0])
		}
		n, _, errno := syscall.Syscall6(syscall.SYS_LGETXATTR, uintptr(unsafe.Pointer(pp)),
			uintptr(unsafe.Pointer(ap)), uintptr(bp), uintptr(len(buf)), 0, 0)
		switch errno {
		case 0:
			return buf[:n], nil
		case syscall.ENODATA, syscall.ENOTSUP:
			return nil, nil
		case syscall.ERANGE:
			buf = make([]byte, len(buf)*4)
			if len(buf) > 1<<20 {
				return nil, errno
			}
			continue
		default:
			return nil, errno
		}
	}
}

// trimName reports whether base is a whiteout name.
func isWhiteout(base string) bool { return strings.HasPrefix(base, whPrefix) }
