// Package flatten merges an ordered stack of image layers (bottom first) into
// one rootfs tar stream, like `docker export` of the merged overlay view.
//
// # Semantics
//
// Layers are applied in order, entry by entry, the way Docker's unpacker
// applies a layer tar to the merged view:
//
//   - `.wh.NAME` deletes NAME and everything under it. A whiteout whose
//     target (or whose parent directory) does not exist is ignored, and so are
//     `.wh..wh.*` names other than the opaque marker.
//   - `.wh..wh..opq` in directory D hides all lower-layer content of D,
//     recursively (a sub-directory re-stated by the same layer keeps only its
//     own entries from that layer, as in overlayfs). Entries of the same layer
//     under D survive whether they come before or after the marker. At the
//     layer root the marker hides nothing: overlayfs never reads a layer
//     root's opacity, so docker export (overlay2) shows the lower layers.
//   - A non-directory replacing a directory removes the subtree; a directory
//     replacing a non-directory replaces it; a directory re-stated over a
//     directory keeps its children and takes the new metadata (mode, owner,
//     mtime, xattrs), so a directory's metadata comes from its topmost copy.
//   - Duplicate names within one layer: the last one wins (same rules).
//   - Missing parents are created as 0755 root:root directories with mtime 0
//     (Docker creates them with mtime "now"; we pick a deterministic value).
//     A whiteout creates its missing parents too, as Docker's unpacker does.
//   - Names are cleaned: leading "/" and "./" are removed and ".." is clamped
//     at the root (overlay.Clean). Root entries ("." or "./") are dropped;
//     docker export emits no root entry. Whiteout names are classified by
//     overlay.ParseWhiteout, and DirLayer reads diff dirs with overlay.Walk,
//     so tars and diff dirs give one tree.
//   - Hard links: a TypeLink entry in layer N joins the inode its target has
//     in the merged view at that point (the target may come from any lower
//     layer or earlier in the same layer, so chains across layers work).
//     Overwriting or deleting a path only unlinks that path, so surviving links
//     keep the content the inode had. On output the first surviving path of an
//     inode (in output order) carries the content and the others are TypeLink
//     entries to it. As in Docker's createTarFile, a link header's uid/gid
//     (and mode/mtime unless the inode is a symlink) are applied to the
//     shared inode. A link to a missing path or to a directory is an error
//     naming the entry (Docker fails to apply such a layer).
//   - Symlinks (absolute or relative) are kept verbatim and never followed;
//     their mode is 0777 whatever the header says (Linux cannot chmod a
//     symlink, so Docker's unpacked tree and export have 0777).
//     An entry (or a hard link target) whose parent path in the merged tree
//     passes through a symlink is an error naming the entry: Docker's unpacker
//     would resolve the symlink inside the root, which this package does not
//     emulate. Docker-built layers never contain such entries. An entry whose
//     parent is another non-directory is also an error (Docker: ENOTDIR).
//     Whiteouts under a non-directory are ignored.
//
// # Output conventions (docker export, Docker 24+ flavour)
//
// No root entry; names relative without "./"; directories end with "/";
// depth-first with parents before children and names sorted bytewise within
// each directory (filepath.Walk order). Mode holds the permission bits plus
// setuid/setgid/sticky only (Docker ≤23 also wrote S_IFMT bits; Describe
// ignores them). Mtimes are truncated to whole seconds; atime/ctime are not
// written. Headers use Go's writer with Format=PAX, so a PAX record is
// written only when needed (long or non-ASCII names, xattrs). Only the
// security.capability xattr is kept (a v3 capability is downgraded to v2,
// like Docker's tar writer); a hardlink entry without it clears it on the
// shared inode, as Docker's chown of the link does. Uname/Gname follow Options.Names. Output is a
// deterministic function of the input bytes and options.
//
// # Design: a merged walk for directories, two passes for tars
//
// A stack made only of DirLayers (export, squash, cp from the store) is
// merged by a walk (stream.go): for one directory at a time, that
// directory's entries are read (overlay.ReadEntry, what overlay.Walk reads)
// from every layer whose copy of it shows, from the topmost opaque copy up,
// merged with the rules above (name lists merged in sorted order; a map
// applying entries bottom first where literal `.wh.*` names need the
// tree's order), and the merged children are written in name order before
// recursing. Memory follows the depth times the widest directory; only
// inodes with more than one link are remembered. The bytes are those of the
// two passes below (TestStreamEqualsTree).
//
// Any other stack (tar streams cannot be read per directory) takes two
// passes. Pass 1 opens every layer once and reads headers only. It builds the merged
// tree in memory: one small node per surviving path, and for each regular
// file's inode a reference (layer index, entry ordinal, name) to where its
// content lives. Memory grows with the number of entries, not their size.
// When Open returns an io.Seeker (for example an *os.File), archive/tar skips
// content by seeking, so this pass costs little I/O; for plain streams
// (e.g. a decompressor) the content bytes are read and discarded.
//
// Directory layers (DirLayer) in a mixed stack are walked (overlay.Walk:
// fstatat/fgetxattr on directory fds, so any depth) only in pass 1, and in
// pass 2 their regular files are read by path (random access, no copies, no
// spill).
//
// Pass 2 walks the tree in output order. Each tar layer that still
// contributes content is re-opened at most once and read forward, in
// parallel with the other layers' readers: when the output needs entry k of
// layer L, L's reader is advanced to k. Contributing entries that the reader
// passes before they are needed are copied to a spill file in a temporary
// directory (Options.TempDir) and deleted once written. Layers written by
// Docker (and by this package) are in the same walk order as the output, so
// in practice nothing is spilled; an unusually ordered tar costs at most its
// surviving content in temporary disk, never memory. Every content byte is
// thus read once in pass 2 (plus once in pass 1 for non-seekable streams).
// Pass 2 verifies that each entry it uses has the name and size seen in pass
// 1, so a source that changes between the passes is an error.
package flatten
