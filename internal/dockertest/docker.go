package dockertest

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// dockerEnv is the environment for the docker CLI: the caller's, with the
// daemon selection and client config pinned to this daemon, and the legacy
// builder (20.10's BuildKit would need buildx/network for some frontends).
func (d *Daemon) dockerEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		switch k {
		case "DOCKER_HOST", "DOCKER_CONTEXT", "DOCKER_TLS_VERIFY", "DOCKER_CERT_PATH",
			"DOCKER_CONFIG", "DOCKER_BUILDKIT", "DOCKER_API_VERSION":
			continue
		}
		env = append(env, kv)
	}
	return append(env,
		"DOCKER_CONFIG="+d.configDir,
		"DOCKER_BUILDKIT=0",
		"DOCKER_CLI_HINTS=false",
	)
}

// DockerErr runs `docker -H <host> args...` and returns its raw stdout and
// stderr, and the error (an *exec.ExitError for a non-zero exit).
func (d *Daemon) DockerErr(args ...string) (stdout, stderr string, err error) {
	return d.DockerInErr(nil, args...)
}

// DockerInErr is DockerErr with stdin.
func (d *Daemon) DockerInErr(stdin io.Reader, args ...string) (stdout, stderr string, err error) {
	ctx, cancel := context.WithTimeout(context.Background(), CommandTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, d.cli, append([]string{"-H", d.Host}, args...)...)
	cmd.Env = d.dockerEnv()
	cmd.Stdin = stdin
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err = cmd.Run()
	if ctx.Err() != nil {
		err = fmt.Errorf("timed out after %v: %w", CommandTimeout, err)
	}
	return o.String(), e.String(), err
}

// Docker runs the docker CLI against this daemon and returns its stdout with
// surrounding white space trimmed; a failure fails the test, showing stderr.
func (d *Daemon) Docker(t testing.TB, args ...string) string {
	t.Helper()
	return d.DockerIn(t, nil, args...)
}

// DockerIn is Docker with stdin.
func (d *Daemon) DockerIn(t testing.TB, stdin io.Reader, args ...string) string {
	t.Helper()
	out, errOut, err := d.DockerInErr(stdin, args...)
	if err != nil {
		t.Fatalf("docker %s: %v\nstderr: %s\nstdout: %s", strings.Join(args, " "), err, errOut, truncate(out, 2000))
	}
	return strings.TrimSpace(out)
}

// ImageID returns the full image ID ("sha256:…") of ref.
func (d *Daemon) ImageID(t testing.TB, ref string) string {
	t.Helper()
	return d.Docker(t, "image", "inspect", "-f", "{{.Id}}", ref)
}

// HasImage reports whether the daemon knows ref.
func (d *Daemon) HasImage(ref string) bool {
	_, _, err := d.DockerErr("image", "inspect", "-f", "{{.Id}}", ref)
	return err == nil
}

// Run runs `docker run --rm --network none image cmd...` and returns stdout
// (trimmed).
func (d *Daemon) Run(t testing.TB, image string, cmd ...string) string {
	t.Helper()
	return d.Docker(t, append([]string{"run", "--rm", "--network", "none", image}, cmd...)...)
}

// DefaultBaseTag is the tag BaseImage uses when given "".
const DefaultBaseTag = "imgtool-bb:1"

// BaseApplets are the busybox applets linked into the base image's /bin.
var BaseApplets = []string{
	"sh", "ls", "cat", "echo", "rm", "mkdir", "ln", "touch", "chmod", "mknod",
	"readlink", "stat", "find", "sha256sum", "sleep", "true", "test", "mv", "cp",
}

// BaseImage imports a single-layer busybox image (the local static busybox
// with a few applet symlinks; nothing is pulled) as tag (DefaultBaseTag when
// ""), once per daemon, and returns the tag.
func BaseImage(t testing.TB, d *Daemon, tag string) string {
	t.Helper()
	if tag == "" {
		tag = DefaultBaseTag
	}
	d.mu.Lock()
	_, ok := d.images[tag]
	d.mu.Unlock()
	if ok && d.HasImage(tag) {
		return tag
	}
	Require(t, "busybox")
	bb, _ := exec.LookPath("busybox")
	tmp := t.TempDir()
	rootfs := filepath.Join(tmp, "rootfs")
	for _, dir := range []string{"bin", "etc", "tmp", "root"} {
		if err := os.MkdirAll(filepath.Join(rootfs, dir), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Chmod(filepath.Join(rootfs, "tmp"), 0o1777); err != nil {
		t.Fatal(err)
	}
	if err := copyFile(bb, filepath.Join(rootfs, "bin", "busybox"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, a := range BaseApplets {
		if err := os.Symlink("busybox", filepath.Join(rootfs, "bin", a)); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(rootfs, "etc", "motd"), []byte("hello\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	tarPath := filepath.Join(tmp, "rootfs.tar")
	if out, err := exec.Command("tar", "-C", rootfs, "-cf", tarPath, ".").CombinedOutput(); err != nil {
		t.Fatalf("tar rootfs: %v\n%s", err, out)
	}
	d.Docker(t, "import", "--change", `CMD ["/bin/sh"]`, tarPath, tag)
	id := d.ImageID(t, tag)
	d.mu.Lock()
	d.images[tag] = id
	d.mu.Unlock()
	return tag
}

// Build runs `docker build --network none -t tag -f - CONTEXT` with the
// Dockerfile on stdin and a context dir holding files (name -> content;
// names may contain slashes) and returns the image ID. The legacy builder is
// used, so every RUN/COPY/ADD makes one layer.
func (d *Daemon) Build(t testing.TB, tag, dockerfile string, files map[string]string) string {
	t.Helper()
	ctxDir := t.TempDir()
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		p := filepath.Join(ctxDir, filepath.FromSlash(n))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(files[n]), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	d.DockerIn(t, strings.NewReader(dockerfile), "build", "--network", "none", "--force-rm", "-q", "-t", tag, "-f", "-", ctxDir)
	return d.ImageID(t, tag)
}

// RichDockerfile returns a Dockerfile on top of base whose image has
// base + 4 layers exercising what the layer formats must round-trip: a
// deleted file (whiteout), an opaque directory (rm -r + mkdir in a later
// layer), hardlinks (inside one layer and to a lower file), symlinks
// (relative and absolute), an empty file, a long name, and a COPY'd file
// from the build context (the context must hold "ctx.txt"). marker makes
// the layers unique per caller so that no two tests share layers.
//
// Use RichFiles(marker) for the context and RichCheck for a command whose
// output describes the resulting tree.
func RichDockerfile(base, marker string) string {
	return fmt.Sprintf(`FROM %[1]s
RUN mkdir -p /data/keep /data/opq/sub /data/gonedir && echo "one %[2]s" > /data/a.txt && echo gone > /data/gone.txt && echo old > /data/opq/old.txt && echo deep > /data/opq/sub/deep.txt && echo k > /data/keep/k.txt && echo x > /data/gonedir/x && touch /data/empty && rm /etc/motd
RUN rm /data/gone.txt && rm -r /data/opq /data/gonedir && mkdir /data/opq && echo "new %[2]s" > /data/opq/new.txt && ln /data/a.txt /data/hard-lower.txt && echo same > /data/h1 && ln /data/h1 /data/h2 && ln -s a.txt /data/sym.txt && ln -s /data/keep /data/abs-link && mkdir -p /data/long/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa/bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb && echo long > /data/long/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa/bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb/file-with-a-long-name.txt
COPY ctx.txt /data/ctx.txt
RUN chmod 0600 /data/ctx.txt && echo "%[2]s" > /data/keep/marker && rm /data/keep/k.txt
ENV MARKER=%[2]s
CMD ["/bin/sh", "-c", "cat /data/a.txt"]
`, base, marker)
}

// RichFiles is the build context RichDockerfile needs.
func RichFiles(marker string) map[string]string {
	return map[string]string{"ctx.txt": "from the context " + marker + "\n"}
}

// RichCheck is a command (for Run) printing a description of the tree that
// RichDockerfile builds: contents, link targets, listings and modes.
var RichCheck = []string{"sh", "-c", `exec 2>&1; cd /data && for f in a.txt hard-lower.txt h1 h2 sym.txt ctx.txt opq/new.txt keep/marker long/*/*/*; do echo "== $f"; cat "$f"; done; readlink sym.txt; readlink abs-link; ls -lAnR --full-time /data; stat -c '%n %h %a %s' a.txt hard-lower.txt h1 h2; test -e gone.txt && echo BAD-gone; test -e opq/old.txt && echo BAD-opq; test -e opq/sub && echo BAD-opq-sub; test -e gonedir && echo BAD-gonedir; test -e /etc/motd && echo BAD-motd; echo MARKER=$MARKER; true`}

func copyFile(src, dst string, mode os.FileMode) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, mode)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + fmt.Sprintf("… (%d bytes more)", len(s)-n)
}
