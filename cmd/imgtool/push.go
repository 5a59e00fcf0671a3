package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strings"

	"github.com/spf13/pflag"

	"github.com/imgtool/imgtool/archive"
	"github.com/imgtool/imgtool/registry"
)

// registryFlags are the flags push, pull and search share.
type registryFlags struct {
	insecure bool
	certDir  string
	jobs     int
}

func (r *registryFlags) set(fs *pflag.FlagSet) {
	fs.BoolVar(&r.insecure, "insecure", false, "allow plain http and unverified TLS (localhost and 127.0.0.0/8 use http anyway)")
	fs.StringVar(&r.certDir, "cert-dir", "", "use the certificates in DIR (*.crt CAs, *.cert/*.key client certificate) instead of /etc/docker/certs.d/HOST[:PORT]")
	fs.IntVar(&r.jobs, "jobs", 4, "concurrent blob transfers")
}

func (r *registryFlags) options(g *globals, quiet bool) registry.Options {
	o := registry.Options{Insecure: r.insecure, CertDir: r.certDir, Jobs: r.jobs, DataRoot: g.root, UserAgent: "imgtool"}
	if !quiet {
		o.Log = func(format string, args ...any) { fmt.Fprintf(os.Stdout, format+"\n", args...) }
	}
	return o
}

func init() {
	var rf registryFlags
	var asJSON, quiet bool
	register(&command{
		name:  "push",
		usage: "[--jobs N] [--insecure] [--cert-dir DIR] [--json] [-q] SRC [REF]",
		short: "Push an image or a multi-platform index to a registry",
		long: `SRC is a store image (tag, ID or ID prefix), docker-archive:PATH, oci-archive:PATH
(an archive with several platforms is pushed as an index) or oci:DIR (an OCI layout;
an index in it is pushed byte for byte). REF defaults to SRC.

Compressed blobs are pushed as they are. Uncompressed layers (the store's, docker
save's) are gzipped once each with pgzip into a temp file while both digests are
computed, then uploaded; the image keeps its config (same image ID) under a new
Docker schema 2 manifest. Blobs the repository has are not uploaded (HEAD), layers
pulled or pushed before are neither compressed nor uploaded again and are mounted
from other repositories of the same registry. Credentials come from Docker's config
(~/.docker/config.json, DOCKER_CONFIG, credential helpers); TLS trust from the system
store plus /etc/docker/certs.d/HOST[:PORT]/ (or --cert-dir), as Docker's. Throttled
(429, honouring Retry-After) and failing (502/503/504, dropped connections) requests
are retried with backoff.

Prints docker push's lines, or with --json one object on stdout:
{"ref":…,"digest":…,"mediaType":…,"size":…,"layers":[{"digest","diff_id","size","mediaType","status"}…]}

Examples:
  imgtool push localhost:5000/app:1
  imgtool push app:1 registry.example.com/team/app:1
  imgtool push oci:./layout 127.0.0.1:5000/multi:1 --json`,
		setFlags: func(fs *pflag.FlagSet) {
			rf.set(fs)
			fs.BoolVar(&asJSON, "json", false, "print the result as JSON on stdout")
			fs.BoolVarP(&quiet, "quiet", "q", false, "print only the digest")
		},
		minArgs: 1, maxArgs: 2,
		run: func(g *globals, fs *pflag.FlagSet, args []string) error {
			src, ref := args[0], args[0]
			if len(args) == 2 {
				ref = args[1]
			}
			opts := rf.options(g, quiet || asJSON)
			ctx := context.Background()
			if !quiet && !asJSON {
				if r, err := registry.ParseReference(ref, opts); err == nil {
					fmt.Fprintf(os.Stdout, "The push refers to repository [%s]\n", r.Context().Name())
				}
			}
			res, err := pushSource(ctx, g, src, ref, len(args) == 2, opts)
			if err != nil {
				return err
			}
			switch {
			case asJSON:
				enc := json.NewEncoder(os.Stdout)
				return enc.Encode(res)
			case quiet:
				fmt.Fprintln(os.Stdout, res.Digest)
			default:
				id := ref
				if r, err := registry.ParseReference(ref, opts); err == nil {
					id = r.Identifier()
				}
				fmt.Fprintf(os.Stdout, "%s: digest: %s size: %d\n", id, res.Digest, res.Size)
			}
			return nil
		},
	})
}

// pushSource opens SRC by its transport prefix and pushes it.
func pushSource(ctx context.Context, g *globals, src, ref string, explicitRef bool, opts registry.Options) (*registry.PushResult, error) {
	kind, path, _ := strings.Cut(src, ":")
	switch kind {
	case "oci":
		if !explicitRef {
			return nil, usageError{"push oci:DIR needs a destination REF"}
		}
		opts.DataRoot = ""
		return registry.PushLayout(ctx, ref, path, opts)
	case "docker-archive", "oci-archive":
		if !explicitRef {
			return nil, usageError{"push " + kind + ":PATH needs a destination REF"}
		}
		opts.DataRoot = "" // the store is not involved
		a, err := archive.Open(path)
		if err != nil {
			return nil, err
		}
		defer a.Close()
		return registry.PushEntries(ctx, ref, a.Images(), opts)
	}
	st, err := g.store()
	if err != nil {
		return nil, err
	}
	// Distribution metadata is recorded only in a store imgtool may write
	// (not in the data root of a running dockerd).
	if u, err := st.Writer(); err == nil {
		u()
	} else {
		opts.DataRoot = ""
	}
	unlock, err := st.Reader()
	if err != nil {
		return nil, err
	}
	defer unlock()
	id, err := st.Resolve(src)
	if err != nil {
		return nil, fmt.Errorf("An image does not exist locally with the tag: %s", src)
	}
	img, err := st.Image(id)
	if err != nil {
		return nil, err
	}
	return registry.Push(ctx, ref, img, opts)
}
