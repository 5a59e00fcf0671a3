package main

import (
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/imgtool/imgtool/transfer"
	"golang.org/x/sys/unix"
)

// isTerminal reports whether f is a terminal.
func isTerminal(f *os.File) bool {
	_, err := unix.IoctlGetTermios(int(f.Fd()), unix.TCGETS)
	return err == nil
}

// archiveOutput opens where a command writes an archive: a file written
// under a temp name and renamed when complete (so a failed save leaves no
// half-written file; fsynced first unless --no-sync), or stdout, which is
// refused when it is a terminal.
func (g *globals) archiveOutput(path string) (w io.Writer, commit func() error, abort func(), err error) {
	if path == "" || path == "-" {
		if isTerminal(os.Stdout) {
			return nil, nil, nil, usageError{"refusing to write an archive to a terminal; use -o FILE or redirect stdout"}
		}
		return os.Stdout, func() error { return nil }, func() {}, nil
	}
	o, err := transfer.CreateOutput(path, !g.opts.NoSync)
	if err != nil {
		return nil, nil, nil, err
	}
	return o, o.Commit, o.Abort, nil
}

// archiveInput opens where a command reads an archive: a file, or stdin
// ("-" or ""), refused when stdin is a terminal.
func archiveInput(path string) (string, error) {
	if path == "" || path == "-" {
		if isTerminal(os.Stdin) {
			return "", usageError{"requested load from stdin, but stdin is empty; use -i FILE or redirect stdin"}
		}
		return "-", nil
	}
	if _, err := os.Stat(path); err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return "", fmt.Errorf("open %s: no such file or directory", path)
		}
		return "", err
	}
	return path, nil
}
