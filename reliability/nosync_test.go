package reliability

import (
	"archive/tar"
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/imgtool/imgtool/internal/ctrdtest"
	"github.com/imgtool/imgtool/internal/dockertest"
)

// syncCall matches one flush to the disk in strace's output.
var syncCall = regexp.MustCompile(`\b(fsync|fdatasync|syncfs|sync_file_range|sync)\(`)

// straceSyncs runs imgtool under strace and returns the flush calls it
// made (every thread); a failing command fails the test.
func straceSyncs(t *testing.T, r run) []string {
	t.Helper()
	log := filepath.Join(t.TempDir(), "strace.log")
	ctx, cancel := context.WithTimeout(context.Background(), runTimeout)
	defer cancel()
	inner := r.command(t, ctx)
	cmd := exec.CommandContext(ctx, "strace", append([]string{"-f", "-qq", "-y", "-o", log,
		"-e", "trace=fsync,fdatasync,syncfs,sync_file_range,sync"}, inner.Args...)...)
	cmd.Dir, cmd.Env = inner.Dir, inner.Env
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	err := cmd.Run()
	if err != nil {
		t.Fatalf("strace imgtool %s: %v\n%s", strings.Join(r.args, " "), err, stderr.String())
	}
	b, err := os.ReadFile(log)
	if err != nil {
		t.Fatal(err)
	}
	var calls []string
	for _, l := range strings.Split(string(b), "\n") {
		if syncCall.MatchString(l) {
			calls = append(calls, l)
		}
	}
	return calls
}

// TestNoSyncFlushesNothing: with --no-sync (or IMGTOOL_NO_SYNC=1) a
// command that writes the store or an archive file makes no fsync,
// fdatasync, syncfs or sync_file_range call, as its help promises; the
// same command without it does flush (so the count is not zero for a
// reason that has nothing to do with the flag). Both store backends: an
// overlay2 root and a (stopped) containerd root.
func TestNoSyncFlushesNothing(t *testing.T) {
	dockertest.Require(t, "strace")
	rootfs := filepath.Join(t.TempDir(), "rootfs.tar")
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, f := range []string{"etc/a", "etc/b", "bin/c"} {
		tw.WriteHeader(&tar.Header{Name: f, Mode: 0o644, Size: 4, Typeflag: tar.TypeReg})
		tw.Write([]byte("data"))
	}
	tw.Close()
	if err := os.WriteFile(rootfs, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	newRoot := map[string]func(t *testing.T) string{
		"overlay2": func(t *testing.T) string { return filepath.Join(t.TempDir(), "root") },
		"containerd": func(t *testing.T) string {
			c := ctrdtest.Start(t)
			if err := c.Stop(); err != nil {
				t.Fatal(err)
			}
			return c.Root
		},
	}
	for _, backend := range []string{"overlay2", "containerd"} {
		for _, mode := range []struct {
			name  string
			flags []string
			env   []string
		}{{"durable", nil, nil}, {"--no-sync", []string{"--no-sync"}, nil}, {"IMGTOOL_NO_SYNC=1", nil, []string{"IMGTOOL_NO_SYNC=1"}}} {
			t.Run(backend+"/"+mode.name, func(t *testing.T) {
				root := newRoot[backend](t)
				for _, args := range noSyncSteps(rootfs, t.TempDir()) {
					r := run{root: root, env: mode.env, args: append(append([]string{"--progress", "none"}, mode.flags...), args...)}
					calls := straceSyncs(t, r)
					switch {
					case mode.flags == nil && mode.env == nil && len(calls) == 0:
						t.Errorf("imgtool %s (durable) made no flush call: the test cannot see flushes", args[0])
					case (mode.flags != nil || mode.env != nil) && len(calls) > 0:
						t.Errorf("imgtool %s %s made %d flush calls, first: %s", mode.name, args[0], len(calls), calls[0])
					}
				}
			})
		}
	}
}

// noSyncSteps are the writing commands, in an order where each has
// something to work on.
func noSyncSteps(rootfs, out string) [][]string {
	return [][]string{
		{"import", rootfs, "x:1"},
		{"save", "-o", filepath.Join(out, "x.tar"), "x:1"},
		{"export", "-o", filepath.Join(out, "flat.tar"), "x:1"},
		{"rmi", "x:1"},
		{"load", "-i", filepath.Join(out, "x.tar")},
		{"tag", "x:1", "y:1"},
	}
}
