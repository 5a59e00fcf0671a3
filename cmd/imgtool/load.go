package main

import (
	"context"
	"fmt"
	"os"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/spf13/pflag"

	"github.com/imgtool/imgtool/archive"
	"github.com/imgtool/imgtool/item"
	"github.com/imgtool/imgtool/registry"
	"github.com/imgtool/imgtool/transfer"
)

func init() {
	var input string
	var quiet, jsonOut bool
	var platforms []string
	register(&command{
		name:  "load",
		usage: "[-i FILE|-] [-q] [--platform OS/ARCH[/VARIANT]]...",
		short: "Load images from an archive into the store",
		long: `Reads, auto-detected: docker save archives (legacy and Docker 25+), OCI image-layout
tars (with or without manifest.json), containerd-store saves and multi-image archives,
plain or compressed as a whole or per layer with gzip, zstd, xz or bzip2. Every layer's
diff_id is recomputed while it is unpacked; -i docker://REF pulls from a registry; a mismatch, a bad entry or a bad tag loads
nothing. A multi-platform index loads the host's platform unless --platform says otherwise.

Examples:
  imgtool load -i app.tar
  docker save app | imgtool load
  imgtool --root /var/lib/docker load -i app.tar.zst   # into a stopped Docker's data root`,
		setFlags: func(fs *pflag.FlagSet) {
			fs.StringVarP(&input, "input", "i", "", "read from a file instead of stdin")
			fs.BoolVarP(&quiet, "quiet", "q", false, "print only errors")
			fs.BoolVar(&jsonOut, "json", false, "print the result as JSON on stdout (docs/json.md)")
			fs.StringArrayVar(&platforms, "platform", nil, "platform to load from a multi-platform archive (repeatable)")
		},
		maxArgs: 0,
		run: func(g *globals, fs *pflag.FlagSet, args []string) error {
			start := time.Now()
			st, err := g.store()
			if err != nil {
				return err
			}
			wanted, err := parsePlatforms(platforms)
			if err != nil {
				return err
			}
			images, closeSrc, err := loadSource(input, wanted)
			if err != nil {
				return err
			}
			defer closeSrc()
			entries, err := transfer.SelectPlatforms(images, wanted)
			if err != nil {
				return err
			}
			rep, err := g.reporter("loading", quiet || jsonOut && g.progress == "")
			if err != nil {
				return err
			}
			loaded, err := transfer.Load(context.Background(), st, entries, transfer.LoadOptions{Platforms: wanted, Progress: rep})
			rep.Close()
			if err != nil {
				return err
			}
			if jsonOut {
				r := &result{Command: "load", Images: []imageResult{}}
				for _, l := range loaded {
					ir := newImageResult(l.ID, l.Tags, l.DiffIDs)
					if l.Platform != nil {
						ir.Platform = l.Platform.String()
					}
					r.Images = append(r.Images, ir)
				}
				return printResult(os.Stdout, r, start)
			}
			if !quiet {
				printLoaded(loaded)
			}
			return nil
		},
	})
}

// printLoaded prints docker load's lines: "Loaded image: ref" per tag, and
// when the last image had no tag, "Loaded image ID: …" for every image.
func printLoaded(loaded []transfer.Loaded) {
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

// loadSource opens -i: an archive file, stdin, or docker://REF.
func loadSource(input string, platforms []v1.Platform) ([]item.Item, func(), error) {
	if ref, ok := strings.CutPrefix(input, "docker://"); ok {
		rem, err := registry.Source(context.Background(), ref, registry.Options{Platforms: platforms})
		if err != nil {
			return nil, nil, err
		}
		return rem.Images(), func() { rem.Close() }, nil
	}
	path, err := archiveInput(input)
	if err != nil {
		return nil, nil, err
	}
	a, err := archive.Open(path)
	if err != nil {
		return nil, nil, err
	}
	return a.Images(), func() { a.Close() }, nil
}
