package dockertest

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestMain(m *testing.M) { os.Exit(Main(m)) }

func TestStoreListing(t *testing.T) {
	dir := t.TempDir()
	if got := StoreListing(filepath.Join(dir, "nope")); got != "(missing)\n" {
		t.Fatalf("missing root: %q", got)
	}
	os.MkdirAll(filepath.Join(dir, "a/b"), 0o755)
	os.WriteFile(filepath.Join(dir, "a/f"), []byte("x"), 0o600)
	os.Symlink("../f", filepath.Join(dir, "a/b/l"))
	l1 := StoreListing(dir)
	for _, want := range []string{"a/f -rw------- 0:0 size=1 sha256=2d711642b726b04401627ca9fbac32f5c8530fb1903cc4db02258717921a4881", "a/b/l Lrwxrwxrwx", "-> ../f"} {
		// The listing names the owner; the files are the test user's own.
		want = strings.Replace(want, " 0:0", fmt.Sprintf(" %d:%d", os.Geteuid(), os.Getegid()), 1)
		if !strings.Contains(l1, want) {
			t.Errorf("listing lacks %q:\n%s", want, l1)
		}
	}
	os.WriteFile(filepath.Join(dir, "a/f"), []byte("y"), 0o600)
	l2 := StoreListing(dir)
	if d := ListingDiff(l1, l2); !strings.Contains(d, "- a/f") || !strings.Contains(d, "+ a/f") {
		t.Errorf("diff: %q", d)
	}
}

func TestDaemonLifecycle(t *testing.T) {
	d := Shared(t)
	base := BaseImage(t, d, "")
	if got := d.Run(t, base, "cat", "/etc/motd"); got != "hello" {
		t.Fatalf("motd = %q", got)
	}
	id := d.Build(t, "dockertest-rich:1", RichDockerfile(base, "selftest"), RichFiles("selftest"))
	if !strings.HasPrefix(id, "sha256:") {
		t.Fatalf("id %q", id)
	}
	layers := d.Docker(t, "image", "inspect", "-f", "{{len .RootFS.Layers}}", id)
	if layers != "5" {
		t.Errorf("layers = %s, want 5", layers)
	}
	out := d.Run(t, id, RichCheck...)
	if strings.Contains(out, "BAD") || !strings.Contains(out, "MARKER=selftest") {
		t.Errorf("rich check:\n%s", out)
	}
	t.Logf("rich check:\n%s", out)
	if _, err := os.Stat(filepath.Join(d.Root, "image", "overlay2", "repositories.json")); err != nil {
		t.Errorf("data root: %v", err)
	}
}

func TestDaemonRestart(t *testing.T) {
	d := Start(t)
	base := BaseImage(t, d, "x-bb:1")
	id := d.ImageID(t, base)
	if err := d.Stop(); err != nil {
		t.Fatal(err)
	}
	if d.Running() {
		t.Fatal("still running")
	}
	if _, _, err := d.DockerErr("version"); err == nil {
		t.Fatal("docker version succeeded against a stopped daemon")
	}
	if err := d.Restart(); err != nil {
		t.Fatal(err)
	}
	if got := d.ImageID(t, base); got != id {
		t.Fatalf("after restart %s != %s", got, id)
	}
}
