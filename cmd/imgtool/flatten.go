package main

import (
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/spf13/pflag"

	"github.com/imgtool/imgtool/reference"
	"github.com/imgtool/imgtool/registry"
	"github.com/imgtool/imgtool/transfer"
)

func init() {
	var tags []string
	var jsonOut bool
	register(&command{
		name:  "flatten",
		usage: "[--tag REPO:TAG]... SRC [DST]",
		short: "Squash an image into a single-layer image with the same config",
		long:  flattenLong,
		setFlags: func(fs *pflag.FlagSet) {
			fs.StringArrayVarP(&tags, "tag", "t", nil, "name the result REPO:TAG (repeatable)")
			fs.BoolVar(&jsonOut, "json", false, "print the result as JSON (on stderr when DST is -; docs/json.md)")
		},
		minArgs: 1, maxArgs: 2,
		run: func(g *globals, fs *pflag.FlagSet, args []string) error {
			start := time.Now()
			report := func(res *transfer.Squashed, out io.Writer) error {
				var names []string
				for _, r := range parsedTags(tags) {
					names = append(names, reference.Familiar(r))
				}
				dst := ""
				if len(args) > 1 {
					dst = args[1]
				}
				r := &result{Command: "flatten", Output: dst, Images: []imageResult{newImageResult(res.ID, names, []v1.Hash{res.DiffID})}}
				return printResult(out, r, start)
			}
			var refs []name.Tag
			for _, t := range tags {
				r, err := reference.ParseTag(t)
				if err != nil {
					return usageError{fmt.Sprintf("invalid --tag %q: %v", t, err)}
				}
				refs = append(refs, r)
			}
			var opts transfer.SquashOptions
			if os.Getenv("SOURCE_DATE_EPOCH") != "" {
				epoch, err := sourceDateEpoch()
				if err != nil {
					return err
				}
				opts.Created = epoch
			}
			dst := ""
			if len(args) > 1 {
				dst = args[1]
			}
			rep, err := g.reporter("flattening", jsonOut && g.progress == "" && dst == "-")
			if err != nil {
				return err
			}
			opts.Progress = rep
			res, err := flattenTo(g, args[0], dst, refs, opts)
			rep.Close()
			switch {
			case err != nil:
				return err
			case jsonOut && len(args) == 1:
				return report(res, os.Stdout)
			case jsonOut:
				return report(res, resultStream(args[1]))
			case len(args) == 1 || args[1] != "-":
				fmt.Println(res.ID)
			}
			return nil
		},
	})
}

// flattenTo squashes src into dst: the store when dst is "", a docker
// archive file (or - for stdout) for a bare path or docker-archive:PATH,
// and any other location convert writes (oci:DIR, oci-archive:PATH,
// dir:DIR, docker://REF, store:NAME) through a temporary docker archive
// and the convert pipeline, so flatten needs no writer of its own per
// format.
func flattenTo(g *globals, src, dst string, refs []name.Tag, opts transfer.SquashOptions) (*transfer.Squashed, error) {
	ref, err := transfer.ParseRef(dst)
	switch {
	case dst == "" || err == nil && ref.Transport == "store" && !strings.HasPrefix(dst, "store:"):
		return flattenRun(g, src, dst, refs, opts)
	case err != nil:
		return nil, usageError{err.Error()}
	case ref.Transport == "docker-archive" && ref.Name == "":
		return flattenRun(g, src, ref.Path, refs, opts)
	}
	tmp, err := os.CreateTemp("", "imgtool-flatten-*.tar")
	if err != nil {
		return nil, err
	}
	tmp.Close()
	defer os.Remove(tmp.Name())
	res, err := flattenRun(g, src, tmp.Name(), refs, opts)
	if err != nil {
		return nil, err
	}
	epoch, err := sourceDateEpoch()
	if err != nil {
		return nil, err
	}
	_, err = g.run(transfer.Ref{Transport: "docker-archive", Path: tmp.Name()}, ref,
		registry.Options{UserAgent: "imgtool", Progress: opts.Progress}, transfer.ConvertOptions{Epoch: epoch, Progress: opts.Progress})
	return res, err
}

// flattenRun squashes src into the store (out "") or into a docker
// archive at out (- for stdout).
func flattenRun(g *globals, src, out string, refs []name.Tag, opts transfer.SquashOptions) (*transfer.Squashed, error) {
	st, err := g.store()
	if err != nil {
		return nil, err
	}
	toStore := out == ""
	var unlock func()
	if toStore {
		unlock, err = st.Writer()
	} else {
		unlock, err = st.Reader()
	}
	if err != nil {
		return nil, err
	}
	defer unlock()
	env := &transfer.Env{Store: func() (transfer.Store, error) { return st, nil }}
	in, err := transfer.ResolveSquashInput(g.ctx, st, src, env)
	if err != nil {
		return nil, err
	}
	defer in.Close()
	source, err := in.Source(st)
	if err != nil {
		return nil, err
	}
	if toStore {
		nrefs := make([]name.Reference, len(refs))
		for i, r := range refs {
			nrefs[i] = r
		}
		return transfer.SquashToStore(st, source, nrefs, opts)
	}
	if out == "-" && isTerminal(os.Stdout) { // flatten has no -o: DST names the file
		return nil, usageError{"refusing to write an archive to a terminal; give DST as a file name or redirect stdout"}
	}
	w, commit, abort, err := g.archiveOutput(out)
	if err != nil {
		return nil, err
	}
	res, err := transfer.SquashToArchive(w, source, refs, opts)
	if err != nil {
		abort()
		return nil, err
	}
	return res, commit()
}

// parsedTags parses --tag values already validated by the command.
func parsedTags(tags []string) []name.Tag {
	var out []name.Tag
	for _, t := range tags {
		if r, err := reference.ParseTag(t); err == nil {
			out = append(out, r)
		}
	}
	return out
}

// flattenLong is `imgtool flatten --help`.
const flattenLong = `Merges every layer of SRC (whiteouts and opaque directories applied, hardlinks, symlinks,
devices, fifos, setuid/sticky bits and security.capability kept) into one layer, and
writes an image with SRC's config (Env, Cmd, Entrypoint, WorkingDir, User, Labels,
ExposedPorts, ... every key kept) except rootfs.diff_ids, now the one new layer, and
history, now one entry: created (SOURCE_DATE_EPOCH when set, else SRC's created),
created_by "imgtool flatten", comment "flattened from sha256:<SRC's ID>". Flattening the
same image twice gives the same image ID.

SRC is a store image (tag, ID or ID prefix; store:REF), docker-archive:PATH[:REF],
oci-archive:PATH[:REF], oci:DIR[:REF], dir:DIR or docker://REF; a bare path that no store
image is named after is the archive or layout there. Without DST the result goes into the
store and its ID is printed; --tag tags it. With DST (a file, or - for stdout) the result is
written there as a docker-save archive (Docker 25+ form) carrying the --tag names, and its
ID is printed unless DST is -. DST takes every location convert writes (oci:DIR,
oci-archive:PATH, dir:DIR, docker://REF, store:NAME), written from a temporary docker
archive in $TMPDIR by convert's pipeline.

Examples:
  imgtool flatten --tag app:flat app:1
  imgtool flatten docker-archive:app.tar flat.tar
  imgtool flatten --tag app:flat oci:layout:1.0 - | docker load
  imgtool flatten app.tar oci:flat-layout`
