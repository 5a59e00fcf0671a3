package interop

import (
	"regexp"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/imgtool/imgtool/internal/dockertest"
)

// cliData builds, once per daemon, the images and containers the CLI
// tests compare docker's and imgtool's output on.
var cliData sync.Once

func cliSetup(t *testing.T) *dockertest.Daemon {
	t.Helper()
	d := dockertest.Shared(t)
	cliData.Do(func() {
		base := dockertest.BaseImage(t, d, "")
		d.Build(t, "cli-fmt:1", "FROM "+base+"\nLABEL a=b team=x\nRUN echo one > /one\nCMD [\"sh\", \"-c\", \"echo a long command line here\"]\n", nil)
		d.Docker(t, "tag", "cli-fmt:1", "cli-fmt:also")
		d.Docker(t, "tag", "cli-fmt:1", "localhost:5000/cli/fmt:v1")
		d.Build(t, "cli-fmt:moving", "FROM "+base+"\nRUN echo first > /moving\n", nil)
		d.Build(t, "cli-fmt:moving", "FROM "+base+"\nRUN echo second > /moving\n", nil)
		d.Docker(t, "create", "--network", "none", "--name", "cli-ctr1", "--label", "k=v", "--label", "z=1", "cli-fmt:1")
		d.Docker(t, "create", "--network", "none", "--name", "cli-ctr2", base, "sleep", "1")
		d.Docker(t, "run", "--network", "none", "--name", "cli-ctr3", base, "true")
	})
	return d
}

var sinceRE = regexp.MustCompile(`(\d+|About an?|Less than a) (seconds?|minutes?|hours?) ago`)

// normCLI hides what moves between two runs: "N seconds ago" and the
// column widths it changes.
func normCLI(s string) string {
	s = sinceRE.ReplaceAllString(strings.TrimSpace(s), "SINCE ago")
	s = regexp.MustCompile(`\\u003c`).ReplaceAllString(s, `\u003c`)
	return regexp.MustCompile(` {2,}`).ReplaceAllString(s, "  ")
}

// sameOutput runs docker ARGS and imgtool --root ROOT ARGS (imgArgs when
// the command's name differs) and compares stdout; sorted compares the
// lines after the first as a set (images of the same second have no order).
func sameOutput(t *testing.T, d *dockertest.Daemon, sorted bool, dockerArgs, imgArgs []string) {
	t.Helper()
	want, errOut, err := d.DockerErr(dockerArgs...)
	if err != nil {
		t.Fatalf("docker %q: %v\n%s", dockerArgs, err, errOut)
	}
	r := dockertest.Imgtool(t, append([]string{"--root", d.Root}, imgArgs...)...)
	if !r.OK() {
		t.Errorf("imgtool %q: %s", imgArgs, r)
		return
	}
	w, g := normCLI(want), normCLI(r.Stdout)
	if sorted {
		w, g = sortTail(w), sortTail(g)
	}
	if w != g {
		t.Errorf("imgtool %q differs from docker %q:\nimgtool:\n%s\ndocker:\n%s", imgArgs, dockerArgs, g, w)
	}
}

// sortTail sorts the rows below a table header (every row when there is
// none): docker's CLI lists an image's repositories in Go map order, so
// rows of one image come in no fixed order.
func sortTail(s string) string {
	lines := strings.Split(s, "\n")
	first := 0
	if len(lines) > 0 && lines[0] != "" && lines[0] == strings.ToUpper(lines[0]) && strings.ContainsAny(lines[0], "ABCDEFGHIJKLMNOPQRSTUVWXYZ") {
		first = 1 // a header: REPOSITORY   TAG …
	}
	sort.Strings(lines[first:])
	return strings.Join(lines, "\n")
}

// sameFailure runs both and wants both to fail; imgtool with exit 1 and
// one line of stderr containing want.
func sameFailure(t *testing.T, d *dockertest.Daemon, want string, dockerArgs, imgArgs []string) {
	t.Helper()
	if out, _, err := d.DockerErr(dockerArgs...); err == nil {
		t.Errorf("docker %q succeeded: %q", dockerArgs, out)
	}
	r := dockertest.Imgtool(t, append([]string{"--root", d.Root}, imgArgs...)...)
	if r.Code != 1 || !strings.Contains(r.Stderr, want) {
		t.Errorf("imgtool %q: want exit 1 and %q: %s", imgArgs, want, r)
	}
	oneLine(t, strings.Join(imgArgs, " "), r)
}

func TestCLIFormatImages(t *testing.T) {
	d := cliSetup(t)
	for _, args := range [][]string{
		{"images"},
		{"images", "--no-trunc"},
		{"images", "-a"},
		{"images", "-q"},
		{"images", "--format", "json"},
		{"images", "--no-trunc", "--format", "json"},
		{"images", "--format", "{{.Repository}}:{{.Tag}} {{.ID}} {{.Size}} {{.Digest}} {{.CreatedAt}} {{.VirtualSize}} {{.Containers}} {{.SharedSize}} {{.UniqueSize}} {{.CreatedSince}}"},
		{"images", "--format", `table {{.ID}}\t{{.Repository}}\t{{.Size}}\t{{.CreatedAt}}`},
		{"images", "--format", `table {{upper .Repository}}\t{{json .Tag}}\t{{.Digest}}`},
		{"images", "--format", `{{json .Repository}} {{join (split .Repository "/") "|"}} {{upper .Tag}} {{title .Tag}} {{lower .ID}} {{truncate .ID 4}} [{{pad .Tag 2 1}}] {{println .Size}}`},
		{"images", "--format", `{{index (split .Repository "/") 0}}`},
		{"images", "--format", "{{json .}}"},
	} {
		sameOutput(t, d, true, args, args)
	}
}

func TestCLIFormatPS(t *testing.T) {
	d := cliSetup(t)
	for _, args := range [][]string{
		{"ps", "-a"},
		{"ps", "-a", "--no-trunc"},
		{"ps", "-a", "-q"},
		{"ps", "-a", "--format", "json"},
		{"ps", "-a", "--format", `{{.ID}} {{.Image}} {{.Command}} {{.CreatedAt}} {{.RunningFor}} {{.State}} {{.Status}} {{.Names}} {{.Labels}} {{.Mounts}} {{.Label "k"}} {{.LocalVolumes}} {{.Ports}}`},
		{"ps", "-a", "--format", `table {{.Names}}\t{{.Status}}\t{{.Labels}}`},
	} {
		sameOutput(t, d, false, args, args)
	}
}

func TestCLIFormatHistory(t *testing.T) {
	d := cliSetup(t)
	for _, args := range [][]string{
		{"history", "cli-fmt:1"},
		{"history", "--no-trunc", "cli-fmt:1"},
		{"history", "-q", "cli-fmt:1"},
		{"history", "-H=false", "cli-fmt:1"},
		{"history", "--format", "json", "cli-fmt:1"},
		{"history", "--format", `table {{.ID}}\t{{.CreatedBy}}\t{{.Size}}\t{{.CreatedAt}}`, "cli-fmt:1"},
		{"history", "--no-trunc", "--format", `{{.ID}}|{{.CreatedSince}}|{{.CreatedBy}}|{{.Comment}}`, "cli-fmt:1"},
	} {
		sameOutput(t, d, false, args, args)
	}
}

func TestCLIFormatInspect(t *testing.T) {
	d := cliSetup(t)
	for _, f := range []string{
		"{{.Id}}", "{{json .Config}}", "{{.Config.Cmd}}", "{{index .RepoTags 0}}", "{{.Size}}",
		"{{json .RootFS}}", "{{.Os}}/{{.Architecture}}", "{{range .RootFS.Layers}}{{println .}}{{end}}",
		"{{.Config.Labels}}", "{{json .RepoTags}}", "{{.Config.Env}} {{.Parent}}", `{{index .Config.Labels "a"}}`,
	} {
		sameOutput(t, d, false, []string{"image", "inspect", "-f", f, "cli-fmt:1", "cli-fmt:moving"}, []string{"inspect", "-f", f, "cli-fmt:1", "cli-fmt:moving"})
	}
}

func TestCLIFormatErrors(t *testing.T) {
	d := cliSetup(t)
	for _, args := range [][]string{
		{"images", "--format", "{{.Nope}}"},
		{"images", "--format", "{{.ID"},
		{"images", "--format", "{{nofunc .ID}}"},
		{"ps", "-a", "--format", "{{.Nope}}"},
		{"history", "--format", "{{.Nope}}", "cli-fmt:1"},
	} {
		sameFailure(t, d, "template", args, args)
	}
	sameFailure(t, d, "template", []string{"image", "inspect", "-f", "{{.Nope}}", "cli-fmt:1"}, []string{"inspect", "-f", "{{.Nope}}", "cli-fmt:1"})
}

// TestCLIFormatJSONSchema: the --format json rows have exactly the keys
// docs/json.md lists.
func TestCLIFormatJSONSchema(t *testing.T) {
	d := cliSetup(t)
	for _, tc := range []struct {
		args []string
		keys string
	}{
		{[]string{"images", "--format", "json"}, "Containers CreatedAt CreatedSince Digest ID Repository SharedSize Size Tag UniqueSize VirtualSize"},
		{[]string{"ps", "-a", "--format", "json"}, "Command CreatedAt ID Image Labels LocalVolumes Mounts Names Networks Platform Ports RunningFor Size State Status"},
		{[]string{"history", "--format", "json", "cli-fmt:1"}, "Comment CreatedAt CreatedBy CreatedSince ID Size"},
	} {
		rows := jsonLines(t, dockertest.MustImgtool(t, append([]string{"--root", d.Root}, tc.args...)...))
		if len(rows) == 0 {
			t.Fatalf("%v: no rows", tc.args)
		}
		for _, m := range rows {
			var keys []string
			for k := range m {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			if got := strings.Join(keys, " "); got != tc.keys {
				t.Errorf("%v keys %q, docs/json.md says %q", tc.args, got, tc.keys)
			}
		}
	}
}
