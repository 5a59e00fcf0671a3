package main

import (
	"fmt"
	"os"
	"time"

	"github.com/spf13/pflag"

	"github.com/imgtool/imgtool/registry"
	"github.com/imgtool/imgtool/transfer"
)

func init() {
	var input string
	var quiet, jsonOut bool
	var platforms []string
	register(&command{
		name:  "load",
		usage: "[-i FILE|-|TRANSPORT:PATH|docker://REF] [-q] [--platform OS/ARCH[/VARIANT]]...",
		short: "Load images from an archive into the store",
		long: `Reads, auto-detected: docker save archives (legacy and Docker 25+), OCI image-layout
tars (with or without manifest.json), containerd-store saves and multi-image archives,
plain or compressed as a whole or per layer with gzip, zstd, xz or bzip2. Every layer's
diff_id is recomputed while it is unpacked; -i docker://REF pulls from a registry, -i oci:DIR
or -i dir:DIR reads a layout directory; a mismatch, a bad entry or a bad tag loads
nothing. Every image of a docker save archive is loaded, whatever its platform (as docker
load does); --platform keeps only the images of those platforms. A multi-platform index
(an OCI layout, a containerd export) loads the host's platform unless --platform says
otherwise; into a containerd store (Docker 29) the index itself is the image, its digest
the ID, with every platform the archive holds (or those --platform names), as Docker 29's
docker load records it.

Examples:
  imgtool load -i app.tar
  docker save app | imgtool load
  imgtool --root /var/lib/docker load -i app.tar.zst   # into a stopped Docker's data root`,
		setFlags: func(fs *pflag.FlagSet) {
			fs.StringVarP(&input, "input", "i", "", "read from a file instead of stdin; also oci:DIR, dir:DIR, oci-archive:PATH or docker://REF")
			fs.BoolVarP(&quiet, "quiet", "q", false, "suppress the load output (progress); the Loaded image lines remain, as docker's")
			fs.BoolVar(&jsonOut, "json", false, "print the result as JSON on stdout (docs/json.md)")
			fs.StringArrayVar(&platforms, "platform", nil, "platform to load from a multi-platform archive (repeatable)")
		},
		maxArgs: 0,
		run: func(g *globals, fs *pflag.FlagSet, args []string) error {
			start := time.Now()
			wanted, err := parsePlatforms(platforms)
			if err != nil {
				return err
			}
			src, err := inputRef(input)
			if err != nil {
				return err
			}
			rep, err := g.reporter("loading", quiet || jsonOut && g.progress == "")
			if err != nil {
				return err
			}
			res, err := g.run(src, transfer.StoreRef(), registry.Options{DataRoot: g.root, UserAgent: "imgtool"},
				transfer.ConvertOptions{Platforms: wanted, Progress: rep})
			rep.Close()
			if err != nil {
				return err
			}
			if jsonOut {
				r := &result{Command: "load", Images: []imageResult{}}
				for _, w := range res.Written {
					r.Images = append(r.Images, writtenResult(w))
				}
				return printResult(os.Stdout, r, start)
			}
			printLoaded(res.Written) // docker load -q prints these too
			return nil
		},
	})
}

// printLoaded prints docker load's lines: "Loaded image: ref" per tag, and
// when the last image had no tag, "Loaded image ID: …" for every image.
func printLoaded(loaded []transfer.Written) {
	if len(loaded) == 0 {
		return
	}
	for _, l := range loaded {
		for _, r := range l.Renamed {
			fmt.Fprintf(os.Stdout, "The image %s already exists, renaming the old one with ID %s to empty string\n", r.Ref, r.Previous)
		}
		for _, t := range l.Tags {
			fmt.Fprintf(os.Stdout, "Loaded image: %s\n", t)
		}
	}
	if len(loaded[len(loaded)-1].Tags) == 0 {
		for _, l := range loaded {
			fmt.Fprintf(os.Stdout, "Loaded image ID: %s\n", l.ID)
		}
	}
}
