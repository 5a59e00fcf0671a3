package main

import (
	"os"
)

// importOp times `imgtool import` of the image's rootfs tar (one layer)
// against GNU tar unpacking the same tar into an empty directory: durable
// (imgtool's default, which syncs the store's filesystem before the
// commit renames) against `tar -xf` + `sync -f`, and `--no-sync` against
// plain `tar -xf`. Nil when the image has no rootfs tar.
func (e *benchEnv) importOp(im *image, k string) *op {
	if im.rootfs == "" {
		return nil
	}
	fi, err := os.Stat(im.rootfs)
	if err != nil {
		return nil
	}
	store := func(r int) string { return e.path(r, k+"-import-store") }
	dir := func(r int) string { return e.path(r, k+"-import-dir") }
	mk := func(p func(int) string) func(int) error {
		return func(r int) error { return os.MkdirAll(p(r), 0o755) }
	}
	rm := func(p func(int) string) func(int) error {
		return func(r int) error { return e.discard(p(r)) }
	}
	return &op{key: "import", title: "import a rootfs tar (one layer) into an empty store", img: im,
		bytes: func() int64 { return fi.Size() }, floorFile: func() string { return im.rootfs },
		notes: []string{"The durable rows pay for writing every file back before they return (imgtool: one syncfs before the commit renames; tar: `sync -f` after it); the `--no-sync` row skips that, as plain `tar -xf` does."},
		tools: []*tool{
			{name: "imgtool", argv: func(r int) []string {
				return []string{e.imgtool, "--root", store(r), "--progress", "none", "import", im.rootfs, "bench-import:1"}
			}, prep: mk(store), after: rm(store), cmdline: "imgtool --root EMPTY import ROOTFS.tar"},
			{name: "tar -xf + sync -f", argv: func(r int) []string {
				return sh("tar -xf " + im.rootfs + " -C " + dir(r) + " && sync -f " + dir(r))
			}, prep: mk(dir), after: rm(dir), cmdline: "tar -xf ROOTFS.tar -C EMPTY && sync -f EMPTY"},
			{name: "imgtool --no-sync", argv: func(r int) []string {
				return []string{e.imgtool, "--root", store(r), "--progress", "none", "--no-sync", "import", im.rootfs, "bench-import:1"}
			}, prep: mk(store), after: rm(store), cmdline: "imgtool --root EMPTY --no-sync import ROOTFS.tar"},
			{name: "tar -xf", argv: func(r int) []string {
				return []string{"tar", "-xf", im.rootfs, "-C", dir(r)}
			}, prep: mk(dir), after: rm(dir), cmdline: "tar -xf ROOTFS.tar -C EMPTY"},
		}}
}

// layerTarTools are GNU tar rows for the load of a one-layer archive:
// `tar -xf` of that layer into an empty directory, with and without
// `sync -f`, the floor issue #16 sets for a durable load.
func (e *benchEnv) layerTarTools(im *image, k string) []*tool {
	dir := func(r int) string { return e.path(r, k+"-layer-dir") }
	mk := func(r int) error { return os.MkdirAll(dir(r), 0o755) }
	rm := func(r int) error { return e.discard(dir(r)) }
	return []*tool{
		{name: "tar -xf layer + sync -f", argv: func(r int) []string {
			return sh("tar -xf " + im.layerTar + " -C " + dir(r) + " && sync -f " + dir(r))
		}, prep: mk, after: rm, cmdline: "tar -xf LAYER.tar -C EMPTY && sync -f EMPTY"},
		{name: "tar -xf layer", argv: func(r int) []string {
			return []string{"tar", "-xf", im.layerTar, "-C", dir(r)}
		}, prep: mk, after: rm, cmdline: "tar -xf LAYER.tar -C EMPTY"},
	}
}
