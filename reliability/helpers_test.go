package reliability

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/imgtool/imgtool/internal/dockertest"
)

func TestMain(m *testing.M) { os.Exit(dockertest.Main(m)) }

// runTimeout bounds every imgtool run of this package.
const runTimeout = 2 * time.Minute

// nobody is the unprivileged uid/gid imgtool runs as in unprivileged cases.
const nobody = 65534

// run describes one imgtool invocation.
type run struct {
	root   string   // --root
	args   []string // after --root
	dir    string   // working directory ("" = a fresh temp dir)
	tmpdir string   // TMPDIR ("" = inherited)
	user   bool     // run as uid/gid 65534
	rss    string   // measure peak RSS through GNU time into this file ("" = no)
	env    []string // more environment, KEY=VALUE
}

type result struct {
	args           []string
	code           int
	stdout, stderr string
	maxRSSKiB      int64 // imgtool's peak resident set (run.rss), KiB
}

func (r *result) String() string {
	return fmt.Sprintf("imgtool %s: exit %d\nstderr: %s\nstdout: %s", strings.Join(r.args, " "), r.code, r.stderr, truncate(r.stdout, 2000))
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}

var sharedBin struct {
	once sync.Once
	path string
	err  error
}

// binary returns the imgtool CLI, copied once into a world-readable
// directory so that uid 65534 can run it too.
func binary(t testing.TB) string {
	t.Helper()
	src := dockertest.ImgtoolBinary(t)
	sharedBin.once.Do(func() {
		dir, err := os.MkdirTemp("", "imgtool-rel-bin-")
		if err != nil {
			sharedBin.err = err
			return
		}
		os.Chmod(dir, 0o755)
		b, err := os.ReadFile(src)
		if err != nil {
			sharedBin.err = err
			return
		}
		p := filepath.Join(dir, "imgtool")
		sharedBin.err = os.WriteFile(p, b, 0o755)
		sharedBin.path = p
	})
	if sharedBin.err != nil {
		t.Fatalf("copying imgtool: %v", sharedBin.err)
	}
	return sharedBin.path
}

func (r run) command(t testing.TB, ctx context.Context) *exec.Cmd {
	args := append([]string{"--root", r.root}, r.args...)
	cmd := exec.CommandContext(ctx, binary(t), args...)
	if r.rss != "" {
		// Go starts children with vfork, and Linux carries the parent's
		// high-water RSS across exec into the child's rusage: wait4 would
		// report the test binary's peak. GNU time forks imgtool from a
		// small process of its own and reports imgtool's peak alone.
		cmd = exec.CommandContext(ctx, "/usr/bin/time", append([]string{"-f", "%M", "-o", r.rss, binary(t)}, args...)...)
	}
	cmd.Dir = r.dir
	if cmd.Dir == "" {
		cmd.Dir = t.TempDir()
	}
	env := []string{"PATH=/usr/bin:/bin:/usr/sbin:/sbin", "LANG=C", "HOME=" + cmd.Dir}
	if r.tmpdir != "" {
		env = append(env, "TMPDIR="+r.tmpdir)
	}
	cmd.Env = append(env, r.env...)
	if r.user {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: nobody, Gid: nobody, Groups: []uint32{}}}
	}
	cmd.Stdin = nil
	return cmd
}

// do runs imgtool to completion.
func (r run) do(t testing.TB) *result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), runTimeout)
	defer cancel()
	cmd := r.command(t, ctx)
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err := cmd.Run()
	res := &result{args: r.args, stdout: o.String(), stderr: e.String()}
	if r.rss != "" {
		b, _ := os.ReadFile(r.rss)
		res.maxRSSKiB, _ = strconv.ParseInt(strings.TrimSpace(lastLine(string(b))), 10, 64)
	}
	var ee *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &ee):
		res.code = ee.ExitCode()
		if ctx.Err() != nil {
			t.Fatalf("imgtool %s: killed after %v", strings.Join(r.args, " "), runTimeout)
		}
	default:
		t.Fatalf("running imgtool %s: %v", strings.Join(r.args, " "), err)
	}
	return res
}

func (r run) must(t testing.TB) *result {
	t.Helper()
	res := r.do(t)
	if res.code != 0 {
		t.Fatalf("%s", res)
	}
	return res
}

func imgtool(t testing.TB, root string, args ...string) *result {
	t.Helper()
	return run{root: root, args: args}.do(t)
}

func mustImgtool(t testing.TB, root string, args ...string) *result {
	t.Helper()
	return run{root: root, args: args}.must(t)
}

// hasCommand reports whether the CLI knows a subcommand.
func hasCommand(t testing.TB, name string) bool {
	t.Helper()
	return commands(t)[name]
}

var commandList struct {
	once sync.Once
	set  map[string]bool
	err  string
}

// commands is the set of commands `imgtool help` lists (its "Commands:"
// section). It does not look at any command's own output, so a command that
// exists but fails cannot pass for a missing one; an empty or unreadable
// list fails the test.
func commands(t testing.TB) map[string]bool {
	t.Helper()
	commandList.once.Do(func() {
		r := imgtool(t, t.TempDir(), "help")
		if r.code != 0 {
			commandList.err = r.String()
			return
		}
		commandList.set = parseCommandList(r.stdout + r.stderr)
		if len(commandList.set) == 0 {
			commandList.err = "no \"Commands:\" section in:\n" + r.String()
		}
	})
	if commandList.err != "" {
		t.Fatalf("imgtool help: %s", commandList.err)
	}
	return commandList.set
}

// parseCommandList reads the "Commands:" section of imgtool's usage text:
// indented lines "  name  description" up to the first blank line.
func parseCommandList(usage string) map[string]bool {
	set := map[string]bool{}
	in := false
	for _, line := range strings.Split(usage, "\n") {
		switch {
		case strings.TrimSpace(line) == "Commands:":
			in = true
		case in && strings.TrimSpace(line) == "":
			return set
		case in && strings.HasPrefix(line, "  "):
			if f := strings.Fields(line); len(f) > 0 {
				set[f[0]] = true
			}
		}
	}
	return set
}

// requireRoot skips (or fails under IMGTOOL_REQUIRE_PEERS=1) without root.
func requireRoot(t testing.TB) {
	t.Helper()
	dockertest.Require(t, "root")
}

// mountTmpfs mounts a tmpfs of size bytes at dir until the test ends.
func mountTmpfs(t testing.TB, dir string, size string) {
	t.Helper()
	requireRoot(t)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mount("tmpfs", dir, "tmpfs", 0, "size="+size+",mode=0755"); err != nil {
		if dockertest.PeersRequired() {
			t.Fatalf("cannot mount a tmpfs (%v); %s=1 makes this fatal", err, dockertest.EnvRequirePeers)
		}
		t.Skipf("cannot mount a tmpfs (%v)", err)
	}
	t.Cleanup(func() {
		if err := syscall.Unmount(dir, 0); err != nil {
			syscall.Unmount(dir, syscall.MNT_DETACH)
		}
	})
}

// copyTree copies a store with everything (owners, xattrs, devices).
func copyTree(t testing.TB, src, dst string) {
	t.Helper()
	if out, err := exec.Command("cp", "-a", src, dst).CombinedOutput(); err != nil {
		t.Fatalf("cp -a %s %s: %v\n%s", src, dst, err, out)
	}
}

func chownTree(t testing.TB, dir string, uid int) {
	t.Helper()
	if out, err := exec.Command("chown", "-R", fmt.Sprintf("%d:%d", uid, uid), dir).CombinedOutput(); err != nil {
		t.Fatalf("chown: %v\n%s", err, out)
	}
}

func fileHash(p string) string {
	b, err := os.ReadFile(p)
	if err != nil {
		return "ERR " + err.Error()
	}
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// dirEntries lists what is inside dir (recursively), for "nothing was
// left behind" checks.
func dirEntries(dir string) []string {
	var out []string
	filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if p != dir && err == nil {
			rel, _ := filepath.Rel(dir, p)
			out = append(out, rel)
		}
		return nil
	})
	return out
}

// checkStore runs `imgtool check --deep` and fails unless it passes with
// nothing to report but warnings.
func checkStore(t testing.TB, r run) {
	t.Helper()
	r.args = []string{"check", "--deep"}
	res := r.do(t)
	if res.code != 0 {
		t.Fatalf("store check failed:\n%s", res)
	}
}

// ---- archives -------------------------------------------------------------

type tarEnt struct {
	name string
	typ  byte
	body []byte
	link string
}

var epoch = time.Unix(1700000000, 0).UTC()

func mkTar(t testing.TB, ents ...tarEnt) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range ents {
		h := &tar.Header{Name: e.name, Typeflag: e.typ, Linkname: e.link, Mode: 0o644, ModTime: epoch, Size: int64(len(e.body))}
		if h.Typeflag == 0 {
			h.Typeflag = tar.TypeReg
		}
		if h.Typeflag == tar.TypeDir {
			h.Mode = 0o755
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		tw.Write(e.body)
	}
	tw.Close()
	return buf.Bytes()
}

func digest(b []byte) string {
	s := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(s[:])
}

type testImage struct {
	tag    string
	layers [][]byte
	config []byte
}

// ID is the image ID (sha256 of the config).
func (i testImage) ID() string { return digest(i.config) }

func newImage(tag string, layers ...[]byte) testImage {
	var diffs []string
	for _, l := range layers {
		diffs = append(diffs, digest(l))
	}
	cfg, _ := json.Marshal(map[string]any{
		"architecture": "amd64", "os": "linux", "created": epoch.Format(time.RFC3339),
		"config": map[string]any{"Cmd": []string{"/bin/sh"}, "Labels": map[string]string{"tag": tag}},
		"rootfs": map[string]any{"type": "layers", "diff_ids": diffs},
	})
	return testImage{tag: tag, layers: layers, config: cfg}
}

// writeArchive writes a docker-save (legacy manifest.json) archive.
func writeArchive(t testing.TB, path string, imgs ...testImage) {
	t.Helper()
	type item struct {
		Config   string
		RepoTags []string
		Layers   []string
	}
	var items []item
	var ents []tarEnt
	seen := map[string]bool{}
	for _, img := range imgs {
		cfgName := strings.TrimPrefix(img.ID(), "sha256:") + ".json"
		it := item{Config: cfgName, RepoTags: []string{img.tag}}
		if !seen[cfgName] {
			ents = append(ents, tarEnt{name: cfgName, body: img.config})
			seen[cfgName] = true
		}
		for _, l := range img.layers {
			p := strings.TrimPrefix(digest(l), "sha256:")[:32] + "/layer.tar"
			it.Layers = append(it.Layers, p)
			if !seen[p] {
				ents = append(ents, tarEnt{name: p, body: l})
				seen[p] = true
			}
		}
		items = append(items, it)
	}
	m, _ := json.Marshal(items)
	ents = append(ents, tarEnt{name: "manifest.json", body: m})
	if err := os.WriteFile(path, mkTar(t, ents...), 0o644); err != nil {
		t.Fatal(err)
	}
}

// randomLayer is a layer of n files of size bytes of seeded random data
// (incompressible), under dir/.
func randomLayer(t testing.TB, rnd *rand.Rand, dir string, n, size int) []byte {
	ents := []tarEnt{{name: dir + "/", typ: tar.TypeDir}}
	for i := 0; i < n; i++ {
		b := make([]byte, size)
		rnd.Read(b)
		ents = append(ents, tarEnt{name: fmt.Sprintf("%s/f%03d", dir, i), body: b})
	}
	return mkTar(t, ents...)
}

// imageIDs lists the image IDs in the store's imagedb.
func imageIDs(root string) map[string]bool {
	out := map[string]bool{}
	entries, _ := os.ReadDir(filepath.Join(root, "image", "overlay2", "imagedb", "content", "sha256"))
	for _, e := range entries {
		if len(e.Name()) == 64 {
			out["sha256:"+e.Name()] = true
		}
	}
	return out
}

func copyFile(t testing.TB, src, dst string) {
	t.Helper()
	in, err := os.Open(src)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	out, err := os.Create(dst)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(out, in); err != nil {
		t.Fatal(err)
	}
	if err := out.Close(); err != nil {
		t.Fatal(err)
	}
}
