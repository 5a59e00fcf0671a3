package reliability

import (
	"bytes"
	"fmt"
	"io/fs"
	"math/rand"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"
)

// opDurations runs each op once, uncontended, to spread signal times.
func opDurations(t *testing.T, f *crashFixture, ops []crashOp) map[string]time.Duration {
	t.Helper()
	dur := map[string]time.Duration{}
	for _, op := range ops {
		root := filepath.Join(t.TempDir(), "store")
		copyTree(t, f.template, root)
		start := time.Now()
		mustImgtool(t, root, op.args(f)...)
		dur[op.name] = time.Since(start)
	}
	return dur
}

// signalRun starts r, sends sig after delay and returns the exit code
// (-1: killed by the signal) and stderr.
func signalRun(t *testing.T, r run, sig syscall.Signal, delay time.Duration) (int, string) {
	t.Helper()
	cmd := r.command(t, t.Context())
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(delay)
	cmd.Process.Signal(sig)
	cmd.Wait()
	return cmd.ProcessState.ExitCode(), stderr.String()
}

// fileSet is the regular files of a store (but imgtool's lock file), by
// path and size: what an interrupted command must not change.
type fileSet struct {
	n, bytes int64
	list     string
}

func storeFiles(t *testing.T, root string) fileSet {
	t.Helper()
	var s fileSet
	var lines []string
	filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.Name() == "imgtool.lock" {
			return nil
		}
		info, err := d.Info()
		if err != nil {
			return nil
		}
		rel, _ := filepath.Rel(root, p)
		if info.Mode().IsRegular() {
			s.n++
			s.bytes += info.Size()
			lines = append(lines, fmt.Sprintf("%s %d", rel, info.Size()))
		} else {
			lines = append(lines, rel+" "+info.Mode().Type().String())
		}
		return nil
	})
	sort.Strings(lines)
	s.list = strings.Join(lines, "\n")
	return s
}

func (s fileSet) diff(before fileSet) string {
	old := map[string]bool{}
	for _, l := range strings.Split(before.list, "\n") {
		old[l] = true
	}
	var out []string
	now := map[string]bool{}
	for _, l := range strings.Split(s.list, "\n") {
		now[l] = true
		if !old[l] {
			out = append(out, "+ "+l)
		}
	}
	for l := range old {
		if !now[l] {
			out = append(out, "- "+l)
		}
	}
	sort.Strings(out)
	return truncate(strings.Join(out, "\n"), 3000)
}

// TestInterruptedLoadsLeaveNothing: three loads of an ~80 MB archive,
// each stopped by SIGINT half-way, leave the store's files as before.
func TestInterruptedLoadsLeaveNothing(t *testing.T) {
	if testing.Short() {
		t.Skip("writes 80 MB archives")
	}
	rnd := rand.New(rand.NewSource(*seedFlag))
	dir := t.TempDir()
	var layers [][]byte
	for i := 0; i < 5; i++ {
		layers = append(layers, randomLayer(t, rnd, fmt.Sprintf("l%d", i), 16, 1<<20))
	}
	archive := filepath.Join(dir, "big.tar")
	writeArchive(t, archive, newImage("big:1", layers...))
	root := filepath.Join(dir, "store")
	small := filepath.Join(dir, "small.tar")
	writeArchive(t, small, newImage("small:1", randomLayer(t, rnd, "s", 2, 4096)))
	mustImgtool(t, root, "load", "-q", "-i", small)
	before := storeFiles(t, root)
	// Time a load in another store, to signal half-way through.
	start := time.Now()
	mustImgtool(t, filepath.Join(dir, "timing"), "load", "-q", "-i", archive)
	half := time.Since(start) / 2
	os.RemoveAll(filepath.Join(dir, "timing"))
	stopped := 0
	for i := 0; i < 3; i++ {
		code, stderr := signalRun(t, run{root: root, args: []string{"load", "-q", "-i", archive}}, syscall.SIGINT, half)
		if code == 0 {
			mustImgtool(t, root, "rmi", "big:1") // it finished first: undo, try again
			continue
		}
		stopped++
		if code != 130 || strings.Count(strings.TrimSpace(stderr), "\n") != 0 {
			t.Fatalf("load %d: want exit 130 and one stderr line, got %d %q", i, code, stderr)
		}
	}
	t.Logf("%d of 3 loads stopped half-way (%v)", stopped, half)
	if after := storeFiles(t, root); after.bytes != before.bytes || after.n != before.n {
		t.Errorf("after %d interrupted loads: %d files, %d bytes; before: %d, %d\n%s", stopped, after.n, after.bytes, before.n, before.bytes, after.diff(before))
	}
	checkStore(t, run{root: root})
}
