package main

import (
	"fmt"
	"os"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/spf13/pflag"

	"github.com/imgtool/imgtool/registry"
	"github.com/imgtool/imgtool/transfer"
)

func init() {
	var rf registryFlags
	var changes, appends []string
	var tag, plat string
	register(&command{
		name:  "mutate",
		usage: "[-c CHANGE]... [--append TAR]... [-t TAG] [--platform P] SRC [DST]",
		short: "Change an image's config or add layers without a container (as crane mutate/append)",
		long: `Reads SRC's image, applies -c/--change (Dockerfile instructions, as commit and
import take them: CMD, ENTRYPOINT, ENV, EXPOSE, HEALTHCHECK, LABEL, ONBUILD,
STOPSIGNAL, USER, VOLUME, WORKDIR) to its config, adds each --append TAR (plain,
gzip or zstd) as a new layer on top, and writes the result to DST.

SRC and DST are any location: a store image (tag, ID or ID prefix), docker://REF,
docker-archive:PATH[:REF], oci:DIR[:REF], oci-archive:PATH[:REF], dir:DIR. Without
DST the result goes into the store, tagged -t TAG (untagged without it; the source's
tags stay where they are). With DST, -t TAG names the image there (DST:TAG). The
config keeps every key the source has (sorted at the top level, as Docker writes
it); -c rewrites its "config" object in Docker's container.Config shape, as docker
commit --change does. Each appended layer gets the history entry crane append
writes ({"created":"0001-01-01T00:00:00Z"}). An index gives the host's platform
(or --platform's).

Prints the new image ID (a registry DST: REF@DIGEST).

Examples:
  imgtool mutate -c 'CMD ["/app"]' -c 'ENV MODE=prod' -t app:prod app:1
  imgtool mutate --append extra.tar -t app:2 app:1
  imgtool mutate -c 'LABEL v=2' docker://127.0.0.1:5000/app:1 docker://127.0.0.1:5000/app:2
  imgtool mutate --append conf.tar.gz oci:layout:v1 oci-archive:out.tar:v2`,
		setFlags: func(fs *pflag.FlagSet) {
			fs.StringArrayVarP(&changes, "change", "c", nil, "apply a Dockerfile instruction to the config (repeatable)")
			fs.StringArrayVar(&appends, "append", nil, "add a layer tar (plain, gzip or zstd) on top (repeatable)")
			fs.StringVarP(&tag, "tag", "t", "", "name of the result: a store tag, or DST's :REF")
			fs.StringVar(&plat, "platform", "", "the image of an index to change (os/arch[/variant]; default: the host's)")
			rf.set(fs)
		},
		minArgs: 1, maxArgs: 2,
		run: func(g *globals, fs *pflag.FlagSet, args []string) error {
			if len(changes) == 0 && len(appends) == 0 {
				return usageError{"nothing to change: give -c/--change or --append"}
			}
			var wanted []v1.Platform
			if plat != "" {
				ps, err := parsePlatforms([]string{plat})
				if err != nil {
					return err
				}
				wanted = ps
			}
			src, err := transfer.ParseRef(args[0])
			if err != nil {
				return usageError{err.Error()}
			}
			dst, err := mutateDest(args[1:], tag)
			if err != nil {
				return err
			}
			transfer.RegisterTransport(registry.Transport(rf.options(g, true)))
			written, err := transfer.Mutate(g.ctx, src, dst, g.env(),
				transfer.MutateOptions{Changes: changes, Append: appends, Platforms: wanted}, transfer.ConvertOptions{})
			if err != nil {
				return err
			}
			for _, w := range written {
				if dst.Transport == "docker" && w.Digest != (v1.Hash{}) {
					fmt.Fprintf(os.Stdout, "%s@%s\n", dst.Path, w.Digest)
					continue
				}
				fmt.Fprintln(os.Stdout, w.ID)
			}
			return nil
		},
	})
}

// mutateDest is where mutate writes: DST (named TAG when -t is given), or
// the store tagged TAG; a -t that is itself a location is DST.
func mutateDest(dstArg []string, tag string) (transfer.Ref, error) {
	if len(dstArg) == 0 {
		if r, err := transfer.ParseRef(tag); tag != "" && err == nil && r.Transport != "store" {
			return mutateDest([]string{tag}, "")
		}
		if tag == "" {
			return transfer.StoreRef(), nil
		}
		return transfer.StoreRef(tag), nil
	}
	dst, err := transfer.ParseRef(dstArg[0])
	if err != nil {
		return transfer.Ref{}, usageError{err.Error()}
	}
	if tag == "" {
		return dst, nil
	}
	if dst.Transport == "docker" {
		return transfer.Ref{}, usageError{"-t with a docker:// DST: give the reference in DST"}
	}
	dst.Name = tag
	if dst.Transport == "store" {
		dst = transfer.StoreRef(tag)
	}
	return dst, nil
}
