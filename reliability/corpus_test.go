package reliability

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/imgtool/imgtool/internal/dockertest"
)

// corpusCase mirrors testdata/bad/gen's Case.
type corpusCase struct {
	Name         string   `json:"name"`
	Cmd          string   `json:"cmd"`
	File         string   `json:"file"`
	Args         []string `json:"args"`
	Expect       string   `json:"expect"`
	Want         string   `json:"want"`
	Setup        string   `json:"setup"`
	Tmpfs        bool     `json:"tmpfs"`
	Unprivileged bool     `json:"unprivileged"`
	Canaries     []string `json:"canaries"`
	MaxRSSMiB    int64    `json:"maxRSSMiB"`
	Doc          string   `json:"doc"`
}

func badDir(t testing.TB) string {
	t.Helper()
	root, err := dockertest.ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	return filepath.Join(root, "testdata", "bad")
}

func loadCases(t testing.TB) []corpusCase {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(badDir(t), "cases.json"))
	if err != nil {
		t.Fatal(err)
	}
	var cases []corpusCase
	if err := json.Unmarshal(b, &cases); err != nil {
		t.Fatal(err)
	}
	return cases
}

// TestCorpusUpToDate regenerates the corpus and compares it with the
// committed files, so a change to the generator is never half-applied.
func TestCorpusUpToDate(t *testing.T) {
	root, err := dockertest.ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	out := t.TempDir()
	cmd := exec.Command("go", "run", "./testdata/bad/gen", "-o", out)
	cmd.Dir = root
	if b, err := cmd.CombinedOutput(); err != nil {
		if _, lerr := exec.LookPath("go"); lerr != nil {
			t.Skip("no go tool on PATH")
		}
		t.Fatalf("go run ./testdata/bad/gen: %v\n%s", err, b)
	}
	committed := badDir(t)
	gen, _ := os.ReadDir(out)
	for _, e := range gen {
		want, _ := os.ReadFile(filepath.Join(out, e.Name()))
		got, err := os.ReadFile(filepath.Join(committed, e.Name()))
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("testdata/bad/%s is stale or missing: run `go run ./testdata/bad/gen`", e.Name())
		}
	}
	have, _ := os.ReadDir(committed)
	for _, e := range have {
		if e.IsDir() {
			continue
		}
		if _, err := os.Stat(filepath.Join(out, e.Name())); err != nil {
			t.Errorf("testdata/bad/%s is not made by the generator: remove it", e.Name())
		}
	}
}

var template struct {
	once sync.Once
	dir  string
	err  string
}

// templateStore is a store holding good:1, made once per test binary.
func templateStore(t *testing.T) string {
	t.Helper()
	template.once.Do(func() {
		dir, err := os.MkdirTemp("", "imgtool-rel-template-")
		if err != nil {
			template.err = err.Error()
			return
		}
		template.dir = filepath.Join(dir, "store")
		r := imgtool(t, template.dir, "load", "-i", filepath.Join(badDir(t), "good.tar"))
		if r.code != 0 {
			template.err = r.String()
		}
	})
	if template.err != "" {
		t.Fatalf("template store: %s", template.err)
	}
	t.Cleanup(func() {}) // the template lives until the process ends (temp dir)
	return template.dir
}

func TestHostileCorpus(t *testing.T) {
	cases := loadCases(t)
	if len(cases) < 40 {
		t.Fatalf("corpus has %d cases, want at least 40", len(cases))
	}
	// Every case's command must be one imgtool lists: a case whose command
	// is missing (or misspelt in the generator) fails instead of skipping.
	known := commands(t)
	for _, want := range []string{"load", "import", "export", "flatten", "convert"} {
		if !known[want] {
			t.Errorf("imgtool help does not list %q (commands: %v)", want, known)
		}
	}
	tmpl := templateStore(t)
	passwd := fileHash("/etc/passwd")
	var skipped []string
	for _, c := range cases {
		t.Run(c.Name, func(t *testing.T) {
			t.Cleanup(func() {
				if t.Skipped() {
					skipped = append(skipped, c.Name)
				}
			})
			if !known[c.Cmd] {
				t.Fatalf("corpus case for %q, which imgtool help does not list", c.Cmd)
			}
			runCase(t, c, tmpl, passwd)
		})
	}
	// A skip (no root, no tmpfs) is reported here by name, and is an error
	// when the full suite is required.
	if len(skipped) > 0 {
		msg := fmt.Sprintf("%d of %d corpus cases skipped: %s", len(skipped), len(cases), strings.Join(skipped, ", "))
		if dockertest.PeersRequired() {
			t.Error(msg)
		} else {
			t.Log(msg)
		}
	}
}

func runCase(t *testing.T, c corpusCase, tmpl, passwd string) {
	sandbox := t.TempDir()
	os.Chmod(sandbox, 0o755)
	os.Chmod(filepath.Dir(sandbox), 0o755) // testing makes it 0700; uid 65534 must get through
	base := sandbox
	if c.Tmpfs {
		base = filepath.Join(sandbox, "tmpfs")
		mountTmpfs(t, base, "8m")
	}
	if c.Unprivileged {
		requireRoot(t)
	}
	store := filepath.Join(base, "store")
	work := filepath.Join(sandbox, "work")
	tmp := filepath.Join(base, "tmp")
	outDir := filepath.Join(sandbox, "out")
	in := filepath.Join(sandbox, "in")
	for _, d := range []string{work, tmp, outDir, in} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	copyTree(t, tmpl, store)
	damage(t, c.Setup, store)
	input := ""
	if c.File != "" {
		input = filepath.Join(in, filepath.Base(c.File))
		copyFile(t, filepath.Join(badDir(t), c.File), input)
	}
	if c.Unprivileged {
		chownTree(t, sandbox, nobody)
	}
	for _, p := range c.Canaries {
		os.RemoveAll(p)
	}
	out := filepath.Join(outDir, "result.tar")
	var args []string
	for _, a := range c.Args {
		a = strings.ReplaceAll(a, "{file}", input)
		a = strings.ReplaceAll(a, "{out}", out)
		a = strings.ReplaceAll(a, "{image}", "good:1")
		args = append(args, a)
	}
	before := dockertest.StoreListing(store)
	r := run{root: store, args: args, dir: work, tmpdir: tmp, user: c.Unprivileged}
	if c.MaxRSSMiB > 0 {
		r.rss = filepath.Join(sandbox, "rss.txt")
		if _, err := os.Stat("/usr/bin/time"); err != nil {
			if os.Getenv("IMGTOOL_REQUIRE_PEERS") == "1" {
				t.Fatalf("GNU time (package time) measures the memory bound: %v", err)
			}
			t.Skipf("GNU time (package time) is missing: cannot measure this case's memory bound")
		}
	}
	res := r.do(t)
	t.Logf("exit %d, peak RSS %d KiB, stderr: %s", res.code, res.maxRSSKiB, strings.TrimSpace(res.stderr))
	// A bound on memory, not time: the limit cases are small archives
	// that ask for unbounded memory; the reader must refuse them within
	// its budget (the error names the count it stopped at).
	if c.MaxRSSMiB > 0 && res.maxRSSKiB > c.MaxRSSMiB<<10 {
		t.Errorf("peak RSS %d KiB, over the case's bound of %d MiB", res.maxRSSKiB, c.MaxRSSMiB)
	}

	// Nothing outside the target, whatever the outcome.
	for _, p := range c.Canaries {
		if _, err := os.Lstat(p); err == nil {
			t.Errorf("%s was created outside the store", p)
			os.RemoveAll(p)
		}
	}
	if got := fileHash("/etc/passwd"); got != passwd {
		t.Errorf("/etc/passwd changed")
	}
	if left := dirEntries(work); len(left) > 0 {
		t.Errorf("files left in the working directory: %q", left)
	}
	if left := dirEntries(tmp); len(left) > 0 {
		t.Errorf("files left in TMPDIR: %q", left)
	}

	switch c.Expect {
	case "fail":
		if res.code == 0 {
			t.Fatalf("succeeded, want failure containing %q\n%s", c.Want, res)
		}
		line := lastLine(res.stderr)
		if !strings.HasPrefix(line, "imgtool "+c.Cmd+": ") {
			t.Errorf("last stderr line %q is not imgtool's one-line error", line)
		}
		if !strings.Contains(line, c.Want) {
			t.Errorf("error %q does not contain %q", line, c.Want)
		}
		for _, l := range strings.Split(strings.TrimSpace(res.stderr), "\n") {
			if l != line && !progressLine.MatchString(l) {
				t.Errorf("unexpected stderr line besides the error: %q", l)
			}
		}
		if diff := dockertest.ListingDiff(before, dockertest.StoreListing(store)); diff != "" {
			t.Errorf("store changed:\n%s", diff)
		}
		if left := dirEntries(outDir); len(left) > 0 {
			t.Errorf("output left behind: %q", left)
		}
	case "ok":
		if res.code != 0 {
			t.Fatalf("failed, want success (Docker accepts this input):\n%s", res)
		}
		checkStore(t, run{root: store, user: c.Unprivileged, dir: work})
		// Clamped canaries must have landed inside a layer.
		for _, p := range c.Canaries {
			matches, _ := filepath.Glob(filepath.Join(store, "overlay2", "*", "diff", strings.TrimPrefix(p, "/")))
			if len(matches) == 0 {
				t.Errorf("%s was not clamped into the layer", p)
			}
		}
		if c.Unprivileged {
			filepath.WalkDir(store, func(p string, d fs.DirEntry, err error) error {
				if err == nil && d.Type()&(fs.ModeDevice|fs.ModeCharDevice) != 0 {
					t.Errorf("an unprivileged load created the device %s", p)
				}
				return nil
			})
		}
	default:
		t.Fatalf("case %s: unknown expectation %q", c.Name, c.Expect)
	}
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}

// progressLine matches the plain progress lines every command that moves
// data prints on a non-terminal stderr ("importing input: done, …").
var progressLine = regexp.MustCompile(`^(loading|importing|converting|exporting|committing|copying|flattening|pulling|pushing|saving) \S.*: `)

// messages drops the progress lines from stderr, leaving what the command
// said (its error line, if any).
func messages(stderr string) string {
	var out []string
	for _, l := range strings.Split(strings.TrimSpace(stderr), "\n") {
		if !progressLine.MatchString(l) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// damage applies an export case's store damage to the (one-layer) store.
func damage(t *testing.T, setup, store string) {
	t.Helper()
	if setup == "" {
		return
	}
	layers, _ := filepath.Glob(filepath.Join(store, "image", "overlay2", "layerdb", "sha256", "*"))
	configs, _ := filepath.Glob(filepath.Join(store, "image", "overlay2", "imagedb", "content", "sha256", "*"))
	if len(layers) != 1 || len(configs) != 1 {
		t.Fatalf("template store should have one layer and one image, has %d and %d", len(layers), len(configs))
	}
	cacheID, _ := os.ReadFile(filepath.Join(layers[0], "cache-id"))
	var err error
	switch setup {
	case "remove-layerdb":
		err = os.RemoveAll(layers[0])
	case "cache-id-escape":
		err = os.WriteFile(filepath.Join(layers[0], "cache-id"), []byte("../../../../etc"), 0o644)
	case "tamper-config":
		var b []byte
		if b, err = os.ReadFile(configs[0]); err == nil {
			err = os.WriteFile(configs[0], append(b, ' '), 0o600)
		}
	case "remove-diff":
		err = os.RemoveAll(filepath.Join(store, "overlay2", string(cacheID), "diff"))
	default:
		t.Fatalf("unknown setup %q", setup)
	}
	if err != nil {
		t.Fatal(err)
	}
}
