package main

import (
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/spf13/pflag"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/imgtool/imgtool/transfer"
)

// compressFlags are --compress and --compress-level (convert, save).
type compressFlags struct {
	compress string
	level    int
}

func (c *compressFlags) add(fs *pflag.FlagSet, dflt string) {
	fs.StringVar(&c.compress, "compress", dflt, "layer compression for oci and oci-archive output: none, gzip or zstd")
	fs.IntVar(&c.level, "compress-level", 0, "compression level (gzip 1-9, zstd 1-22; 0 = default)")
}

// parse returns the compression; keep when --compress was not given and
// dflt is "" (layers copied as stored).
func (c *compressFlags) parse(fs *pflag.FlagSet) (comp transfer.Compression, keep bool, err error) {
	switch c.compress {
	case "":
		return transfer.NoCompression, true, nil
	case "none":
		comp = transfer.NoCompression
	case "gzip":
		comp = transfer.Gzip
	case "zstd":
		comp = transfer.Zstd
	default:
		return 0, false, usageError{fmt.Sprintf("unknown --compress %q (none, gzip, zstd)", c.compress)}
	}
	if fs.Changed("compress-level") && c.level != 0 {
		lo, hi := 1, 9
		if comp == transfer.Zstd {
			hi = 22
		}
		if comp == transfer.NoCompression || c.level < lo || c.level > hi {
			return 0, false, usageError{fmt.Sprintf("--compress-level %d is out of range for %s", c.level, c.compress)}
		}
	}
	return comp, false, nil
}

func init() {
	var cf compressFlags
	var platforms []string
	var all, skipMissing, legacy, quiet, jsonOut bool
	var rf registryFlags
	register(&command{
		name:  "convert",
		usage: "[OPTIONS] SRC DST",
		short: "Copy images between archives, OCI layouts and the store",
		long:  convertLong,
		setFlags: func(fs *pflag.FlagSet) {
			cf.add(fs, "")
			fs.StringArrayVar(&platforms, "platform", nil, "keep only this platform of an index (os/arch[/variant], repeatable)")
			fs.BoolVar(&all, "all-platforms", false, "keep every platform (also for the store)")
			fs.BoolVar(&skipMissing, "skip-missing-platforms", false, "drop platforms whose blobs the source lacks instead of failing")
			fs.BoolVar(&legacy, "legacy", false, "docker-archive output in Docker <=24's layout (<v1id>/layer.tar)")
			fs.BoolVarP(&quiet, "quiet", "q", false, "print only errors")
			fs.BoolVar(&jsonOut, "json", false, "print the result as JSON (on stderr when the output is stdout; docs/json.md)")
			rf.set(fs)
		},
		minArgs: 2, maxArgs: 2,
		run: func(g *globals, fs *pflag.FlagSet, args []string) error {
			start := time.Now()
			comp, keep, err := cf.parse(fs)
			if err != nil {
				return err
			}
			wanted, err := parsePlatforms(platforms)
			if err != nil {
				return err
			}
			if all && len(wanted) > 0 {
				return usageError{"--all-platforms and --platform exclude each other"}
			}
			epoch, err := sourceDateEpoch()
			if err != nil {
				return err
			}
			if err := checkStdio(args[0], args[1]); err != nil {
				return err
			}
			opts := transfer.ConvertOptions{
				Platforms: wanted, AllPlatforms: all, SkipMissingPlatforms: skipMissing,
				Keep: keep, Compression: comp, Level: cf.level, Epoch: epoch, Legacy: legacy, Jobs: rf.jobs,
				Skipped: func(what string, d v1.Hash) {
					fmt.Fprintf(os.Stderr, "skipping %s (%s): blobs absent from the source\n", what, d)
				},
			}
			src, err := transfer.ResolveSource(args[0], g.env())
			if err != nil {
				return err
			}
			dst, err := transfer.ParseRef(args[1])
			if err != nil {
				return err
			}
			rep, err := g.reporter("converting", quiet || jsonOut && g.progress == "")
			if err != nil {
				return err
			}
			ropts := rf.options(g, true)
			opts.Progress, ropts.Progress = rep, rep
			res, err := g.run(src, dst, ropts, opts)
			rep.Close()
			if err != nil {
				return err
			}
			out := os.Stdout
			if dst.Path == "-" {
				out = os.Stderr
			}
			return printConverted(out, res.Written, args[1], jsonOut, quiet, start)
		},
	})
}

// printConverted prints what convert wrote: a line per item, or --json.
func printConverted(out *os.File, written []transfer.Written, dst string, jsonOut, quiet bool, start time.Time) error {
	if jsonOut {
		r := &result{Command: "convert", Output: dst, Images: []imageResult{}}
		for _, w := range written {
			ir := imageResult{Tags: w.Tags, Platforms: w.Platforms, DiffIDs: []string{}, ChainIDs: []string{}}
			if w.ID != (v1.Hash{}) {
				ir.ID = w.ID.String()
			}
			if w.Digest != (v1.Hash{}) {
				ir.Digest = w.Digest.String()
			}
			r.Images = append(r.Images, ir)
		}
		return printResult(out, r, start)
	}
	if !quiet {
		for _, w := range written {
			printWritten(out, w)
		}
	}
	return nil
}

// checkStdio refuses stdin/stdout when they are terminals.
func checkStdio(src, dst string) error {
	if r, err := transfer.ParseRef(src); err == nil && r.Path == "-" && isTerminal(os.Stdin) {
		return usageError{"refusing to read an archive from a terminal; redirect stdin"}
	}
	if r, err := transfer.ParseRef(dst); err == nil && r.Path == "-" && isTerminal(os.Stdout) {
		return usageError{"refusing to write an archive to a terminal; redirect stdout"}
	}
	return nil
}

func printWritten(out *os.File, w transfer.Written) {
	name := strings.Join(w.Tags, ", ")
	if name == "" {
		name = "untagged"
	}
	what := "image " + w.ID.String()
	switch {
	case w.ID == (v1.Hash{}) && w.MediaType != "" && !types.MediaType(w.MediaType).IsIndex():
		what = "artifact " + w.Digest.String() // carried unchanged (oci, oci-archive, docker)
	case w.ID == (v1.Hash{}):
		what = "index " + w.Digest.String()
	}
	plat := ""
	if len(w.Platforms) > 0 {
		plat = " [" + strings.Join(w.Platforms, ", ") + "]"
	}
	fmt.Fprintf(out, "Wrote %s: %s%s\n", name, what, plat)
}

// convertLong is `imgtool convert --help`.
const convertLong = `SRC and DST are locations named like skopeo's transports:
  docker-archive:PATH[:REF]   docker save archive (Docker 25+ form; --legacy for <=24)
  oci-archive:PATH[:REF]      tar of an OCI image layout
  oci:DIR[:REF]               OCI image layout directory
  dir:DIR                     containers/image's directory layout (skopeo's dir:)
  docker://REF                a registry
  store:REF, or a bare REF    the image store (--root)
PATH may be - for stdin/stdout with the two archive transports. A prefix that is
not a transport, followed by a path (dri:/tmp/x), is an error, never a store name. A bare
SRC that no store image is named after but is a file (docker-archive:) or a directory
(oci: or dir:) is read from there (convert app.tar oci:dir). Reading, every
archive form is auto-detected (docker saves of any version, OCI tars, containerd
saves, compressed as a whole or per layer).

A source holding several images converts them all (shared blobs written once),
or the one SRC's :REF picks: a tag (app:1), an OCI ref name (latest), a digest
(@sha256:... : manifest, index, image ID, or one platform of an index) or its
number (docker-archive only: 0, 1, ... or @0, @1, ... as skopeo's :@N). DST's :REF
renames the single image written.

Platforms (the same rule for load, save, pull, push and flatten): plain images are
taken whatever their platform, as docker load takes every image of a docker save;
--platform (repeatable) keeps only those platforms. A multi-platform index travels
whole to oci, oci-archive, dir and docker://, bytes and digests unchanged unless
layers are recompressed or platforms dropped; a docker-archive gets one image per
platform; the store (and flatten) take the host's platform from an index unless
--platform or --all-platforms (a containerd store records the index itself, with
every platform an archive holds, as Docker 29). A kept
platform whose blobs are absent fails, naming it, unless --skip-missing-platforms.

OCI artifacts (signatures, SBOMs, referrers, empty-config manifests, indexes of
them) go unchanged between oci, oci-archive and docker:// (a registry), as skopeo
copy --all does: same manifest bytes, blobs and index.json entry. Other
destinations skip each one with a line naming it. Documents the OCI spec's schema refuses are never read.

Without --compress, layer blobs are copied as stored. --compress none|gzip|zstd
rewrites OCI layers in one pass (diff_id and blob digest hashed on the fly;
gzip is parallel pgzip), copying blobs already in that form. Output is
deterministic: the same input gives the same bytes (mtimes SOURCE_DATE_EPOCH or 0).

Examples:
  imgtool convert docker-archive:app.tar oci:app-layout
  imgtool convert oci:layout:latest docker-archive:-:app:1 | docker load
  imgtool convert --compress zstd app:1 oci-archive:app.oci.tar
  imgtool convert --platform linux/arm64 oci-archive:multi.tar oci:arm64-only
  imgtool convert docker-archive:two.tar:@sha256:0123... store:`
