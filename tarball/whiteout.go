package tarball

import (
	"archive/tar"
	"errors"
	"os"
	"strings"

	"golang.org/x/sys/unix"
)

// AUFS whiteout names, as layer tars carry them (docker-formats.md §3.8).
const (
	whiteoutPrefix = ".wh."
	whiteoutMeta   = ".wh..wh."
	whiteoutOpaque = ".wh..wh..opq"
)

// overlayOpaqueXattr marks a directory whose lower contents are hidden.
const overlayOpaqueXattr = "trusted.overlay.opaque"

// whiteout converts an AUFS whiteout entry to its overlayfs form and reports
// whether name was one. An opaque marker sets trusted.overlay.opaque=y on its
// directory; ".wh.NAME" becomes a char device 0:0 named NAME with mode 0,
// owned by the entry's uid/gid. Neither leaves a file with the .wh. name:
// the tar form is kept only in tar-split.
//
// Other ".wh..wh." names are AUFS-internal (.wh..wh.plnk): overlay has no use
// for them, so they are skipped (Docker's overlay converter would mknod a
// device ".wh.plnk" instead; its generic unpacker skips them). Entries below
// such a directory are ordinary entries.
//
// A whiteout carrying content is refused: its bytes would have nowhere to
// live, and the layer could not be reassembled later (Docker accepts it at
// load and fails at save).
func (x *extractor) whiteout(hdr *tar.Header, name string) (bool, error) {
	dir, base := splitParent(name)
	if !strings.HasPrefix(base, whiteoutPrefix) {
		return false, nil
	}
	if hdr.Size > 0 {
		return true, errors.New("whiteout entry has content")
	}
	if strings.HasPrefix(base, whiteoutMeta) && base != whiteoutOpaque {
		return true, nil
	}
	if base == whiteoutOpaque {
		return true, inDir(x.root, dir, func(dirfd int) error {
			if err := unix.Fsetxattr(dirfd, overlayOpaqueXattr, []byte("y"), 0); err != nil {
				return &os.PathError{Op: "setxattr " + overlayOpaqueXattr, Path: rootRel(dir), Err: err}
			}
			return nil
		})
	}
	orig := strings.TrimPrefix(base, whiteoutPrefix)
	if orig == "" || orig == "." || orig == ".." {
		return true, errors.New("invalid whiteout name")
	}
	// An existing orig (the same layer also has the path) makes mknod fail
	// with EEXIST, as in Docker.
	return true, inDir(x.root, dir, func(dirfd int) error {
		if err := mknodAt(dirfd, orig, unix.S_IFCHR, 0); err != nil {
			return err
		}
		return unix.Fchownat(dirfd, orig, hdr.Uid, hdr.Gid, unix.AT_SYMLINK_NOFOLLOW)
	})
}
