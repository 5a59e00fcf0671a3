package dockertest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// Result is the outcome of one imgtool run.
type Result struct {
	Args   []string
	Stdout string
	Stderr string
	Code   int // exit code; -1 if it did not exit normally
}

// OK reports a zero exit code.
func (r *Result) OK() bool { return r.Code == 0 }

func (r *Result) String() string {
	return fmt.Sprintf("imgtool %s: exit %d\nstderr: %s\nstdout: %s",
		strings.Join(r.Args, " "), r.Code, r.Stderr, truncate(r.Stdout, 2000))
}

var imgtoolBuild struct {
	once sync.Once
	dir  string
	bin  string
	err  error
}

// ModuleRoot returns the directory holding the module's go.mod, found by
// walking up from the working directory (or, failing that, `go env GOMOD`).
func ModuleRoot() (string, error) {
	wd, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for dir := wd; ; {
		if b, err := os.ReadFile(filepath.Join(dir, "go.mod")); err == nil &&
			bytes.Contains(b, []byte("module github.com/imgtool/imgtool")) {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			break
		}
		dir = parent
	}
	out, err := exec.Command(goBinary(), "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w", err)
	}
	gomod := strings.TrimSpace(string(out))
	if gomod == "" || gomod == os.DevNull {
		return "", errors.New("not inside the imgtool module (no go.mod found)")
	}
	return filepath.Dir(gomod), nil
}

func goBinary() string {
	if p, err := exec.LookPath("go"); err == nil {
		return p
	}
	return "/usr/local/go/bin/go"
}

// ImgtoolBinary returns the imgtool CLI binary, building it (once per test
// binary) with `go build -o <tmp>/imgtool ./cmd/imgtool` from the module
// root. $IMGTOOL_BIN overrides the build.
func ImgtoolBinary(t testing.TB) string {
	t.Helper()
	if p := os.Getenv("IMGTOOL_BIN"); p != "" {
		return p
	}
	b := &imgtoolBuild
	b.once.Do(func() {
		root, err := ModuleRoot()
		if err != nil {
			b.err = err
			return
		}
		dir, err := os.MkdirTemp("", "imgtool-bin-")
		if err != nil {
			b.err = err
			return
		}
		b.dir = dir
		bin := filepath.Join(dir, "imgtool")
		cmd := exec.Command(goBinary(), "build", "-o", bin, "./cmd/imgtool")
		cmd.Dir = root
		out, err := cmd.CombinedOutput()
		if err != nil {
			b.err = fmt.Errorf("go build ./cmd/imgtool: %w\n%s", err, out)
			return
		}
		b.bin = bin
	})
	if b.err != nil {
		t.Fatalf("dockertest: building imgtool: %v", b.err)
	}
	return b.bin
}

func cleanupImgtool() {
	if imgtoolBuild.dir != "" {
		os.RemoveAll(imgtoolBuild.dir)
	}
}

// Imgtool runs the imgtool CLI with args (environment passed through) and
// returns its output and exit code; it fails the test only if the binary
// cannot be built or started.
func Imgtool(t testing.TB, args ...string) *Result {
	t.Helper()
	return ImgtoolIn(t, nil, args...)
}

// ImgtoolIn is Imgtool with stdin.
func ImgtoolIn(t testing.TB, stdin io.Reader, args ...string) *Result {
	t.Helper()
	bin := ImgtoolBinary(t)
	ctx, cancel := context.WithTimeout(context.Background(), CommandTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Stdin = stdin
	if os.Getenv("IMGTOOL_PROGRESS") == "" {
		// Tests read stderr as the error line; progress is tested on its own
		// with an explicit --progress.
		cmd.Env = append(os.Environ(), "IMGTOOL_PROGRESS=none")
	}
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err := cmd.Run()
	r := &Result{Args: args, Stdout: o.String(), Stderr: e.String()}
	var ee *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &ee):
		r.Code = ee.ExitCode()
		if ctx.Err() != nil {
			r.Stderr += fmt.Sprintf("\n(dockertest: killed after %v)", CommandTimeout)
		}
	default:
		t.Fatalf("running imgtool %s: %v", strings.Join(args, " "), err)
	}
	return r
}

// MustImgtool runs imgtool and fails the test unless it exits 0; it returns
// stdout.
func MustImgtool(t testing.TB, args ...string) string {
	t.Helper()
	r := Imgtool(t, args...)
	if !r.OK() {
		t.Fatalf("%s", r)
	}
	return r.Stdout
}

// MustImgtoolIn is MustImgtool with stdin.
func MustImgtoolIn(t testing.TB, stdin io.Reader, args ...string) string {
	t.Helper()
	r := ImgtoolIn(t, stdin, args...)
	if !r.OK() {
		t.Fatalf("%s", r)
	}
	return r.Stdout
}
