package interop

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/imgtool/imgtool/internal/dockertest"
)

// TestCLIManagementForms: docker's image/container COMMAND forms print
// what docker prints.
func TestCLIManagementForms(t *testing.T) {
	d := cliSetup(t)
	f := "{{.Repository}}:{{.Tag}} {{.ID}}"
	for _, args := range [][]string{
		{"image", "ls", "--format", f},
		{"image", "list", "--filter", "dangling=false", "--format", f},
		{"image", "history", "--format", "{{.ID}} {{.Size}}", "cli-fmt:1"},
		{"image", "inspect", "-f", "{{.Id}} {{json .Config}}", "cli-fmt:1"},
		{"container", "ls", "-a", "--format", "{{.Names}} {{.Image}} {{.Status}}"},
		{"container", "ls", "--filter", "status=created", "--format", "{{.Names}}"},
	} {
		sameOutput(t, d, true, args, args)
	}
	r := dockertest.Imgtool(t, "image", "nope")
	if r.Code != 2 {
		t.Errorf("image nope: %s", r)
	}
	oneLine(t, "image nope", r)
}

func TestCLICompletionManagement(t *testing.T) {
	script := dockertest.MustImgtool(t, "completion", "bash")
	f := filepath.Join(t.TempDir(), "c.bash")
	if err := os.WriteFile(f, []byte(script), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("bash", "-c", `source `+f+`
COMP_WORDS=(imgtool im); COMP_CWORD=1; _imgtool; echo "${COMPREPLY[*]}"
COMP_WORDS=(imgtool image pr); COMP_CWORD=2; _imgtool; echo "${COMPREPLY[*]}"
COMP_WORDS=(imgtool --root /x image ls --fi); COMP_CWORD=5; _imgtool; echo "${COMPREPLY[*]}"
COMP_WORDS=(imgtool container ls --la); COMP_CWORD=3; _imgtool; echo "${COMPREPLY[*]}"
COMP_WORDS=(imgtool prune --fil); COMP_CWORD=2; _imgtool; echo "${COMPREPLY[*]}"
COMP_WORDS=(imgtool history --hu); COMP_CWORD=2; _imgtool; echo "${COMPREPLY[*]}"
COMP_WORDS=(imgtool images --dig); COMP_CWORD=2; _imgtool; echo "${COMPREPLY[*]}"
COMP_WORDS=(imgtool image ls --dig); COMP_CWORD=3; _imgtool; echo "${COMPREPLY[*]}"
COMP_WORDS=(imgtool save --plat); COMP_CWORD=2; _imgtool; echo "${COMPREPLY[*]}"`).CombinedOutput()
	if err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	if got, want := string(out), "image images import\nprune\n--filter\n--last --latest\n--filter\n--human\n--digests\n--digests\n--platform\n"; got != want {
		t.Errorf("completions = %q, want %q", got, want)
	}
	for _, sh := range []string{"zsh", "fish"} {
		if s := dockertest.MustImgtool(t, "completion", sh); !strings.Contains(s, "prune") || !strings.Contains(s, "container") {
			t.Errorf("%s completion lacks prune/container", sh)
		}
	}
}
