package reliability

import (
	"math/rand"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/imgtool/imgtool/internal/dockertest"
)

// TestDiskFull loads 12 MiB of incompressible layers into a store on an
// 8 MiB tmpfs: the load fails naming the cause, and the store is exactly
// as before (no partial layer, write-set or overlay2 dir left).
func TestDiskFull(t *testing.T) {
	requireRoot(t)
	rnd := rand.New(rand.NewSource(*seedFlag))
	dir := t.TempDir()
	fs := filepath.Join(dir, "tmpfs")
	mountTmpfs(t, fs, "8m")
	root := filepath.Join(fs, "store")
	good := newImage("small:1", randomLayer(t, rnd, "small", 2, 64<<10))
	small := filepath.Join(dir, "small.tar")
	writeArchive(t, small, good)
	mustImgtool(t, root, "load", "-q", "-i", small)

	// Two layers: the first fits, the second does not.
	big := newImage("big:1", good.layers[0], randomLayer(t, rnd, "big1", 4, 1<<20), randomLayer(t, rnd, "big2", 8, 1<<20))
	archive := filepath.Join(dir, "big.tar")
	writeArchive(t, archive, big)
	before := dockertest.StoreListing(root)
	res := run{root: root, args: []string{"load", "-q", "-i", archive}, tmpdir: dir}.do(t)
	if res.code != 1 {
		t.Fatalf("load into a full disk: want exit 1\n%s", res)
	}
	msg := strings.TrimSpace(res.stderr)
	if strings.Contains(msg, "\n") || !strings.Contains(msg, "no space left on device") {
		t.Errorf("want a one-line error naming ENOSPC, got %q", msg)
	}
	if diff := dockertest.ListingDiff(before, dockertest.StoreListing(root)); diff != "" {
		t.Errorf("store changed by the failed load:\n%s", diff)
	}
	checkStore(t, run{root: root})
	// The space is back: a small load works again.
	other := newImage("other:1", randomLayer(t, rnd, "other", 2, 64<<10))
	writeArchive(t, small, other)
	mustImgtool(t, root, "load", "-q", "-i", small)
	checkStore(t, run{root: root})
	if _, err := os.Stat(filepath.Join(root, "image", "overlay2", "layerdb", "tmp")); err != nil {
		t.Fatal(err)
	}
	if left, _ := os.ReadDir(filepath.Join(root, "image", "overlay2", "layerdb", "tmp")); len(left) != 0 {
		t.Errorf("write-sets left: %v", left)
	}
}

// TestDiskFullSweep fills the disk at many different points of a load (a
// tmpfs pre-filled to leave 0..N KiB), so that ENOSPC hits while writing
// layer data, tar-split, layerdb files, the config and repositories.json.
// Every failure must leave the store as it was.
func TestDiskFullSweep(t *testing.T) {
	requireRoot(t)
	rnd := rand.New(rand.NewSource(*seedFlag))
	dir := t.TempDir()
	img := newImage("sweep:1", randomLayer(t, rnd, "s1", 3, 40<<10), randomLayer(t, rnd, "s2", 3, 40<<10))
	archive := filepath.Join(dir, "sweep.tar")
	writeArchive(t, archive, img)
	fs := filepath.Join(dir, "tmpfs")
	mountTmpfs(t, fs, "4m")
	root := filepath.Join(fs, "store")
	okSeen, failSeen := false, false
	for free := 0; free <= 400; free += 16 {
		os.RemoveAll(root)
		os.Remove(filepath.Join(fs, "filler"))
		// Create the skeleton with a harmless write, then fill the disk.
		seed := newImage("seed:1", randomLayer(t, rnd, "seed", 1, 1024))
		seedTar := filepath.Join(dir, "seed.tar")
		writeArchive(t, seedTar, seed)
		mustImgtool(t, root, "load", "-q", "-i", seedTar)
		fill(t, filepath.Join(fs, "filler"), fs, int64(free)<<10)
		before := dockertest.StoreListing(root)
		res := run{root: root, args: []string{"load", "-q", "-i", archive}, tmpdir: dir}.do(t)
		if res.code == 0 {
			okSeen = true
			checkStore(t, run{root: root})
			continue
		}
		failSeen = true
		msg := strings.TrimSpace(res.stderr)
		if strings.Contains(msg, "\n") || !strings.Contains(msg, "no space left on device") {
			t.Errorf("free %d KiB: want a one-line ENOSPC error, got %q", free, msg)
		}
		if diff := dockertest.ListingDiff(before, dockertest.StoreListing(root)); diff != "" {
			t.Errorf("free %d KiB: store changed by the failed load:\n%s", free, diff)
		}
		os.Remove(filepath.Join(fs, "filler"))
		checkStore(t, run{root: root})
	}
	if !failSeen || !okSeen {
		t.Logf("sweep did not cover both outcomes (fail %v, ok %v)", failSeen, okSeen)
	}
}

// fill writes a file that leaves about free bytes available on fs.
func fill(t *testing.T, path, fs string, free int64) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	buf := make([]byte, 4096)
	for {
		var st syscall.Statfs_t
		if err := syscall.Statfs(fs, &st); err != nil {
			t.Fatal(err)
		}
		avail := int64(st.Bavail) * int64(st.Bsize)
		if avail <= free {
			return
		}
		n := avail - free
		if n > int64(len(buf)) {
			n = int64(len(buf))
		}
		if _, err := f.Write(buf[:n]); err != nil {
			return
		}
	}
}
