package reliability

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/imgtool/imgtool/internal/dockertest"
)

// TestReadOnlyStore: the reading commands work on a store they cannot
// write: a read-only bind mount (no lock file yet, so none can be created)
// and a store chmod'ed world-readable, read by uid 65534. Each gives the
// same output as root gets on the writable store.
func TestReadOnlyStore(t *testing.T) {
	dockertest.Require(t, "root")
	mod, err := dockertest.ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	sandbox := t.TempDir()
	os.Chmod(sandbox, 0o755)
	os.Chmod(filepath.Dir(sandbox), 0o755)
	store := filepath.Join(sandbox, "store")
	in := filepath.Join(mod, "testdata", "flatten", "special.tar")
	run{root: store, args: []string{"load", "-q", "-i", in}}.must(t)
	run{root: store, args: []string{"create", "--name", "c1", "flatten-corpus/special:1", "true"}}.must(t)
	// A store imgtool never locked, like a Docker data root: no lock file.
	if err := os.Remove(filepath.Join(store, "image", "overlay2", "imgtool.lock")); err != nil {
		t.Fatal(err)
	}
	commands := [][]string{
		{"images", "--no-trunc"},
		{"inspect", "flatten-corpus/special:1"},
		{"save", "flatten-corpus/special:1"},
		{"export", "c1"},
		{"export", "flatten-corpus/special:1"},
		{"check", "--deep"},
	}
	ro := filepath.Join(sandbox, "ro")
	readOnlyBind(t, store, ro)
	readable := filepath.Join(sandbox, "readable")
	copyReadable(t, store, readable)
	roReadable := filepath.Join(sandbox, "ro-readable")
	readOnlyBind(t, readable, roReadable)
	// Each case is compared with root's output on the original store. A
	// container's layers have no tar-split, so its export reads the dirs
	// and shows the chmod: it is compared with root's on the same copy.
	for _, tc := range []struct {
		name      string
		root, src string
		user      bool
	}{{"ro-mount", ro, store, false}, {"chmod-nobody", readable, readable, true}, {"ro-mount-nobody", roReadable, readable, true}} {
		for _, args := range commands {
			t.Run(tc.name+"/"+args[0]+"-"+filepath.Base(args[1]), func(t *testing.T) {
				src := store
				if args[1] == "c1" {
					src = tc.src
				}
				want := run{root: src, args: args}.must(t).stdout
				got := run{root: tc.root, user: tc.user, dir: sandbox, args: args}.must(t).stdout
				// inspect shows the layer dirs' paths, under the root given.
				if strings.ReplaceAll(got, tc.root, src) != want {
					t.Fatalf("imgtool %v on a read-only store differs from the writable store's output", args)
				}
			})
		}
	}
}

// readOnlyBind bind-mounts dir at mnt read-only until the test ends.
func readOnlyBind(t *testing.T, dir, mnt string) {
	t.Helper()
	if err := os.Mkdir(mnt, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := unix.Mount(dir, mnt, "", unix.MS_BIND, ""); err != nil {
		t.Skipf("bind mount: %v", err)
	}
	t.Cleanup(func() { unix.Unmount(mnt, unix.MNT_DETACH) })
	if err := unix.Mount("", mnt, "", unix.MS_BIND|unix.MS_REMOUNT|unix.MS_RDONLY, ""); err != nil {
		t.Fatalf("remount read-only: %v", err)
	}
}

// copyReadable copies the store and makes every file readable and every
// dir searchable by others (chmod -R a+rX); the owner stays root.
func copyReadable(t *testing.T, src, dst string) {
	t.Helper()
	copyTree(t, src, dst)
	if out, err := exec.Command("chmod", "-R", "a+rX", dst).CombinedOutput(); err != nil {
		t.Fatalf("chmod: %v\n%s", err, out)
	}
}
