package main

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

type benchEnv struct {
	c        *config
	imgtool  string
	crane    string
	src, dst *daemon
	work     string

	hasCompress bool // imgtool save --compress
	hasConvert  bool // imgtool convert
	convertHelp string
}

// features probes the imgtool CLI for commands that may not exist yet.
func (e *benchEnv) features() {
	out, _ := exec.Command(e.imgtool, "save", "--help").CombinedOutput()
	e.hasCompress = strings.Contains(string(out), "--compress")
	out, err := exec.Command(e.imgtool, "convert", "--help").CombinedOutput()
	e.hasConvert = err == nil
	e.convertHelp = string(out)
	logf2("imgtool save --compress: %v; imgtool convert: %v", e.hasCompress, e.hasConvert)
}

func (e *benchEnv) path(run int, name string) string {
	return filepath.Join(e.work, fmt.Sprintf("r%d-%s", run, name))
}

// dstEmpty checks that the load daemon has no image: an empty store.
func (e *benchEnv) dstEmpty(int) error {
	if out, _ := e.dst.docker("images", "-aq"); out != "" {
		return fmt.Errorf("load daemon not empty: %s", out)
	}
	return nil
}

func sh(script string) []string { return []string{"bash", "-o", "pipefail", "-c", script} }

// ops lists the operations for one image.
func (e *benchEnv) ops(im *image) []*op {
	it := func(args ...string) []string {
		return append([]string{e.imgtool, "--root", e.src.root}, args...)
	}
	k := strings.ToLower(im.key)
	archiveBytes := func() int64 { return im.archSize }
	archiveFile := func() string { return im.archive }
	var ops []*op

	// save
	ops = append(ops, &op{key: "save", title: "save to an archive", img: im, bytes: archiveBytes, floorFile: archiveFile,
		tools: []*tool{
			{name: "imgtool", argv: func(r int) []string { return it("save", "-o", e.path(r, k+"-save-imgtool.tar"), im.ref) },
				output: func(r int) string { return e.path(r, k+"-save-imgtool.tar") }, cmdline: "imgtool save -o OUT IMAGE"},
			// docker save -o does not fsync its output; imgtool's default does.
			{name: "imgtool --no-sync", argv: func(r int) []string {
				return it("--no-sync", "save", "-o", e.path(r, k+"-save-imgtool-nosync.tar"), im.ref)
			},
				output: func(r int) string { return e.path(r, k+"-save-imgtool-nosync.tar") }, cmdline: "imgtool --no-sync save -o OUT IMAGE"},
			{name: "docker save", daemon: e.src, argv: func(r int) []string { return []string{"docker", "save", "-o", e.path(r, k+"-save-docker.tar"), im.ref} },
				output: func(r int) string { return e.path(r, k+"-save-docker.tar") }, cmdline: "docker save -o OUT IMAGE"},
		}})

	// load into an empty store
	ops = append(ops, &op{key: "load", title: "load an archive into an empty store", img: im, bytes: archiveBytes, floorFile: archiveFile,
		tools: []*tool{
			{name: "imgtool", argv: func(r int) []string {
				return []string{e.imgtool, "--root", e.path(r, k+"-store"), "load", "-q", "-i", im.archive}
			},
				prep:  func(r int) error { return os.MkdirAll(e.path(r, k+"-store"), 0o755) },
				after: func(r int) error { return e.discard(e.path(r, k+"-store")) }, cmdline: "imgtool --root EMPTY load -i ARCHIVE"},
			// The same without the syncfs before the commit renames: the cost of durability.
			{name: "imgtool --no-sync", argv: func(r int) []string {
				return []string{e.imgtool, "--root", e.path(r, k+"-store"), "--no-sync", "load", "-q", "-i", im.archive}
			},
				prep:  func(r int) error { return os.MkdirAll(e.path(r, k+"-store"), 0o755) },
				after: func(r int) error { return e.discard(e.path(r, k+"-store")) }, cmdline: "imgtool --root EMPTY --no-sync load -i ARCHIVE"},
			{name: "docker load", daemon: e.dst, argv: func(r int) []string { return []string{"docker", "load", "-q", "-i", im.archive} },
				prep:    e.dstEmpty,
				after:   func(r int) error { return e.dst.restartEmpty(e.discard) },
				cmdline: "docker load -i ARCHIVE (into an empty data root)"},
			// Docker returns before its files reach the disk: the fair
			// comparison with imgtool's durable load adds a sync to its side.
			{name: "docker load + sync", daemon: e.dst, argv: func(r int) []string {
				return sh("docker load -q -i " + im.archive + " && sync -f " + e.dst.root)
			},
				prep:    e.dstEmpty,
				after:   func(r int) error { return e.dst.restartEmpty(e.discard) },
				cmdline: "docker load -i ARCHIVE && sync -f DATA_ROOT (into an empty data root)"},
		}})
	if im.layerTar != "" {
		ops[len(ops)-1].tools = append(ops[len(ops)-1].tools, e.layerTarTools(im, k)...)
	}
	if o := e.importOp(im, k); o != nil {
		ops = append(ops, o)
	}

	// export a container
	ops = append(ops, &op{key: "export", title: "export a container", img: im,
		tools: []*tool{
			{name: "imgtool", argv: func(r int) []string { return it("export", "-o", e.path(r, k+"-export-imgtool.tar"), im.container) },
				output: func(r int) string { return e.path(r, k+"-export-imgtool.tar") }, cmdline: "imgtool export -o OUT CONTAINER"},
			{name: "imgtool --no-sync", argv: func(r int) []string {
				return it("--no-sync", "export", "-o", e.path(r, k+"-export-imgtool-nosync.tar"), im.container)
			},
				output: func(r int) string { return e.path(r, k+"-export-imgtool-nosync.tar") }, cmdline: "imgtool --no-sync export -o OUT CONTAINER"},
			{name: "docker export", daemon: e.src, argv: func(r int) []string {
				return []string{"docker", "export", "-o", e.path(r, k+"-export-docker.tar"), im.container}
			},
				output: func(r int) string { return e.path(r, k+"-export-docker.tar") }, cmdline: "docker export -o OUT CONTAINER"},
		}})

	if o := e.commitOp(im, k); o != nil {
		ops = append(ops, o)
	}

	// gzip-compressed archive
	gz := &op{key: "gzip", title: "gzip-compressed archive", img: im, bytes: archiveBytes, floorFile: archiveFile, compressed: true}
	igz := &tool{name: "imgtool", argv: func(r int) []string {
		return it("save", "--format", "oci-archive", "--compress", "gzip", "-o", e.path(r, k+"-gz-imgtool.tar"), im.ref)
	}, output: func(r int) string { return e.path(r, k+"-gz-imgtool.tar") }, cmdline: "imgtool save --format oci-archive --compress gzip -o OUT IMAGE"}
	if !e.hasCompress {
		igz.skip = "imgtool save has no --compress yet"
	}
	gz.tools = []*tool{igz,
		{name: "docker save | gzip", daemon: e.src, argv: func(r int) []string {
			return sh(fmt.Sprintf("docker save %s | gzip > %s", im.ref, e.path(r, k+"-gz-docker.tar.gz")))
		}, output: func(r int) string { return e.path(r, k+"-gz-docker.tar.gz") }, cmdline: "docker save IMAGE | gzip > OUT"},
		{name: "skopeo", argv: func(r int) []string {
			return []string{"skopeo", "--insecure-policy", "copy", "-q", "docker-archive:" + im.archive, "oci-archive:" + e.path(r, k+"-gz-skopeo.tar") + ":" + im.ref}
		}, output: func(r int) string { return e.path(r, k+"-gz-skopeo.tar") }, cmdline: "skopeo copy docker-archive:ARCHIVE oci-archive:OUT:IMAGE"},
	}
	ops = append(ops, gz)

	// docker-archive -> OCI layout, gzip
	cv := &op{key: "convert", title: "docker-archive → OCI layout (gzip)", img: im, bytes: archiveBytes, floorFile: archiveFile, compressed: true}
	icv := &tool{name: "imgtool", argv: func(r int) []string {
		return []string{e.imgtool, "convert", "--compress", "gzip", "docker-archive:" + im.archive, "oci:" + e.path(r, k+"-cv-imgtool")}
	}, output: func(r int) string { return e.path(r, k+"-cv-imgtool") }, optional: true,
		cmdline: "imgtool convert --compress gzip docker-archive:ARCHIVE oci:DIR"}
	if !e.hasConvert {
		icv.skip = "imgtool has no convert command yet"
		cv.notes = append(cv.notes, "imgtool has no `convert` command yet: the row only shows the peers.")
	}
	cv.tools = []*tool{icv,
		{name: "skopeo", argv: func(r int) []string {
			return []string{"skopeo", "--insecure-policy", "copy", "-q", "docker-archive:" + im.archive, "oci:" + e.path(r, k+"-cv-skopeo") + ":" + im.ref}
		}, output: func(r int) string { return e.path(r, k+"-cv-skopeo") }, cmdline: "skopeo copy docker-archive:ARCHIVE oci:DIR:IMAGE"},
	}
	if e.crane != "" {
		reg := &registry{crane: e.crane}
		cv.tools = append(cv.tools, &tool{name: "crane (via registry)", optional: true,
			prep: func(r int) error { return reg.start(e.path(r, k+"-cv-registry")) },
			argv: func(r int) []string {
				ref := reg.addr + "/bench/" + k + ":1"
				return sh(fmt.Sprintf("%s push --insecure %s %s >/dev/null && %s pull --insecure --format oci %s %s",
					e.crane, im.archive, ref, e.crane, ref, e.path(r, k+"-cv-crane")))
			},
			after: func(r int) error {
				reg.stop()
				return os.RemoveAll(e.path(r, k+"-cv-registry"))
			},
			output:  func(r int) string { return e.path(r, k+"-cv-crane") },
			cmdline: "crane push ARCHIVE localhost:PORT/x && crane pull --format oci localhost:PORT/x DIR"})
		cv.notes = append(cv.notes, "crane has no tarball → OCI layout command: it pushes to a local `crane registry serve --disk` (fresh each run; its RSS not counted) and pulls with `--format oci`.")
	}
	ops = append(ops, cv)

	// flatten to a rootfs tar
	fl := &op{key: "flatten", title: "flatten to a rootfs tar", img: im,
		tools: []*tool{
			{name: "imgtool", argv: func(r int) []string { return it("export", "-o", e.path(r, k+"-fl-imgtool.tar"), im.ref) },
				output: func(r int) string { return e.path(r, k+"-fl-imgtool.tar") }, cmdline: "imgtool export -o OUT IMAGE"},
		}}
	if e.crane != "" {
		fl.tools = append(fl.tools, &tool{name: "crane export", stdin: im.archive,
			argv:   func(r int) []string { return []string{e.crane, "export", "-", e.path(r, k+"-fl-crane.tar")} },
			output: func(r int) string { return e.path(r, k+"-fl-crane.tar") }, cmdline: "crane export - OUT < ARCHIVE"})
		fl.notes = append(fl.notes, "imgtool reads the image from the store; crane reads the docker-save archive from stdin (spooling it to a temp file first).")
	}
	ops = append(ops, fl)
	return ops
}

// registry is a `crane registry serve` for one run.
type registry struct {
	crane string
	addr  string
	cmd   *exec.Cmd
}

func (g *registry) start(dir string) error {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	g.addr = l.Addr().String()
	l.Close()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	g.cmd = exec.Command(g.crane, "registry", "serve", "--address", g.addr, "--disk", dir)
	g.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := g.cmd.Start(); err != nil {
		return err
	}
	for i := 0; i < 100; i++ {
		if c, err := net.Dial("tcp", g.addr); err == nil {
			c.Close()
			return nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	g.stop()
	return fmt.Errorf("crane registry did not listen on %s", g.addr)
}

func (g *registry) stop() {
	if g.cmd != nil && g.cmd.Process != nil {
		g.cmd.Process.Kill()
		g.cmd.Wait()
		g.cmd = nil
	}
}
