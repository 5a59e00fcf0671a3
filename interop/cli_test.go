package interop

import (
	"crypto/sha256"
	"encoding/hex"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/imgtool/imgtool/internal/dockertest"
)

// sampleArchive is the committed Docker 20.10 save of three tags.
func sampleArchive(t *testing.T) string {
	t.Helper()
	root, err := dockertest.ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	return filepath.Join(root, "testdata", "archive", "docker20.10-save.tar")
}

func TestProgressModes(t *testing.T) {
	archive := sampleArchive(t)

	// In a pipe, auto means plain lines on stderr; stdout keeps docker's lines.
	r := dockertest.Imgtool(t, "--root", newStore(t), "--progress", "auto", "load", "-i", archive)
	if !r.OK() || !regexp.MustCompile(`(?m)^loading [0-9a-f]{12}: done, `).MatchString(r.Stderr) {
		t.Fatalf("plain progress missing: %s", r)
	}
	if strings.Contains(r.Stdout, "loading") || !strings.Contains(r.Stdout, "Loaded image: arch-fix/app:2") {
		t.Fatalf("stdout mixes progress and result: %q", r.Stdout)
	}

	// -q silences progress; docker load -q still prints its Loaded image lines.
	r = dockertest.Imgtool(t, "--root", newStore(t), "--progress", "plain", "load", "-q", "-i", archive)
	if !r.OK() || !strings.Contains(r.Stdout, "Loaded image: arch-fix/app:2") || r.Stderr != "" {
		t.Fatalf("-q: want only the Loaded image lines: %s", r)
	}
	r = dockertest.Imgtool(t, "--root", newStore(t), "--progress", "none", "load", "-i", archive)
	if !r.OK() || r.Stderr != "" {
		t.Fatalf("--progress none printed on stderr: %s", r)
	}

	// Under a pseudo-terminal, auto draws bars (mpb: counters and a bar frame).
	bin := dockertest.ImgtoolBinary(t)
	cmd := exec.Command("script", "-qec", "stty cols 120 rows 40; "+bin+" --root "+newStore(t)+" load -i "+archive, "/dev/null")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("under a pty: %v\n%s", err, out)
	}
	if !regexp.MustCompile(`loading [0-9a-f]{12} .*\[`).Match(out) || !strings.Contains(string(out), " KB") {
		t.Fatalf("no progress bars under a pty:\n%q", out)
	}
}

func TestLoadJSON(t *testing.T) {
	r := dockertest.Imgtool(t, "--root", newStore(t), "load", "--json", "-i", sampleArchive(t))
	if !r.OK() {
		t.Fatal(r)
	}
	doc := decodeResult(t, "load", r.Stdout)
	if doc.Command != "load" || len(doc.Images) != 2 {
		t.Fatalf("unexpected result: %+v", doc)
	}
	for _, im := range doc.Images {
		if im.DiffIDs[0] != im.ChainIDs[0] || !strings.HasPrefix(im.ID, "sha256:") {
			t.Fatalf("bad image result %+v", im)
		}
	}
}

func TestHelpAndUsage(t *testing.T) {
	r := dockertest.Imgtool(t, "--help")
	if !r.OK() {
		t.Fatal(r)
	}
	cmds := regexp.MustCompile(`(?m)^  ([a-z]+) `).FindAllStringSubmatch(r.Stdout, -1)
	if len(cmds) < 10 {
		t.Fatalf("help lists %d commands:\n%s", len(cmds), r.Stdout)
	}
	for _, m := range cmds {
		h := dockertest.Imgtool(t, "help", m[1])
		if !h.OK() || !strings.HasPrefix(h.Stdout, "Usage: imgtool "+m[1]) {
			t.Errorf("help %s: %s", m[1], h)
		}
		h2 := dockertest.Imgtool(t, m[1], "--help")
		if h2.Stdout != h.Stdout {
			t.Errorf("%s --help differs from help %s", m[1], m[1])
		}
	}
	for _, args := range [][]string{{"nosuchcommand"}, {"save", "--nosuchflag", "x"}, {"tag", "onlyone"}} {
		r := dockertest.Imgtool(t, args...)
		if r.Code != 2 || strings.Count(strings.TrimSpace(r.Stderr), "\n") > 2 {
			t.Errorf("%v: want exit 2 and a short message, got %s", args, r)
		}
	}
	r = dockertest.Imgtool(t, "--root", newStore(t), "inspect", "nosuch:image")
	if r.Code != 1 || strings.TrimSpace(r.Stderr) != "imgtool inspect: No such image: nosuch:image" {
		t.Errorf("inspect of a missing image: %s", r)
	}
}

func TestSaveRefusesTerminal(t *testing.T) {
	st := newStore(t)
	dockertest.MustImgtool(t, "--root", st, "load", "-q", "-i", sampleArchive(t))
	bin := dockertest.ImgtoolBinary(t)
	out, err := exec.Command("script", "-qec", bin+" --root "+st+" save arch-fix/base:1", "/dev/null").CombinedOutput()
	if err == nil || !strings.Contains(string(out), "refusing to write an archive to a terminal") {
		t.Fatalf("save to a terminal: %v %q", err, out)
	}
	if len(out) > 300 {
		t.Fatalf("save wrote data to the terminal: %d bytes", len(out))
	}
	_ = os.Stdout
}

func TestBashCompletion(t *testing.T) {
	script := dockertest.MustImgtool(t, "completion", "bash")
	f := filepath.Join(t.TempDir(), "c.bash")
	if err := os.WriteFile(f, []byte(script), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("bash", "-c", `source `+f+`
COMP_WORDS=(imgtool lo); COMP_CWORD=1; _imgtool; echo "${COMPREPLY[*]}"
COMP_WORDS=(imgtool --root /x sa); COMP_CWORD=3; _imgtool; echo "${COMPREPLY[*]}"
COMP_WORDS=(imgtool import --con); COMP_CWORD=2; _imgtool; echo "${COMPREPLY[*]}"`).CombinedOutput()
	if err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	if got := string(out); got != "load login logout\nsave\n--config-from\n" {
		t.Fatalf("completions = %q", got)
	}
	for _, sh := range []string{"zsh", "fish"} {
		if s := dockertest.MustImgtool(t, "completion", sh); !strings.Contains(s, "export") {
			t.Errorf("%s completion lacks commands", sh)
		}
	}
	if r := dockertest.Imgtool(t, "completion", "tcsh"); r.Code != 2 {
		t.Errorf("unknown shell: %s", r)
	}
}

func TestSaveJSON(t *testing.T) {
	st := newStore(t)
	dockertest.MustImgtool(t, "--root", st, "load", "-q", "-i", sampleArchive(t))
	out := filepath.Join(t.TempDir(), "o.tar")
	r := dockertest.Imgtool(t, "--root", st, "save", "--json", "-o", out, "arch-fix/app:2")
	if !r.OK() {
		t.Fatal(r)
	}
	doc := decodeResult(t, "save", r.Stdout)
	data, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(data)
	if doc.Command != "save" || doc.Bytes != int64(len(data)) || doc.SHA256 != "sha256:"+hex.EncodeToString(sum[:]) ||
		len(doc.Images) != 1 || doc.Images[0].Tags[0] != "arch-fix/app:2" || len(doc.Images[0].DiffIDs) != 2 {
		t.Fatalf("save --json = %+v", doc)
	}
	// To stdout, the result goes to stderr and the archive stays clean.
	r = dockertest.Imgtool(t, "--root", st, "save", "--json", "arch-fix/app:2")
	if !r.OK() || !strings.Contains(r.Stderr, `"command": "save"`) || int64(len(r.Stdout)) != doc.Bytes {
		t.Fatalf("save --json to stdout: stderr %q, %d bytes", r.Stderr, len(r.Stdout))
	}
}
