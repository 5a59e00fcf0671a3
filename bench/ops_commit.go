package main

import (
	"fmt"
	"os"
	"path/filepath"
	"sync"
)

// commitOp times `imgtool commit` against `docker commit` of the same
// stopped container. dockerd owns its data root while it runs, and imgtool
// refuses to write into a root a running daemon uses, so imgtool commits
// in a copy of the source daemon's data root (made once, untimed, before
// its first run; the container and its read-write layer are the same
// bytes). Each run's image is removed again after it, on both sides.
func (e *benchEnv) commitOp(im *image, k string) *op {
	if im.container == "" {
		return nil
	}
	copyRoot := e.commitRoot()
	ref := func(tool string) func(int) string {
		return func(r int) string { return fmt.Sprintf("bench-commit-%s-%s:%d", k, tool, r) }
	}
	iref, dref := ref("imgtool"), ref("docker")
	it := func(args ...string) []string {
		return append([]string{e.imgtool, "--root", copyRoot, "--progress", "none"}, args...)
	}
	return &op{key: "commit", title: "commit a stopped container", img: im,
		notes: []string{"imgtool commits in a copy of the source daemon's data root (dockerd keeps its own root while it runs); `docker commit` in the daemon. Each run's image is removed after it."},
		tools: []*tool{
			{name: "imgtool", prep: func(int) error { return e.copyRootOnce() },
				argv: func(r int) []string { return it("commit", im.container, iref(r)) },
				after: func(r int) error {
					argv := it("rmi", iref(r))
					return run("", argv[0], argv[1:]...)
				}, cmdline: "imgtool --root COPY commit CONTAINER REPO:TAG"},
			{name: "docker commit", daemon: e.src,
				argv: func(r int) []string { return []string{"docker", "commit", im.container, dref(r)} },
				after: func(r int) error {
					_, err := e.src.docker("rmi", dref(r))
					return err
				}, cmdline: "docker commit CONTAINER REPO:TAG"},
		}}
}

func (e *benchEnv) commitRoot() string { return filepath.Join(e.work, "commit-root") }

var copyRootDone sync.Once
var copyRootErr error

// copyRootOnce copies the source daemon's data root for imgtool's commit
// rows: its images and containers, as they are when the commit rows start.
func (e *benchEnv) copyRootOnce() error {
	copyRootDone.Do(func() {
		os.RemoveAll(e.commitRoot())
		logf2("copying %s for the commit rows", e.src.root)
		copyRootErr = run("", "cp", "-a", "--reflink=auto", e.src.root, e.commitRoot())
	})
	return copyRootErr
}
