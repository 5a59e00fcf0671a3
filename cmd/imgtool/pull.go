package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/spf13/pflag"

	"github.com/imgtool/imgtool/archive"
	"github.com/imgtool/imgtool/item"
	"github.com/imgtool/imgtool/transfer"

	"github.com/imgtool/imgtool/registry"
)

func init() {
	var rf registryFlags
	var platforms []string
	var all, quiet, asJSON bool
	var output string
	register(&command{
		name:  "pull",
		usage: "[--platform OS/ARCH[/VARIANT]]... [--all-platforms] [-o FILE] [--insecure] [-q] REF",
		short: "Pull an image from a registry into the store (or an archive)",
		long: `Fetches REF's manifest and config, then only the layers the store lacks: each blob
is checked against its digest while it streams, decompressed (pgzip/zstd) and
unpacked straight into the store in one pass, and checked against the config's
diff_id. All images land, or none. The image is tagged REF. With -o the images are
written as a docker archive (docker load's format) instead of into the store.

A multi-platform index gives the host's platform unless --platform (repeatable) or
--all-platforms says otherwise; with several, REF tags the first.

Examples:
  imgtool pull localhost:5000/app:1
  imgtool pull --platform linux/arm64 127.0.0.1:5000/multi:1
  imgtool pull -o app.tar registry.example.com/app@sha256:…`,
		setFlags: func(fs *pflag.FlagSet) {
			rf.set(fs)
			fs.StringArrayVar(&platforms, "platform", nil, "platform to pull from a multi-platform index (repeatable)")
			fs.BoolVar(&all, "all-platforms", false, "pull every platform of an index")
			fs.StringVarP(&output, "output", "o", "", "write a docker archive to FILE instead of loading into the store")
			fs.BoolVarP(&quiet, "quiet", "q", false, "print only the reference")
			fs.BoolVar(&asJSON, "json", false, "print the result as JSON on stdout")
		},
		minArgs: 1, maxArgs: 1,
		run: func(g *globals, fs *pflag.FlagSet, args []string) error {
			wanted, err := parsePlatforms(platforms)
			if err != nil {
				return err
			}
			opts := rf.options(g, true)
			opts.Platforms, opts.AllPlatforms = wanted, all
			ctx := context.Background()
			src, err := registry.Source(ctx, args[0], opts)
			if err != nil {
				return err
			}
			entries := src.Images()
			for i := 1; i < len(entries); i++ {
				entries[i].Tags = nil // one tag, one image
			}
			result := pullResult{Ref: src.Ref.String(), Digest: src.Digest.String()}
			if output != "" {
				w, commit, abort, err := archiveOutput(output)
				if err != nil {
					return err
				}
				tagged := make([]item.Item, len(entries))
				for i, e := range entries {
					tagged[i] = item.Item{Image: e.Image, Tags: e.Tags}
				}
				epoch, err := sourceDateEpoch()
				if err != nil {
					abort()
					return err
				}
				if err := archive.Write(w, tagged, archive.Options{Format: archive.Docker, Epoch: epoch}); err != nil {
					abort()
					return err
				}
				if err := commit(); err != nil {
					return err
				}
				for _, e := range entries {
					id, _ := e.Image.ConfigName()
					result.Images = append(result.Images, pulledImage{ID: id.String(), Manifest: e.Digest.String(), Platform: e.Platform})
				}
			} else {
				st, err := g.store()
				if err != nil {
					return err
				}
				rep, err := g.reporter("pulling", quiet || asJSON && g.progress == "")
				if err != nil {
					return err
				}
				loaded, err := transfer.Load(ctx, st, entries, transfer.LoadOptions{Progress: rep})
				rep.Close()
				if err != nil {
					return fmt.Errorf("pull %s: %w", args[0], err)
				}
				if err := src.Record(); err != nil {
					fmt.Fprintf(os.Stderr, "imgtool pull: warning: recording distribution metadata: %v\n", err)
				}
				for i, l := range loaded {
					pi := pulledImage{ID: l.ID.String(), Manifest: entries[i].Digest.String(), Platform: entries[i].Platform, Tags: l.Tags}
					for _, d := range l.DiffIDs {
						pi.DiffIDs = append(pi.DiffIDs, d.String())
					}
					result.Images = append(result.Images, pi)
				}
			}
			switch {
			case asJSON:
				return json.NewEncoder(os.Stdout).Encode(result)
			case quiet:
				fmt.Fprintln(os.Stdout, familiarRef(src.Ref))
			default:
				fmt.Fprintf(os.Stdout, "Digest: %s\n", src.Digest)
				for _, im := range result.Images {
					fmt.Fprintf(os.Stdout, "Image ID: %s\n", im.ID)
				}
				fmt.Fprintln(os.Stdout, familiarRef(src.Ref))
			}
			return nil
		},
	})
}

type pullResult struct {
	Ref    string        `json:"ref"`
	Digest string        `json:"digest"`
	Images []pulledImage `json:"images"`
}

type pulledImage struct {
	ID       string   `json:"id"`
	Manifest string   `json:"manifest"`
	Platform any      `json:"platform,omitempty"`
	Tags     []string `json:"tags,omitempty"`
	DiffIDs  []string `json:"diff_ids,omitempty"`
}

func familiarRef(r name.Reference) string {
	return r.Context().Name() + map[bool]string{true: "@", false: ":"}[isDigest(r)] + r.Identifier()
}

func isDigest(r name.Reference) bool { _, ok := r.(name.Digest); return ok }
