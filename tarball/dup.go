package tarball

import (
	"archive/tar"
	"errors"
	"io/fs"
	"path/filepath"

	"github.com/vbatts/tar-split/tar/storage"

	"github.com/imgtool/imgtool/overlay"
)

// Duplicate paths. tar-split's packer refuses a second entry whose
// filepath.Clean name it has seen (storage.ErrDuplicatePath), and Docker
// fails the load with that error; imgtool refuses the same entries, plus
// names that are the same file once clamped ("a" and "../a"), before the
// second copy is written. Docker and tar-split find them with a set of every
// name (~100 bytes a file); here, when the layer directory started empty
// (fresh), whatever sits at a name was made by this extraction, so the
// filesystem answers: mkdirat, openat(O_EXCL), mknodat, linkat and symlinkat
// report EEXIST for a name already made (see isDuplicate). Only what the
// filesystem cannot tell is kept in memory:
//   - dirs made by an entry (x.known: entryDir), as against parents that
//     ensureParent made, which a later entry of that name may still claim;
//   - names written through a symlink this extraction made (clear removes
//     what is there, which may be another name's file);
//   - entries that make nothing at their own name (the layer root, global
//     PAX headers, overlay meta whiteouts), by tar-split's filepath.Clean name.
//
// Into a directory that was not empty (transfer's cp), the filesystem cannot
// tell old from new: every clamped name is kept, as before.

// dirOrigin says who made a directory this extraction knows.
type dirOrigin uint8

const (
	parentDir dirOrigin = iota + 1 // made by ensureParent for a deeper entry
	entryDir                       // made or merged by a directory entry
)

// dupGuard holds the name sets described above; nil sets are empty.
type dupGuard struct {
	every      map[string]struct{} // not fresh: every clamped name
	viaSymlink map[string]struct{} // fresh: clamped names below a symlink we made
	traceless  map[string]struct{} // filepath.Clean names that left no file
	meta       map[string]struct{} // clamped names of overlay meta whiteouts
}

// addTo reports whether key was already in *set, adding it otherwise.
func addTo(set *map[string]struct{}, key string) (dup bool) {
	if _, dup = (*set)[key]; dup {
		return true
	}
	if *set == nil {
		*set = map[string]struct{}{}
	}
	(*set)[key] = struct{}{}
	return false
}

// checkName refuses an entry that makes a file at the clamped name when an
// earlier entry is known to have made it; the rest is left to EEXIST.
func (x *extractor) checkName(hdr *tar.Header, name string) error {
	if _, dup := x.dup.traceless[filepath.Clean(hdr.Name)]; dup {
		return storage.ErrDuplicatePath
	}
	if !x.fresh {
		if addTo(&x.dup.every, name) {
			return storage.ErrDuplicatePath
		}
		return nil
	}
	if x.known[name] == entryDir {
		return storage.ErrDuplicatePath
	}
	if x.underSymlink(name) && addTo(&x.dup.viaSymlink, name) {
		return storage.ErrDuplicatePath
	}
	if x.opts.Overlay && isOpaqueMarker(name) && x.hasOpaqueXattr(name) {
		return storage.ErrDuplicatePath // a second .wh..wh..opq in its directory
	}
	return nil
}

// checkTraceless refuses an entry that makes nothing at its own name (hdr
// is the layer root, a global header or a meta whiteout) when an earlier
// entry had its name.
func (x *extractor) checkTraceless(hdr *tar.Header, name string) error {
	if addTo(&x.dup.traceless, filepath.Clean(hdr.Name)) {
		return storage.ErrDuplicatePath
	}
	if name == "" {
		return nil
	}
	if !x.fresh {
		if addTo(&x.dup.every, name) {
			return storage.ErrDuplicatePath
		}
		return nil
	}
	if isMetaWhiteout(name) && addTo(&x.dup.meta, name) {
		return storage.ErrDuplicatePath // the same once clamped, as for files
	}
	if x.known[name] == entryDir {
		return storage.ErrDuplicatePath
	}
	if x.known[name] == 0 {
		if _, err := x.root.Lstat(name); err == nil {
			return storage.ErrDuplicatePath
		}
	}
	return nil
}

// isDuplicate turns the EEXIST of creating a name in a fresh layer into
// tar-split's error: clear found nothing there before this extraction, so
// an earlier entry made it (the same name, the same name once clamped, or
// the file an overlay whiteout of that name made).
func (x *extractor) isDuplicate(err error) error {
	if x.fresh && errors.Is(err, fs.ErrExist) {
		return storage.ErrDuplicatePath
	}
	return err
}

func isOpaqueMarker(name string) bool {
	_, base := overlay.SplitParent(name)
	kind, _ := overlay.ParseWhiteout(base)
	return kind == overlay.Opaque
}

func isMetaWhiteout(name string) bool {
	_, base := overlay.SplitParent(name)
	kind, _ := overlay.ParseWhiteout(base)
	return kind == overlay.Meta
}

// hasOpaqueXattr reports whether the directory of the opaque marker name is
// opaque already: in a fresh layer only an earlier marker makes it so
// (archives' trusted.* xattrs are never set, see keepXattr).
func (x *extractor) hasOpaqueXattr(name string) bool {
	dir, _ := overlay.SplitParent(name)
	opaque := false
	overlay.InDir(x.root, dir, func(dirfd int) error {
		opaque = overlay.IsOpaque(dirfd)
		return nil
	})
	return opaque
}
