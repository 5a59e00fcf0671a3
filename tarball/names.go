package tarball

import (
	"path"
	"strings"
)

// clampName maps a tar entry name to a path relative to the layer root the
// way Docker's chrooted unpacker resolves it: "/" is the layer root and ".."
// cannot climb above it, so "../../x" and "/x" both become "x". The layer
// root itself is "" (names such as ".", "./" or "/..").
//
// Apply and Assemble both go through this function, so a file is always read
// back from where it was written, never from a host path outside dir.
func clampName(name string) string {
	return strings.TrimPrefix(path.Clean("/"+name), "/")
}

// rootRel turns a clamped name into an os.Root argument ("." for the root).
func rootRel(clamped string) string {
	if clamped == "" {
		return "."
	}
	return clamped
}

// splitParent splits a clamped, non-root name into its parent (root-relative,
// "." for the root) and its single-component base.
func splitParent(clamped string) (dir, base string) {
	i := strings.LastIndexByte(clamped, '/')
	if i < 0 {
		return ".", clamped
	}
	return clamped[:i], clamped[i+1:]
}
