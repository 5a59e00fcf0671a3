package main

import (
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/spf13/pflag"

	"github.com/imgtool/imgtool/progress"
	"github.com/imgtool/imgtool/reference"
	"github.com/imgtool/imgtool/transfer"
)

func init() {
	var changes []string
	var message, platform, configFrom string
	var jsonOut bool
	register(&command{
		name:  "import",
		usage: "[-c CHANGE]... [-m MSG] [--platform OS/ARCH[/VARIANT]] [--config-from IMAGE] FILE|URL|- [REPOSITORY[:TAG]]",
		short: "Import a rootfs tarball as a single-layer image",
		long: `The tarball may be plain or gzip/zstd/xz/bzip2, a file, an http(s) URL, or stdin (-).
--change takes Dockerfile instructions with Docker's meaning: CMD, ENTRYPOINT (shell and
exec form), ENV ($VAR expanded against earlier values), EXPOSE (80 means 80/tcp), LABEL,
USER, VOLUME, WORKDIR (relative to the previous one), ONBUILD, HEALTHCHECK, STOPSIGNAL.
-m sets the comment (default "Imported from -" or the URL). --config-from copies the
config (CMD, ENTRYPOINT, ENV, WORKDIR, USER, EXPOSE, LABEL, VOLUME…) of an existing image
first, so export -> import keeps what users lose with docker. With SOURCE_DATE_EPOCH set,
importing the same tar twice gives the same image ID. Prints sha256:<id>.

Examples:
  sudo debootstrap --variant=minbase bookworm rootfs && tar -C rootfs -c . |
    imgtool import -c 'CMD ["/bin/bash"]' -c 'ENV LANG=C.UTF-8' - debian:bookworm-local
  imgtool import --config-from app:1 app-rootfs.tar.zst app:flat`,
		setFlags: func(fs *pflag.FlagSet) {
			fs.StringArrayVarP(&changes, "change", "c", nil, "apply a Dockerfile instruction to the image (repeatable)")
			fs.StringVarP(&message, "message", "m", "", "set the commit message (comment) of the image")
			fs.StringVar(&platform, "platform", "", "set os/architecture[/variant] of the image")
			fs.StringVar(&configFrom, "config-from", "", "start from the config of this image")
			fs.BoolVar(&jsonOut, "json", false, "print the result as JSON (docs/json.md)")
		},
		minArgs: 1, maxArgs: 2,
		run: func(g *globals, fs *pflag.FlagSet, args []string) error {
			start := time.Now()
			opts := transfer.ImportOptions{Changes: changes, Message: message, ConfigFrom: configFrom, Ctx: g.ctx}
			if platform != "" {
				ps, err := parsePlatforms([]string{platform})
				if err != nil {
					return err
				}
				opts.Platform = &ps[0]
			}
			tag, err := optionalTag(args[1:])
			if err != nil {
				return err
			}
			opts.Tag = tag
			st, err := g.store()
			if err != nil {
				return err
			}
			if args[0] == "-" && isTerminal(os.Stdin) {
				return usageError{"requested import from stdin, but stdin is a terminal"}
			}
			src, shown, err := transfer.OpenImportSource(args[0], os.Stdin)
			if err != nil {
				return err
			}
			defer src.Close()
			opts.Source = shown
			rep, err := g.reporter("importing", false)
			if err != nil {
				return err
			}
			var size int64
			if fi, err := os.Stat(args[0]); err == nil && fi.Mode().IsRegular() {
				size = fi.Size()
			}
			in := progress.ReadCloser(src, rep.Task(filepath.Base(args[0]), size))
			res, err := transfer.Import(st, in, opts)
			in.Finish(err) // ends the task however far Import read
			rep.Close()
			if err != nil {
				return err
			}
			return printImported(g, "import", res, jsonOut, start)
		},
	})
}

// optionalTag parses an optional REPOSITORY[:TAG] argument.
func optionalTag(args []string) (*name.Tag, error) {
	if len(args) == 0 {
		return nil, nil
	}
	t, err := reference.ParseTag(args[0])
	if err != nil {
		return nil, err
	}
	return &t, nil
}

func printImported(g *globals, cmd string, res *transfer.Imported, jsonOut bool, start time.Time) error {
	if jsonOut {
		st, _ := g.store()
		info, err := st.Images().Info(res.ID)
		if err != nil {
			return err
		}
		var diffIDs []v1.Hash
		for _, l := range info.Layers {
			diffIDs = append(diffIDs, l.DiffID)
		}
		r := &result{Command: cmd, Images: []imageResult{newImageResult(res.ID, res.Tags, diffIDs)}}
		return printResult(os.Stdout, r, start)
	}
	fmt.Println(res.ID)
	return nil
}
