// Package overlay is the one place that knows how a layer's paths and
// deletions are spelled, in both of Docker's forms:
//
//   - in a layer tar (AUFS style, docker-formats.md §3.8): ".wh.NAME" deletes
//     NAME, ".wh..wh..opq" makes its directory opaque (everything from lower
//     layers is hidden), other ".wh..wh.*" names are AUFS-internal;
//   - in an overlay2 diff dir: a character device 0:0 deletes its name and
//     the xattr trusted.overlay.opaque=y makes a directory opaque.
//
// Entry names are clamped as Docker's chrooted unpacker resolves them
// (Clean). Tar -> overlay is ToOverlay (used by tarball.Apply); overlay ->
// tar is Walk (used by flatten.DirLayer, so export, squash and cp read diff
// dirs through it); Lookup resolves one path in a stack of diff dirs the way
// overlayfs does (used by store and cp). The merge of a whole stack is
// flatten's, which reads both forms through this package, so export (diff
// dirs) and flatten (layer tars) give one tree.
//
// A root-level opaque marker (".wh..wh..opq" at the layer root) is stored as
// Docker stores it, as the xattr on the diff dir itself, and ignored by every
// reader: overlayfs never consults the opacity of a layer's root, so docker
// export (overlay2) shows the lower layers' files (interop/onetree_test.go
// checks this against Docker). Export and flatten therefore agree with it.
package overlay
