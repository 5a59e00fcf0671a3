package main

import (
	"bufio"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// sizes of the generated data.
type sizes struct {
	random int64 // the random-data layer of image A
	big    int64 // image B's single layer
}

var (
	fullSizes  = sizes{random: 50 << 20, big: 1 << 30}
	smokeSizes = sizes{random: 4 << 20, big: 16 << 20}
)

// randomFile writes n deterministic pseudo-random bytes (ChaCha8 with a
// fixed seed) to path, unless a file of that size is already there.
func randomFile(path string, n int64, seed byte) error {
	if fi, err := os.Stat(path); err == nil && fi.Size() == n {
		return nil
	}
	tmp := path + ".tmp"
	f, err := os.Create(tmp)
	if err != nil {
		return err
	}
	rng := rand.NewChaCha8([32]byte{seed, 'i', 'm', 'g', 't', 'o', 'o', 'l'})
	w := bufio.NewWriterSize(f, 1<<20)
	if _, err := io.CopyN(w, rng, n); err != nil {
		f.Close()
		return err
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// debootstrapRootfs returns a tar of a Debian bookworm minbase rootfs,
// built once under cache.
func debootstrapRootfs(cache string) (string, error) {
	dir := filepath.Join(cache, "bookworm-minbase")
	out := filepath.Join(cache, "bookworm-minbase.tar")
	if _, err := os.Stat(out); err == nil {
		return out, nil
	}
	if _, err := os.Stat(filepath.Join(dir, ".imgtool-bench-done")); err != nil {
		if _, err := exec.LookPath("debootstrap"); err != nil {
			logf2("installing debootstrap with apt-get")
			if err := run("", "apt-get", "install", "-y", "-qq", "--no-install-recommends", "debootstrap"); err != nil {
				return "", err
			}
		}
		os.RemoveAll(dir)
		logf2("debootstrap --variant=minbase bookworm %s (once; a few minutes)", dir)
		if err := run("", "debootstrap", "--variant=minbase", "bookworm", dir, "http://deb.debian.org/debian"); err != nil {
			return "", err
		}
		if err := os.WriteFile(filepath.Join(dir, ".imgtool-bench-done"), nil, 0o644); err != nil {
			return "", err
		}
	}
	if err := run("", "tar", "-C", dir, "--numeric-owner", "--xattrs", "--exclude=./.imgtool-bench-done", "-cf", out+".tmp", "."); err != nil {
		return "", err
	}
	return out, os.Rename(out+".tmp", out)
}

// busyboxRootfs returns a tar of a tiny rootfs: /bin/busybox, a symlink per
// applet and a few files for the layers above to delete (smoke mode).
func busyboxRootfs(cache string) (string, error) {
	dir := filepath.Join(cache, "busybox-rootfs")
	out := filepath.Join(cache, "busybox-rootfs.tar")
	if _, err := os.Stat(out); err == nil {
		return out, nil
	}
	bb, err := exec.LookPath("busybox")
	if err != nil {
		return "", fmt.Errorf("smoke mode needs a static busybox (apt-get install busybox-static): %w", err)
	}
	os.RemoveAll(dir)
	for _, d := range []string{"bin", "etc", "tmp", "root", "usr/share/doc/bb", "var/log"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			return "", err
		}
	}
	if err := run("", "cp", bb, filepath.Join(dir, "bin", "busybox")); err != nil {
		return "", err
	}
	list, err := exec.Command(bb, "--list").Output()
	if err != nil {
		return "", fmt.Errorf("busybox --list: %w", err)
	}
	for _, a := range strings.Fields(string(list)) {
		if a != "busybox" {
			os.Symlink("busybox", filepath.Join(dir, "bin", a))
		}
	}
	files := map[string]string{
		"etc/issue":                "imgtool bench\n",
		"etc/passwd":               "root:x:0:0:root:/root:/bin/sh\n",
		"etc/group":                "root:x:0:\n",
		"usr/share/doc/bb/README":  "busybox\n",
		"usr/share/doc/bb/LICENSE": "GPL-2.0\n",
	}
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			return "", err
		}
	}
	if err := run("", "tar", "-C", dir, "--numeric-owner", "-cf", out+".tmp", "."); err != nil {
		return "", err
	}
	return out, os.Rename(out+".tmp", out)
}

// dockerfileA stacks, on the imported rootfs: the random layer, a layer of
// small files with hardlinks, one with whiteouts and an opaque directory.
const dockerfileA = `FROM bench-base:1
COPY random.bin /data/random.bin
RUN mkdir -p /data/small /data/links && \
    i=0; while [ $i -lt 300 ]; do echo "small file $i" > /data/small/f$i; i=$((i+1)); done && \
    cp /bin/sh /data/links/a && ln /data/links/a /data/links/b && ln /data/links/a /data/links/c && \
    echo one > /data/links/x && ln /data/links/x /data/links/y && ln -s a /data/links/sym
RUN rm -rf /usr/share/doc /usr/share/man /etc/issue /data/small/f1* /data/links/c && \
    echo changed > /data/links/x
RUN rm -rf /data/small && mkdir /data/small && echo fresh > /data/small/only && ln /data/links/a /data/small/hl
CMD ["/bin/sh"]
`

const dockerfileB = `FROM scratch
COPY big.bin /big.bin
CMD ["/big.bin"]
`

// image is one benchmark image in the source daemon.
type image struct {
	key       string // "A", "B"
	ref       string // tag in the daemon
	container string // a container of it (for export)
	desc      string
	layers    int
	archive   string // docker save of it (input of load, convert, ...)
	archSize  int64
	rootfs    string // the rootfs tar it was built on (input of import), if one layer of it
	layerTar  string // its only layer's tar, taken from archive, if it has one layer
}

// buildImages imports the rootfs and builds images A and B in d.
func buildImages(d *daemon, cache, work string, smoke bool) ([]*image, error) {
	sz := fullSizes
	var rootfs string
	var err error
	if smoke {
		sz = smokeSizes
		rootfs, err = busyboxRootfs(cache)
	} else {
		rootfs, err = debootstrapRootfs(cache)
	}
	if err != nil {
		return nil, err
	}
	ctxA := filepath.Join(cache, fmt.Sprintf("ctx-a-%d", sz.random))
	ctxB := filepath.Join(cache, fmt.Sprintf("ctx-b-%d", sz.big))
	os.MkdirAll(ctxA, 0o755)
	os.MkdirAll(ctxB, 0o755)
	logf2("random data: %s, %s", human(sz.random), human(sz.big))
	if err := randomFile(filepath.Join(ctxA, "random.bin"), sz.random, 1); err != nil {
		return nil, err
	}
	if err := randomFile(filepath.Join(ctxB, "big.bin"), sz.big, 2); err != nil {
		return nil, err
	}
	os.WriteFile(filepath.Join(ctxA, "Dockerfile"), []byte(dockerfileA), 0o644)
	os.WriteFile(filepath.Join(ctxB, "Dockerfile"), []byte(dockerfileB), 0o644)

	logf2("docker import %s", rootfs)
	if _, err := d.docker("import", rootfs, "bench-base:1"); err != nil {
		return nil, err
	}
	logf2("docker build image A")
	if _, err := d.docker("build", "--network", "none", "-q", "-t", "bench-a:1", ctxA); err != nil {
		return nil, err
	}
	logf2("docker build image B")
	if _, err := d.docker("build", "--network", "none", "-q", "-t", "bench-b:1", ctxB); err != nil {
		return nil, err
	}
	a := &image{key: "A", ref: "bench-a:1", container: "bench-ca", rootfs: rootfs}
	b := &image{key: "B", ref: "bench-b:1", container: "bench-cb"}
	if smoke {
		a.desc = fmt.Sprintf("busybox rootfs + %s random + small layers (whiteouts, opaque dir, hardlinks)", human(sz.random))
		b.desc = fmt.Sprintf("one %s random layer", human(sz.big))
	} else {
		a.desc = fmt.Sprintf("debootstrap minbase bookworm + %s random + 3 small layers (whiteouts, opaque dir, hardlinks)", human(sz.random))
		b.desc = fmt.Sprintf("one %s random layer", human(sz.big))
	}
	// A container with a read-write layer for A (run, if runc works here;
	// else only created) and a created one for B.
	if _, err := d.docker("run", "--network", "none", "--name", a.container, a.ref, "sh", "-c", "echo hello > /root/hello && rm -f /etc/hostname.bak"); err != nil {
		logf2("docker run failed (%v); using docker create", err)
		d.docker("rm", "-f", a.container)
		if _, err := d.docker("create", "--network", "none", "--name", a.container, a.ref); err != nil {
			return nil, err
		}
	}
	if _, err := d.docker("create", "--network", "none", "--name", b.container, b.ref); err != nil {
		return nil, err
	}
	for _, im := range []*image{a, b} {
		n, err := d.docker("image", "inspect", "-f", "{{len .RootFS.Layers}}", im.ref)
		if err != nil {
			return nil, err
		}
		fmt.Sscan(n, &im.layers)
		im.archive = filepath.Join(work, "input-"+im.key+".tar")
		if _, err := d.docker("save", "-o", im.archive, im.ref); err != nil {
			return nil, err
		}
		fi, err := os.Stat(im.archive)
		if err != nil {
			return nil, err
		}
		im.archSize = fi.Size()
		if im.layers == 1 {
			im.layerTar = filepath.Join(work, "input-"+im.key+"-layer.tar")
			if err := extractOnlyLayer(im.archive, im.layerTar); err != nil {
				return nil, err
			}
		}
	}
	return []*image{a, b}, nil
}

// run runs an untimed helper command, its output going to the log.
func run(dir, name string, args ...string) error {
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s %s: %w\n%s", name, strings.Join(args, " "), err, lastLines(string(out), 20))
	}
	return nil
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
