package interop

import (
	"testing"
)

func TestCLIFilterImages(t *testing.T) {
	d := cliSetup(t)
	f := "{{.Repository}}:{{.Tag}} {{.ID}}"
	for _, args := range [][]string{
		{"images", "--filter", "dangling=true"},
		{"images", "--filter", "dangling=false"},
		{"images", "-a", "--filter", "dangling=true"},
		{"images", "--filter", "reference=cli-fmt*"},
		{"images", "--filter", "reference=cli-fmt:1"},
		{"images", "--filter", "reference=*/cli/*"},
		{"images", "--filter", "reference=cli-fmt:*", "--filter", "reference=imgtool-bb*"},
		{"images", "--filter", "label=a"},
		{"images", "--filter", "label=a=b"},
		{"images", "--filter", "label=a=c"},
		{"images", "--filter", "label=a", "--filter", "label=team=x"},
		{"images", "--filter", "before=cli-fmt:1"},
		{"images", "--filter", "since=imgtool-bb:1"},
		{"images", "cli-fmt"},
		{"images", "cli-fmt:1"},
		{"images", "localhost:5000/cli/fmt"},
		{"images", "nothing-here"},
		{"images", "-q", "--filter", "dangling=true"},
	} {
		sameOutput(t, d, true, append(args, "--format", f), append(args, "--format", f))
		sameOutput(t, d, true, args, args)
	}
	sameFailure(t, d, "invalid filter 'foo'", []string{"images", "--filter", "foo=bar"}, []string{"images", "--filter", "foo=bar"})
}

func TestCLIFilterPS(t *testing.T) {
	d := cliSetup(t)
	f := "{{.Names}} {{.Status}}"
	for _, args := range [][]string{
		{"ps"},
		{"ps", "--filter", "status=exited"},
		{"ps", "--filter", "status=created"},
		{"ps", "-a", "--filter", "status=running"},
		{"ps", "-a", "--filter", "name=cli-ctr1"},
		{"ps", "-a", "--filter", "name=ctr"},
		{"ps", "-a", "--filter", "ancestor=cli-fmt:1"},
		{"ps", "-a", "--filter", "ancestor=imgtool-bb:1"},
		{"ps", "-a", "--filter", "label=k"},
		{"ps", "-a", "--filter", "label=k=v"},
		{"ps", "-a", "--filter", "label=k=w"},
		{"ps", "-n", "1"},
		{"ps", "-n", "2"},
		{"ps", "-l"},
		{"ps", "-l", "-q"},
	} {
		sameOutput(t, d, false, append(args, "--format", f), append(args, "--format", f))
	}
	sameFailure(t, d, "invalid filter 'foo'", []string{"ps", "--filter", "foo=bar"}, []string{"ps", "--filter", "foo=bar"})
	sameFailure(t, d, "Invalid filter 'status=sleepy'", []string{"ps", "--filter", "status=sleepy"}, []string{"ps", "--filter", "status=sleepy"})
}
