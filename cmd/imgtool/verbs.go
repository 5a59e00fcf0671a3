package main

import (
	"fmt"
	"os"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/spf13/pflag"

	"github.com/imgtool/imgtool/registry"
	"github.com/imgtool/imgtool/transfer"
)

// crane's inspection verbs over every location: digest, manifest, config.

const locationHelp = `LOCATION is a store image (tag, ID or ID prefix), docker://REF (a registry),
docker-archive:PATH[:REF], oci:DIR[:REF], oci-archive:PATH[:REF] or dir:DIR.
A registry, an OCI layout and a Docker 25+ docker save give their own manifest;
for a store image (and an older docker save) it is the OCI manifest that
` + "`imgtool save`" + ` and Docker 25+'s docker save write for it (uncompressed layers,
as in the archive's index.json); a containerd-store image (Docker 29) gives its
stored manifest, whose digest is its ID. A push writes another manifest (gzipped layers),
whose digest push prints and ` + "`imgtool digest docker://REF`" + ` gives afterwards.`

// describeFlags are the flags of the inspection verbs.
type describeFlags struct {
	rf       registryFlags
	platform string
}

func (d *describeFlags) set(fs *pflag.FlagSet, withPlatform bool) {
	d.rf.set(fs)
	if withPlatform {
		fs.StringVar(&d.platform, "platform", "", "the image of an index to use (os/arch[/variant]; default: the host's)")
	}
}

// with describes loc and runs fn on it, the source open meanwhile.
func (d *describeFlags) with(g *globals, loc string, fn func(*transfer.Described) error) error {
	desc, closer, err := d.describe(g, loc)
	if err != nil {
		return err
	}
	defer closer()
	return fn(desc)
}

// describe opens the location with the command's registry options.
func (d *describeFlags) describe(g *globals, loc string) (*transfer.Described, func() error, error) {
	ref, err := transfer.ParseRef(loc)
	if err != nil {
		return nil, nil, usageError{err.Error()}
	}
	transfer.RegisterTransport(registry.Transport(d.rf.options(g, true)))
	return transfer.Describe(g.ctx, ref, g.env())
}

// rawConfig is the config of the described image (an index's platform's).
func (d *describeFlags) rawConfig(desc *transfer.Described, loc string) ([]byte, error) {
	img, err := d.image(desc)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", loc, err)
	}
	raw, err := img.RawConfigFile()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", loc, err)
	}
	return raw, nil
}

func (d *describeFlags) image(desc *transfer.Described) (v1.Image, error) {
	if d.platform == "" {
		return desc.Image(nil)
	}
	ps, err := parsePlatforms([]string{d.platform})
	if err != nil {
		return nil, err
	}
	return desc.Image(&ps[0])
}

func init() {
	var df describeFlags
	register(&command{
		name:  "digest",
		usage: "[--insecure] [--creds USER:PASS] LOCATION",
		short: "Print the digest of an image's manifest or index (as crane digest)",
		long: `Prints the sha256 digest of LOCATION's manifest (an index's for a multi-platform
image), as crane digest and skopeo inspect --format '{{.Digest}}' do.

` + locationHelp + `

Examples:
  imgtool digest docker://127.0.0.1:5000/app:1
  imgtool digest app:1
  imgtool digest oci:layout:v1`,
		setFlags: func(fs *pflag.FlagSet) { df.set(fs, false) },
		minArgs:  1, maxArgs: 1,
		run: func(g *globals, fs *pflag.FlagSet, args []string) error {
			return df.with(g, args[0], func(desc *transfer.Described) error {
				_, err := fmt.Fprintln(os.Stdout, desc.Digest)
				return err
			})
		},
	})
	register(&command{
		name:  "manifest",
		usage: "[--insecure] [--creds USER:PASS] LOCATION",
		short: "Print the raw manifest or index of an image (as crane manifest)",
		long: `Writes LOCATION's manifest (or index) bytes as they are, without a newline added,
as crane manifest and skopeo inspect --raw do; their sha256 is what digest prints.

` + locationHelp + `

Examples:
  imgtool manifest docker://127.0.0.1:5000/app:1 | jq .
  imgtool manifest oci-archive:app.tar`,
		setFlags: func(fs *pflag.FlagSet) { df.set(fs, false) },
		minArgs:  1, maxArgs: 1,
		run: func(g *globals, fs *pflag.FlagSet, args []string) error {
			return df.with(g, args[0], func(desc *transfer.Described) error {
				_, err := os.Stdout.Write(desc.Manifest)
				return err
			})
		},
	})
	register(&command{
		name:  "config",
		usage: "[--platform OS/ARCH] [--insecure] [--creds USER:PASS] LOCATION",
		short: "Print the raw config of an image (as crane config)",
		long: `Writes the image's config blob as it is (its sha256 is the image ID), as crane
config and skopeo inspect --config --raw do. For a multi-platform index, the
config of the host's platform, or of --platform.

` + locationHelp + `

Examples:
  imgtool config app:1 | jq .config.Env
  imgtool config --platform linux/arm64 docker://127.0.0.1:5000/multi:1`,
		setFlags: func(fs *pflag.FlagSet) { df.set(fs, true) },
		minArgs:  1, maxArgs: 1,
		run: func(g *globals, fs *pflag.FlagSet, args []string) error {
			return df.with(g, args[0], func(desc *transfer.Described) error {
				raw, err := df.rawConfig(desc, args[0])
				if err == nil {
					_, err = os.Stdout.Write(raw)
				}
				return err
			})
		},
	})
	registerLs()
}

func registerLs() {
	var rf registryFlags
	register(&command{
		name:  "ls",
		usage: "[--insecure] [--creds USER:PASS] REPO",
		short: "List the tags of a registry repository (as crane ls)",
		long: `Prints REPO's tags, one a line, in the registry's order (every page of
/v2/REPO/tags/list), as crane ls does. REPO may be given as docker://REPO.

Examples:
  imgtool ls 127.0.0.1:5000/app
  imgtool ls --creds user:pass registry.example.com/team/app`,
		setFlags: rf.set,
		minArgs:  1, maxArgs: 1,
		run: func(g *globals, fs *pflag.FlagSet, args []string) error {
			repo := args[0]
			if r, ok := cutDocker(repo); ok {
				repo = r
			}
			tags, err := registry.ListTags(g.ctx, repo, rf.options(g, true))
			if err != nil {
				return err
			}
			for _, t := range tags {
				fmt.Fprintln(os.Stdout, t)
			}
			return nil
		},
	})
}

func cutDocker(s string) (string, bool) {
	const p = "docker://"
	if len(s) > len(p) && s[:len(p)] == p {
		return s[len(p):], true
	}
	return s, false
}
