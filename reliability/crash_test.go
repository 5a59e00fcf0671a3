package reliability

import (
	"encoding/json"
	"flag"
	"fmt"
	"math/rand"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

var (
	trialsFlag = flag.Int("trials", 0, "crash trials (default 50, or $IMGTOOL_CRASH_TRIALS)")
	seedFlag   = flag.Int64("seed", 1, "seed of the crash and concurrency tests")
)

func crashTrials() int {
	if *trialsFlag > 0 {
		return *trialsFlag
	}
	if n, err := strconv.Atoi(os.Getenv("IMGTOOL_CRASH_TRIALS")); err == nil && n > 0 {
		return n
	}
	if testing.Short() {
		return 6 // make unit: a quick pass; the full run has 50
	}
	return 50
}

// crashFixture is a store with images a:1 and b:1 (sharing a base layer),
// an archive of c:1 and d:1 (the same base, a shared middle layer), and a
// rootfs tar to import.
type crashFixture struct {
	template string
	archive  string
	rootfs   string
	a, b     testImage
	c, d     testImage
	ctr      bool // the template has a container "ctr" of a:1 (for commit)
}

func newCrashFixture(t *testing.T, rnd *rand.Rand) *crashFixture {
	dir := t.TempDir()
	const kb = 1024
	base := randomLayer(t, rnd, "base", 4, 256*kb)
	f := &crashFixture{template: filepath.Join(dir, "template")}
	f.a = newImage("a:1", base, randomLayer(t, rnd, "a1", 4, 256*kb), randomLayer(t, rnd, "a2", 4, 256*kb))
	f.b = newImage("b:1", base, randomLayer(t, rnd, "b1", 2, 256*kb))
	mid := randomLayer(t, rnd, "cd", 4, 256*kb)
	f.c = newImage("c:1", base, mid, randomLayer(t, rnd, "c2", 6, 256*kb), randomLayer(t, rnd, "c3", 6, 256*kb))
	f.d = newImage("d:1", base, mid, randomLayer(t, rnd, "d2", 6, 256*kb))
	ab := filepath.Join(dir, "ab.tar")
	writeArchive(t, ab, f.a, f.b)
	f.archive = filepath.Join(dir, "cd.tar")
	writeArchive(t, f.archive, f.c, f.d)
	f.rootfs = filepath.Join(dir, "rootfs.tar")
	if err := os.WriteFile(f.rootfs, randomLayer(t, rnd, "imp", 12, 256*kb), 0o644); err != nil {
		t.Fatal(err)
	}
	mustImgtool(t, f.template, "load", "-i", ab)
	if hasCommand(t, "create") && hasCommand(t, "commit") {
		mustImgtool(t, f.template, "create", "--name", "ctr", "a:1")
		f.ctr = true
	}
	return f
}

type crashOp struct {
	name string
	args func(f *crashFixture) []string
	// after checks the images the op may affect: each is present (checked
	// by `check`) or absent; the others must be present and tagged.
	mayChange []string // tags whose image may be gone or added
}

func crashOps(t *testing.T, f *crashFixture) []crashOp {
	ops := []crashOp{
		{name: "load", args: func(f *crashFixture) []string { return []string{"load", "-q", "-i", f.archive} }, mayChange: []string{"c:1", "d:1"}},
		{name: "tag", args: func(f *crashFixture) []string { return []string{"tag", "a:1", "x:1"} }, mayChange: []string{"x:1"}},
		{name: "rmi", args: func(f *crashFixture) []string { return []string{"rmi", "a:1"} }, mayChange: []string{"a:1"}},
		{name: "rmi-two", args: func(f *crashFixture) []string { return []string{"rmi", "b:1", "a:1"} }, mayChange: []string{"a:1", "b:1"}},
	}
	if hasCommand(t, "import") {
		ops = append(ops, crashOp{name: "import", args: func(f *crashFixture) []string { return []string{"import", f.rootfs, "imp:1"} }, mayChange: []string{"imp:1"}})
	} else {
		t.Log("no import command: not crash-tested")
	}
	if f.ctr {
		ops = append(ops, crashOp{name: "commit", args: func(f *crashFixture) []string { return []string{"commit", "ctr", "com:1"} }, mayChange: []string{"com:1"}})
	} else {
		t.Log("no create/commit command: commit not crash-tested")
	}
	if f.ctr {
		// a:1 is used by the container: rmi a:1 only untags it.
		for i := range ops {
			if strings.HasPrefix(ops[i].name, "rmi") {
				ops[i].mayChange = append(ops[i].mayChange, "a:1")
			}
		}
	}
	return ops
}

func readTags(t *testing.T, root string) map[string]string {
	out := map[string]string{}
	b, err := os.ReadFile(filepath.Join(root, "image", "overlay2", "repositories.json"))
	if err != nil {
		return out
	}
	var tf struct{ Repositories map[string]map[string]string }
	if err := json.Unmarshal(b, &tf); err != nil {
		t.Fatalf("repositories.json is corrupt: %v", err)
	}
	for _, refs := range tf.Repositories {
		for r, id := range refs {
			out[r] = id
		}
	}
	return out
}

// TestCrashSafety SIGKILLs writers at random points; afterwards every image
// is whole or absent and `check` passes, after `check --repair` when only
// leftovers of the interrupted write remain.
func TestCrashSafety(t *testing.T) {
	seed := *seedFlag
	rnd := rand.New(rand.NewSource(seed))
	f := newCrashFixture(t, rnd)
	ops := crashOps(t, f)
	// Uncontended durations, to spread kill points over each op's run.
	dur := map[string]time.Duration{}
	for _, op := range ops {
		root := filepath.Join(t.TempDir(), "store")
		copyTree(t, f.template, root)
		start := time.Now()
		mustImgtool(t, root, op.args(f)...)
		dur[op.name] = time.Since(start)
		t.Logf("%s takes %v uncontended", op.name, dur[op.name])
	}
	trials := crashTrials()
	t.Logf("%d trials, seed %d (-trials N / IMGTOOL_CRASH_TRIALS, -seed S)", trials, seed)
	before := readTags(t, f.template)
	killed, repaired := 0, 0
	for i := 0; i < trials; i++ {
		op := ops[i%len(ops)]
		delay := time.Duration(rnd.Int63n(int64(dur[op.name])*11/10 + 1))
		root := filepath.Join(t.TempDir(), "store")
		copyTree(t, f.template, root)
		r := run{root: root, args: op.args(f)}
		cmd := r.command(t, t.Context())
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(delay)
		if cmd.Process.Signal(syscall.SIGKILL) == nil {
			if err := cmd.Wait(); err != nil {
				killed++
			}
		} else {
			cmd.Wait()
		}
		if t.Failed() {
			return
		}
		// Leftovers of the interrupted write are garbage, never errors.
		res := run{root: root, args: []string{"check"}}.do(t)
		if res.code != 0 {
			for _, l := range strings.Split(strings.TrimSpace(res.stdout), "\n") {
				if !strings.HasPrefix(l, "garbage: ") && !strings.HasPrefix(l, "warning: ") {
					t.Fatalf("trial %d (%s killed after %v): check found damage, not leftovers: %q\n%s", i, op.name, delay, l, res)
				}
			}
			repaired++
			run{root: root, args: []string{"check", "--repair"}}.must(t)
		} else if strings.Contains(res.stdout, "warning: ") {
			run{root: root, args: []string{"check", "--repair"}}.must(t)
		}
		res = run{root: root, args: []string{"check", "--deep"}}.must(t)
		if strings.TrimSpace(res.stdout) != "" {
			t.Fatalf("trial %d (%s killed after %v): store not clean after repair:\n%s", i, op.name, delay, res.stdout)
		}
		// Unaffected tags are intact; affected ones name whole images or are gone.
		after := readTags(t, root)
		ids := imageIDs(root)
		for ref, id := range before {
			if contains(op.mayChange, ref) {
				continue
			}
			if after[ref] != id {
				t.Fatalf("trial %d (%s killed after %v): tag %s changed from %s to %q", i, op.name, delay, ref, id, after[ref])
			}
		}
		for ref, id := range after {
			if !ids[id] {
				t.Fatalf("trial %d: tag %s names missing image %s", i, ref, id)
			}
		}
		// The store stays usable: the op completes when run again.
		if op.name == "load" || op.name == "tag" || op.name == "import" {
			run{root: root, args: op.args(f)}.must(t)
			run{root: root, args: []string{"check", "--deep"}}.must(t)
		}
	}
	t.Logf("%d of %d runs killed before they finished; %d needed check --repair", killed, trials, repaired)
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// TestInterruptSafety sends SIGINT or SIGTERM to writers at random points:
// each exits 130/143 with one line on stderr and the store exactly as
// before, or finishes (exit 0) with a clean store.
func TestInterruptSafety(t *testing.T) {
	rnd := rand.New(rand.NewSource(*seedFlag))
	f := newCrashFixture(t, rnd)
	var ops []crashOp
	for _, op := range crashOps(t, f) {
		if op.name == "load" || op.name == "import" || op.name == "commit" {
			ops = append(ops, op)
		}
	}
	// save writes no store: an interrupted one must leave no output.
	outDir := filepath.Join(t.TempDir(), "out")
	saveTo := filepath.Join(outDir, "ab.tar")
	os.Mkdir(outDir, 0o755)
	ops = append(ops, crashOp{name: "save", args: func(*crashFixture) []string {
		return []string{"--progress", "none", "save", "-o", saveTo, "a:1", "b:1"}
	}})
	dur := opDurations(t, f, ops)
	sigs := []syscall.Signal{syscall.SIGINT, syscall.SIGTERM}
	trials := max(crashTrials()/2, 2*len(ops))
	stopped := 0
	for i := 0; i < trials; i++ {
		op, sig := ops[i%len(ops)], sigs[(i/len(ops))%2]
		delay := time.Duration(rnd.Int63n(int64(dur[op.name]) + 1))
		root := filepath.Join(t.TempDir(), "store")
		copyTree(t, f.template, root)
		before := storeFiles(t, root)
		os.RemoveAll(outDir)
		os.Mkdir(outDir, 0o755)
		code, stderr := signalRun(t, run{root: root, args: op.args(f), tmpdir: outDir}, sig, delay)
		what := fmt.Sprintf("trial %d (%s, %v after %v)", i, op.name, sig, delay)
		switch code {
		case 0:
			checkStore(t, run{root: root})
			continue
		case 128 + int(sig):
			stopped++
			if lines := strings.Split(strings.TrimSpace(stderr), "\n"); len(lines) != 1 || !strings.Contains(stderr, "rolled back") {
				t.Errorf("%s: want one stderr line saying what was rolled back, got %q", what, stderr)
			}
		case -1:
			// Killed by the signal before the runtime installed its
			// handler: before the command touched the store.
		default:
			t.Fatalf("%s: want exit 0 or %d, got %d: %q", what, 128+int(sig), code, stderr)
		}
		if after := storeFiles(t, root); after != before {
			t.Errorf("%s: store changed:\n%s", what, after.diff(before))
		}
		if left := dirEntries(outDir); len(left) > 0 {
			t.Errorf("%s: output or temp files left: %q", what, left)
		}
		if res := (run{root: root, args: []string{"check", "--deep"}}).do(t); res.code != 0 || strings.TrimSpace(res.stdout) != "" {
			t.Fatalf("%s: store not clean:\n%s", what, res)
		}
	}
	t.Logf("%d of %d runs stopped by the signal", stopped, trials)
}

// TestKilledWriterCleanedByNextWriter SIGKILLs loads; the next writer (the
// same load again) removes the leftovers: then `check` finds nothing but
// warnings and the store holds the bytes of one clean load.
func TestKilledWriterCleanedByNextWriter(t *testing.T) {
	rnd := rand.New(rand.NewSource(*seedFlag + 1))
	f := newCrashFixture(t, rnd)
	ops := crashOps(t, f)[:1] // load
	dur := opDurations(t, f, ops)
	clean := filepath.Join(t.TempDir(), "clean")
	copyTree(t, f.template, clean)
	mustImgtool(t, clean, ops[0].args(f)...)
	want := storeFiles(t, clean)
	for i := 0; i < max(crashTrials()/5, 4); i++ {
		delay := time.Duration(rnd.Int63n(int64(dur["load"]) + 1))
		root := filepath.Join(t.TempDir(), "store")
		copyTree(t, f.template, root)
		signalRun(t, run{root: root, args: ops[0].args(f)}, syscall.SIGKILL, delay)
		mustImgtool(t, root, ops[0].args(f)...) // the next writer
		res := run{root: root, args: []string{"check"}}.do(t)
		for _, l := range strings.Split(strings.TrimSpace(res.stdout), "\n") {
			if l != "" && !strings.HasPrefix(l, "warning: ") {
				t.Fatalf("trial %d (killed after %v): left after the next writer: %q", i, delay, l)
			}
		}
		if got := storeFiles(t, root); got.bytes != want.bytes || got.n != want.n {
			t.Errorf("trial %d (killed after %v): %d files, %d bytes; a clean load has %d, %d:\n%s", i, delay, got.n, got.bytes, want.n, want.bytes, idFreeDiff(got, want))
		}
	}
}

// idFreeDiff is the difference of two stores' file lists with cache IDs,
// layer link names and digests blanked (they differ from store to store):
// a line the first store has more often than the second is "+", less "-".
func idFreeDiff(got, want fileSet) string {
	blank := regexp.MustCompile(`[0-9a-f]{64}|\b[A-Z0-9]{26}\b`)
	count := func(s fileSet) map[string]int {
		m := map[string]int{}
		for _, l := range strings.Split(s.list, "\n") {
			m[blank.ReplaceAllString(l, "…")]++
		}
		return m
	}
	g, w := count(got), count(want)
	var out []string
	for l, n := range g {
		if n > w[l] {
			out = append(out, fmt.Sprintf("+ %s (×%d)", l, n-w[l]))
		}
	}
	for l, n := range w {
		if n > g[l] {
			out = append(out, fmt.Sprintf("- %s (×%d)", l, n-g[l]))
		}
	}
	sort.Strings(out)
	return strings.Join(out, "\n")
}
