package tarball

import (
	"archive/tar"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"slices"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/imgtool/imgtool/overlay"
)

// extractor writes tar entries into a layer directory with the semantics of
// Docker's createTarFile (docker-formats.md §3.8), confined by an os.Root.
// Entries are created through the Root; their metadata is then set with *at
// calls on the parent directory's fd (see sysat.go).
type extractor struct {
	root *os.Root
	// chain serves the parent directory fds of consecutive entries
	// (dirchain.go); the os.Root is the fallback and does the rest.
	chain *overlay.DirChain
	opts  ApplyOptions
	// unprivileged: see diskMode.
	unprivileged bool
	buf          *[]byte // from extractBufs, until putBuf
	// dup holds the few names duplicate detection cannot leave to the
	// filesystem (dup.go).
	dup dupGuard
	// known holds the directories this extraction made or merged, so a
	// parent is not looked up again (each os.Root lookup walks the whole
	// path with openat). fresh says the target started empty: then the only
	// thing that can already sit at a new entry's name is a known directory
	// (or an earlier entry's file: a duplicate, see dup.go).
	known    map[string]dirOrigin
	fresh    bool
	symlinks map[string]bool // symlinks this extraction made
	// dirs get their times after all entries: creating children would
	// otherwise move the mtime again.
	dirs []dirTimes
	// size is the layer's DirSize as the entries make it (see
	// sizeAsWritten), exact while nothing has been removed.
	size      int64
	sizeExact bool
}

type dirTimes struct {
	name         string
	atime, mtime time.Time
}

func newExtractor(root *os.Root, opts ApplyOptions) (*extractor, error) {
	chain, err := overlay.NewDirChain(root)
	if err != nil {
		return nil, err
	}
	x := &extractor{
		root:         root,
		chain:        chain,
		opts:         opts,
		unprivileged: os.Geteuid() != 0,
		buf:          extractBufs.get(),
		known:        map[string]dirOrigin{},
		symlinks:     map[string]bool{},
	}
	x.fresh = isEmptyDir(root)
	x.sizeExact = x.fresh
	return x, nil
}

// sizeAsWritten is the layer's DirSize without walking it: the sum of what
// the entries made. In a directory that started empty, where nothing was
// removed, every non-directory on disk is one entry's: a regular file
// holds the bytes written, a symlink its target's length, a hard link adds
// no inode, devices, fifos and whiteouts are empty. Otherwise (a removal
// could take away bytes already counted) it walks. The walk was one fstatat
// a file plus a getdents and an open a directory, after the extraction
// (TestApplySizeMatchesWalk compares the two).
func (x *extractor) sizeAsWritten(dir string) (int64, error) {
	if x.sizeExact {
		return x.size, nil
	}
	return DirSize(dir)
}

// putBuf gives the copy buffer back once the entries are written.
func (x *extractor) putBuf() {
	extractBufs.put(x.buf)
	x.buf = nil
}

// inParent runs fn on the parent directory of the clamped name: an fd from
// the chain, else one opened through the os.Root.
func (x *extractor) inParent(name string, fn func(dirfd int, base string) error) error {
	dir, base := overlay.SplitParent(name)
	if fd, ok := x.chain.Open(dir); ok {
		return fn(fd, base)
	}
	return inParent(x.root, name, fn)
}

// isEmptyDir reports whether the root directory has no entries.
func isEmptyDir(root *os.Root) bool {
	d, err := root.Open(".")
	if err != nil {
		return false
	}
	defer d.Close()
	names, err := d.Readdirnames(1)
	return len(names) == 0 && errors.Is(err, io.EOF)
}

// diskMode is the permission bits (with setuid/setgid/sticky) to give the
// entry. Without root, permission checks apply to us: a directory without
// owner rwx could not take its content, nor be walked for the size, and a
// file without owner read could not be reassembled. So unprivileged, those
// owner bits are kept; the tar's exact mode lives on in tar-split.
func (x *extractor) diskMode(hdr *tar.Header) uint32 {
	mode := uint32(hdr.Mode & 0o7777)
	if x.unprivileged {
		switch hdr.Typeflag {
		case tar.TypeDir:
			mode |= 0o700
		case tar.TypeReg, tar.TypeLink:
			mode |= 0o400
		}
	}
	return mode
}

// entry applies one tar entry whose content is read from r.
func (x *extractor) entry(hdr *tar.Header, r io.Reader) error {
	if hdr.Typeflag == tar.TypeXGlobalHeader {
		// Docker ignores global PAX headers; tar-split keeps the bytes.
		return x.checkTraceless(hdr, overlay.Clean(hdr.Name))
	}
	name := overlay.Clean(hdr.Name)
	if name == "" {
		// "./" and friends: the layer root already exists; Docker skips it.
		if hdr.Typeflag == tar.TypeDir {
			return x.checkTraceless(hdr, name)
		}
		return errors.New("a non-directory cannot replace the layer root")
	}
	if x.opts.Overlay && isMetaWhiteout(name) {
		if err := x.checkTraceless(hdr, name); err != nil {
			return err
		}
	} else if err := x.checkName(hdr, name); err != nil {
		return err
	}

	if err := x.ensureParent(name); err != nil {
		return err
	}
	if x.opts.Overlay {
		if done, err := overlay.ToOverlay(x.root, name, hdr.Size, hdr.Uid, hdr.Gid); done {
			return x.isDuplicate(err)
		}
	}
	existingDir, err := x.clear(name, hdr.Typeflag == tar.TypeDir)
	if err != nil {
		return err
	}
	if err := x.create(hdr, name, r, existingDir); err != nil {
		return x.isDuplicate(err)
	}
	return x.setMetadata(hdr, name)
}

// ensureParent creates missing parent directories 0755 (before umask), owned
// by root when chowning, as Docker's MkdirAllAndChownNew does.
func (x *extractor) ensureParent(name string) error {
	dir, _ := overlay.SplitParent(name)
	if dir == "." || x.known[dir] != 0 {
		return nil
	}
	if _, err := x.root.Lstat(dir); !errors.Is(err, fs.ErrNotExist) {
		return nil // present, or an error the create step will report
	}
	for i := 0; i <= len(dir); i++ {
		if i < len(dir) && dir[i] != '/' {
			continue
		}
		p := dir[:i]
		if _, err := x.root.Lstat(p); !errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err := x.root.Mkdir(p, 0o755); err != nil {
			return err
		}
		x.known[p] = parentDir
		if x.opts.Chown {
			if err := x.root.Lchown(p, 0, 0); err != nil {
				return err
			}
		}
	}
	return nil
}

// clear removes what is at name unless both it and the new entry are
// directories, in which case they merge. It reports that merge case.
func (x *extractor) clear(name string, newIsDir bool) (existingDir bool, err error) {
	if x.fresh && x.known[name] == 0 && !x.underSymlink(name) {
		return false, nil // nothing was there before us, nor made by us
	}
	fi, err := x.root.Lstat(name)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	if fi.IsDir() && newIsDir {
		return true, nil
	}
	x.forget(name)
	x.chain.Invalidate(name)
	x.sizeExact = false
	return false, x.root.RemoveAll(name)
}

// underSymlink reports whether a parent of name is a symlink we made.
func (x *extractor) underSymlink(name string) bool {
	if len(x.symlinks) == 0 {
		return false
	}
	for i := 0; i < len(name); i++ {
		if name[i] == '/' && x.symlinks[name[:i]] {
			return true
		}
	}
	return false
}

// forget drops name and everything below it from the known directories.
func (x *extractor) forget(name string) {
	for k := range x.known {
		if k == name || strings.HasPrefix(k, name+"/") {
			delete(x.known, k)
		}
	}
}

// create makes the filesystem object for hdr at name (which is free).
func (x *extractor) create(hdr *tar.Header, name string, r io.Reader, existingDir bool) error {
	switch hdr.Typeflag {
	case tar.TypeDir:
		x.known[name] = entryDir
		if existingDir {
			return nil
		}
		// The final mode is set by setMetadata.
		return x.inParent(name, func(dirfd int, base string) error {
			if err := unix.Mkdirat(dirfd, base, 0o700); err != nil {
				return &os.PathError{Op: "mkdirat", Path: name, Err: err}
			}
			return nil
		})
	case tar.TypeReg:
		return x.writeFile(name, r)
	case tar.TypeChar, tar.TypeBlock, tar.TypeFifo:
		return x.mknod(hdr, name)
	case tar.TypeLink:
		// Resolved inside the root, like the chroot Docker links in. A target
		// missing from the layer fails, it is never looked up on the host.
		return x.root.Link(overlay.RootRel(overlay.Clean(hdr.Linkname)), name)
	case tar.TypeSymlink:
		// The target is stored as is; os.Root refuses to follow it outside
		// the root if a later entry tries to write through it. A later name
		// below it may reach an existing file: clear looks those up.
		x.symlinks[name] = true
		return x.inParent(name, func(dirfd int, base string) error {
			if err := unix.Symlinkat(hdr.Linkname, dirfd, base); err != nil {
				return &os.PathError{Op: "symlinkat", Path: name, Err: err}
			}
			x.size += int64(len(hdr.Linkname)) // a symlink's lstat size
			return nil
		})
	}
	return fmt.Errorf("unhandled tar header type %q", hdr.Typeflag)
}

func (x *extractor) writeFile(name string, r io.Reader) error {
	// O_EXCL: the name was just cleared, and O_EXCL never follows a symlink.
	return x.inParent(name, func(dirfd int, base string) error {
		fd, err := unix.Openat(dirfd, base, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o600)
		if err != nil {
			return &os.PathError{Op: "openat", Path: name, Err: err}
		}
		n, err := io.CopyBuffer(overlay.FdWriter(fd), r, *x.buf)
		x.size += n
		if cerr := unix.Close(fd); err == nil && cerr != nil {
			err = &os.PathError{Op: "close", Path: name, Err: cerr}
		}
		return err
	})
}

// mknod creates devices and fifos. Unprivileged, devices cannot be made: an
// empty regular file stands in (tar-split still has the real header, so the
// layer tar is regenerated unchanged).
func (x *extractor) mknod(hdr *tar.Header, name string) error {
	mode := uint32(hdr.Mode & 0o7777)
	switch hdr.Typeflag {
	case tar.TypeChar:
		mode |= unix.S_IFCHR
	case tar.TypeBlock:
		mode |= unix.S_IFBLK
	default:
		mode |= unix.S_IFIFO
	}
	dev := unix.Mkdev(uint32(hdr.Devmajor), uint32(hdr.Devminor))
	err := x.inParent(name, func(dirfd int, base string) error {
		return mknodAt(dirfd, base, mode, dev)
	})
	if errors.Is(err, unix.EPERM) {
		return x.writeFile(name, strings.NewReader(""))
	}
	return err
}

// setMetadata applies owner, xattrs, mode and times, in Docker's order:
// chown first (it clears setuid bits and file capabilities), then xattrs,
// then chmod, then times. Symlinks keep their mode; so does the target of a
// hard link to a symlink, whose times are also left alone (as Docker does).
func (x *extractor) setMetadata(hdr *tar.Header, name string) error {
	symlink := hdr.Typeflag == tar.TypeSymlink
	if hdr.Typeflag == tar.TypeLink {
		x.inParent(name, func(dirfd int, base string) error {
			var st unix.Stat_t
			if unix.Fstatat(dirfd, base, &st, unix.AT_SYMLINK_NOFOLLOW) == nil && st.Mode&unix.S_IFMT == unix.S_IFLNK {
				symlink = true
			}
			return nil
		})
	}
	mode := x.diskMode(hdr)
	atime := hdr.AccessTime
	if atime.Before(hdr.ModTime) {
		atime = hdr.ModTime
	}
	isDir := hdr.Typeflag == tar.TypeDir
	err := x.inParent(name, func(dirfd int, base string) error {
		if x.opts.Chown {
			if err := unix.Fchownat(dirfd, base, hdr.Uid, hdr.Gid, unix.AT_SYMLINK_NOFOLLOW); err != nil {
				return fmt.Errorf("lchown: %w", err)
			}
		}
		if err := setXattrs(dirfd, base, hdr.PAXRecords); err != nil {
			return err
		}
		if !symlink {
			if err := unix.Fchmodat(dirfd, base, mode, 0); err != nil {
				return fmt.Errorf("chmod: %w", err)
			}
		}
		if isDir || (symlink && hdr.Typeflag == tar.TypeLink) {
			return nil
		}
		if err := utimesAt(dirfd, base, atime, hdr.ModTime); err != nil {
			return fmt.Errorf("utimes: %w", err)
		}
		return nil
	})
	if err == nil && isDir {
		x.dirs = append(x.dirs, dirTimes{name: name, atime: atime, mtime: hdr.ModTime})
	}
	return err
}

const xattrPAXPrefix = "SCHILY.xattr."

// keepXattr reports whether an xattr a layer carries may be set on disk.
// Overlay metadata (trusted.overlay.opaque, redirect, metacopy, origin) must
// come only from the layer's whiteouts, never from an archive's xattrs, or an
// archive could hide or redirect the files of the layers below it; other
// trusted.* and security.* names (selinux labels, IMA/EVM) are host policy,
// not image content, and system.nfs4_acl is host-specific. Only
// security.capability is image content among them (umoci drops the same set).
func keepXattr(name string) bool {
	switch {
	case name == "security.capability":
		return true
	case strings.HasPrefix(name, "trusted."), strings.HasPrefix(name, "security."), name == "system.nfs4_acl":
		return false
	}
	return true
}

// setXattrs applies the SCHILY.xattr.* records that keepXattr allows, in
// key order. Filesystems or privileges that refuse an xattr (ENOTSUP, EPERM)
// are not fatal, as in Docker: user.* on a symlink or security.* when
// unprivileged just drop. The dropped ones stay in tar-split, so the layer
// still reassembles byte for byte.
func setXattrs(dirfd int, base string, recs map[string]string) error {
	var keys []string
	for k := range recs {
		if attr, ok := strings.CutPrefix(k, xattrPAXPrefix); ok && keepXattr(attr) {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	for _, k := range keys {
		attr := strings.TrimPrefix(k, xattrPAXPrefix)
		err := lsetxattrAt(dirfd, base, attr, []byte(recs[k]))
		if err != nil && !errors.Is(err, unix.ENOTSUP) && !errors.Is(err, unix.EPERM) {
			return err
		}
	}
	return nil
}

// finish applies the deferred directory times. A directory that a later
// entry removed (by replacing a parent) is skipped.
func (x *extractor) finish() error {
	for _, d := range x.dirs {
		err := x.inParent(d.name, func(dirfd int, base string) error {
			return utimesAt(dirfd, base, d.atime, d.mtime)
		})
		if errors.Is(err, fs.ErrNotExist) || errors.Is(err, unix.ENOTDIR) {
			continue
		}
		if err != nil {
			return fmt.Errorf("layer entry %q: utimes: %w", d.name, err)
		}
	}
	return nil
}
