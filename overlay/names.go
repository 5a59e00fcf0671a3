package overlay

import (
	"path"
	"strings"
)

// AUFS whiteout names, as layer tars carry them (docker-formats.md §3.8).
const (
	WhiteoutPrefix     = ".wh."
	WhiteoutMetaPrefix = ".wh..wh."
	OpaqueMarker       = ".wh..wh..opq"
)

// OpaqueXattr marks an overlay directory whose lower contents are hidden.
const OpaqueXattr = "trusted.overlay.opaque"

// Clean maps a tar entry name (or a user's path in the image) to a path
// relative to the layer root the way Docker's chrooted unpacker resolves it:
// "/" is the layer root and ".." cannot climb above it, so "../../x" and "/x"
// both become "x". The layer root itself is "" (".", "./", "/..").
//
// Every reader and writer of layer paths goes through this function, so a
// file is always read back from where it was written.
func Clean(name string) string {
	return strings.TrimPrefix(path.Clean("/"+name), "/")
}

// RootRel turns a clamped name into an os.Root argument ("." for the root).
func RootRel(clamped string) string {
	if clamped == "" {
		return "."
	}
	return clamped
}

// SplitParent splits a clamped, non-root name into its parent (root-relative,
// "." for the root) and its single-component base.
func SplitParent(clamped string) (dir, base string) {
	i := strings.LastIndexByte(clamped, '/')
	if i < 0 {
		return ".", clamped
	}
	return clamped[:i], clamped[i+1:]
}

// Kind classifies a tar entry's base name.
type Kind int

const (
	// NotWhiteout is an ordinary entry.
	NotWhiteout Kind = iota
	// Whiteout (".wh.NAME") deletes NAME and everything under it.
	Whiteout
	// Opaque (".wh..wh..opq") hides the lower layers' content of its directory.
	Opaque
	// Meta is another ".wh..wh." name (.wh..wh.plnk, ...): AUFS-internal,
	// ignored by overlay and by Docker's generic unpacker.
	Meta
	// Invalid is ".wh." with no usable name after it (".wh.", ".wh..",
	// ".wh..."): it can delete nothing.
	Invalid
)

// ParseWhiteout classifies base and, for a Whiteout, returns the name it
// deletes.
func ParseWhiteout(base string) (Kind, string) {
	switch {
	case !strings.HasPrefix(base, WhiteoutPrefix):
		return NotWhiteout, ""
	case base == OpaqueMarker:
		return Opaque, ""
	case strings.HasPrefix(base, WhiteoutMetaPrefix):
		return Meta, ""
	}
	orig := base[len(WhiteoutPrefix):]
	if orig == "" || orig == "." || orig == ".." {
		return Invalid, ""
	}
	return Whiteout, orig
}

// WhiteoutName is the tar name of the whiteout deleting clamped name.
func WhiteoutName(clamped string) string {
	dir, base := SplitParent(clamped)
	if dir == "." {
		return WhiteoutPrefix + base
	}
	return dir + "/" + WhiteoutPrefix + base
}

// OpaqueName is the tar name of the opaque marker of clamped dir ("" = root).
func OpaqueName(clampedDir string) string {
	if clampedDir == "" {
		return OpaqueMarker
	}
	return clampedDir + "/" + OpaqueMarker
}
