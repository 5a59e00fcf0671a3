package main

import (
	"fmt"
	"io"
	"os"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/imgtool/imgtool/registry"
	"github.com/imgtool/imgtool/transfer"
)

// Every command that moves images is one transfer.Run: the command file
// turns its flags into two locations and ConvertOptions, and prints the
// Result. These helpers are the shared part.

func (g *globals) env() *transfer.Env {
	return &transfer.Env{Store: g.store, Stdin: os.Stdin, Stdout: os.Stdout, NoSync: g.opts.NoSync}
}

// run registers the docker:// location with the command's registry
// options, then runs the pipeline.
func (g *globals) run(src, dst transfer.Ref, ropts registry.Options, opts transfer.ConvertOptions) (*transfer.Result, error) {
	transfer.RegisterTransport(registry.Transport(ropts))
	if opts.Warn == nil {
		opts.Warn = func(format string, args ...any) {
			fmt.Fprintf(os.Stderr, "imgtool: warning: "+format+"\n", args...)
		}
	}
	return transfer.Run(g.ctx, src, dst, g.env(), opts)
}

// inputRef is where load and pull read: -i FILE, stdin, or docker://REF.
func inputRef(input string) (transfer.Ref, error) {
	if ref, ok := strings.CutPrefix(input, "docker://"); ok {
		return transfer.Ref{Transport: "docker", Path: ref}, nil
	}
	if r, err := transfer.ParseRef(input); err == nil && r.Transport != "store" && r.Path != "" {
		return r, nil // dir:PATH, oci:DIR, oci-archive:PATH, …
	}
	path, err := archiveInput(input)
	if err != nil {
		return transfer.Ref{}, err
	}
	return transfer.Ref{Transport: "docker-archive", Path: path}, nil
}

// outputRef is where save and pull -o write: a file, stdout (never a
// terminal), an OCI layout dir, or docker://REF.
func outputRef(output, transport string) (transfer.Ref, error) {
	if ref, ok := strings.CutPrefix(output, "docker://"); ok {
		return transfer.Ref{Transport: "docker", Path: ref}, nil
	}
	if output == "" || output == "-" {
		if isTerminal(os.Stdout) {
			return transfer.Ref{}, usageError{"refusing to write an archive to a terminal; use -o FILE or redirect stdout"}
		}
		output = "-"
	}
	return transfer.Ref{Transport: transport, Path: output}, nil
}

// counter counts (and for --json hashes) the archive a sink writes.
type counter struct {
	hashed bool
	cw     *countingWriter
}

func (c *counter) wrap(w io.Writer) io.Writer {
	c.cw = newCountingWriter(w, c.hashed)
	return c.cw
}

func (c *counter) bytes() (int64, string) {
	if c.cw == nil {
		return 0, ""
	}
	return c.cw.n, c.cw.sum()
}

// writtenResult is one written image in a --json result.
func writtenResult(w transfer.Written) imageResult {
	r := newImageResult(w.ID, w.Tags, w.DiffIDs)
	if w.ID == (v1.Hash{}) {
		r.ID = ""
	}
	if len(w.Platforms) == 1 && w.ID != (v1.Hash{}) {
		r.Platform = w.Platforms[0]
	} else {
		r.Platforms = w.Platforms
	}
	if w.Digest != (v1.Hash{}) {
		r.Digest = w.Digest.String()
	}
	return r
}
