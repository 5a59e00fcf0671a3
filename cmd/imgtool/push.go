package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"

	"github.com/spf13/pflag"

	"github.com/imgtool/imgtool/registry"
	"github.com/imgtool/imgtool/transfer"
)

// registryFlags are the flags push, pull and search share.
type registryFlags struct {
	insecure bool
	certDir  string
	jobs     int
	creds    string // --creds USER:PASS (creds.go)
}

func (r *registryFlags) set(fs *pflag.FlagSet) {
	fs.BoolVar(&r.insecure, "insecure", false, "allow plain http and unverified TLS (localhost and 127.0.0.0/8 use http anyway)")
	fs.StringVar(&r.certDir, "cert-dir", "", "use the certificates in DIR (*.crt CAs, *.cert/*.key client certificate) instead of /etc/docker/certs.d/HOST[:PORT]")
	fs.IntVar(&r.jobs, "jobs", 4, "concurrent blob transfers")
	fs.Var((*credsValue)(&r.creds), "creds", "credentials for the registry, instead of Docker's config.json (as skopeo's --creds)")
}

func (r *registryFlags) options(g *globals, quiet bool) registry.Options {
	o := registry.Options{Insecure: r.insecure, CertDir: r.certDir, Jobs: r.jobs, DataRoot: g.root, UserAgent: "imgtool"}
	o.Keychain = credsKeychain(r.creds)
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
an index in it is pushed byte for byte); with REF given, a bare path no store image is
named after is the archive or layout there (push app.tar REF). REF defaults to SRC. A store image gets
REPO@<pushed manifest digest> recorded, as docker push records it (inspect's RepoDigests).

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
			rep, err := g.reporter("pushing", quiet || asJSON && g.progress == "")
			if err != nil {
				return err
			}
			opts.Progress = rep
			if !quiet && !asJSON {
				if r, err := registry.ParseReference(ref, opts); err == nil {
					fmt.Fprintf(os.Stdout, "The push refers to repository [%s]\n", r.Context().Name())
				}
			}
			res, err := pushSource(g, src, ref, len(args) == 2, opts)
			rep.Close()
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

// pushSource pushes SRC (any location; a bare name is a store image, else
// with an explicit REF an archive or layout path) to REF through the
// pipeline. An archive or layout needs an explicit REF.
func pushSource(g *globals, src, ref string, explicitRef bool, opts registry.Options) (*registry.PushResult, error) {
	parse := transfer.ParseRef // push REF: docker's "does not exist locally" below
	if explicitRef {
		parse = func(s string) (transfer.Ref, error) { return transfer.ResolveSource(s, g.env()) }
	}
	sref, err := parse(src)
	if err != nil {
		return nil, err
	}
	if sref.Transport != "store" {
		if !explicitRef {
			return nil, usageError{"push " + sref.Transport + ":PATH needs a destination REF"}
		}
		opts.DataRoot = "" // the store is not involved
	} else if !g.storeWritable() {
		// Distribution metadata is recorded only in a store imgtool may
		// write (not in the data root of a running dockerd).
		opts.DataRoot = ""
	}
	res, err := g.run(sref, transfer.Ref{Transport: "docker", Path: ref}, opts, transfer.ConvertOptions{Jobs: opts.Jobs})
	if err != nil {
		if sref.Transport == "store" && errors.Is(err, transfer.ErrNotFound) {
			if _, serr := os.Stat(src); serr == nil && !explicitRef {
				return nil, usageError{fmt.Sprintf("no store image %q; to push the archive or layout at that path, give a destination: push %s REGISTRY/REPO:TAG", src, src)}
			}
			//lint:ignore ST1005 docker push's own words, which scripts match
			return nil, fmt.Errorf("An image does not exist locally with the tag: %s", src)
		}
		return nil, err
	}
	return res.Written[0].Detail.(*registry.PushResult), nil
}
