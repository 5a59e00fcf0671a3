package main

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/spf13/pflag"

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
diff_id. All images land, or none. The image is tagged REF, and REPO@<digest> is recorded
beside the tag as dockerd records it (inspect's RepoDigests, images --digests); a pull by
digest records only that. With -o the images are
written as a docker archive (docker load's format) instead of into the store.

A multi-platform index gives the host's platform unless --platform (repeatable) or
--all-platforms says otherwise; with several, REF tags the first. Into a containerd
store (Docker 29) the index itself is the image, its digest the ID, with the blobs of
the platforms pulled.

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
			if all && len(wanted) > 0 {
				return usageError{"--all-platforms and --platform exclude each other"}
			}
			opts := rf.options(g, true)
			ref, err := registry.ParseReference(args[0], opts)
			if err != nil {
				return err
			}
			dst := transfer.StoreRef()
			if output != "" {
				if dst, err = outputRef(output, "docker-archive"); err != nil {
					return err
				}
			}
			epoch, err := sourceDateEpoch()
			if err != nil {
				return err
			}
			rep, err := g.reporter("pulling", quiet || asJSON && g.progress == "")
			if err != nil {
				return err
			}
			res, err := g.run(transfer.Ref{Transport: "docker", Path: args[0]}, dst, opts,
				transfer.ConvertOptions{Platforms: wanted, AllPlatforms: all, Epoch: epoch, Progress: rep})
			rep.Close()
			if err != nil {
				if dst.Transport == "store" && !strings.HasPrefix(err.Error(), "pull ") {
					err = fmt.Errorf("pull %s: %w", args[0], err)
				}
				return err
			}
			return printPulled(res, ref, quiet, asJSON)
		},
	})
}

// printPulled prints docker pull's closing lines, or the --json document.
func printPulled(res *transfer.Result, ref name.Reference, quiet, asJSON bool) error {
	result := pullResult{Ref: ref.String()}
	if len(res.Digests) > 0 {
		result.Digest = res.Digests[0].String()
	}
	for _, w := range res.Written {
		pi := pulledImage{ID: w.ID.String(), Manifest: w.Digest.String(), Tags: w.Tags}
		if w.Platform != nil {
			pi.Platform = w.Platform
		}
		for _, d := range w.DiffIDs {
			pi.DiffIDs = append(pi.DiffIDs, d.String())
		}
		result.Images = append(result.Images, pi)
	}
	switch {
	case asJSON:
		return json.NewEncoder(os.Stdout).Encode(result)
	case quiet:
		fmt.Fprintln(os.Stdout, familiarRef(ref))
	default:
		fmt.Fprintf(os.Stdout, "Digest: %s\n", result.Digest)
		for _, im := range result.Images {
			fmt.Fprintf(os.Stdout, "Image ID: %s\n", im.ID)
		}
		fmt.Fprintln(os.Stdout, familiarRef(ref))
	}
	return nil
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
