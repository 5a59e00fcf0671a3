package main

import (
	"time"

	"github.com/spf13/pflag"

	"github.com/imgtool/imgtool/transfer"
)

func init() {
	var changes []string
	var message, author string
	var jsonOut bool
	register(&command{
		name:  "commit",
		usage: "[-c CHANGE]... [-m MSG] [-a AUTHOR] CONTAINER [REPOSITORY[:TAG]]",
		short: "Create a new image from a container's changes",
		long: `The container's read-write layer (init files excluded, deletions as whiteouts) becomes a
new layer on its image; the config follows docker commit (history entry, empty_layer for
no change, parent, container_config). Prints sha256:<id>. Works on a container Docker
created, in a stopped Docker's data root, and on imgtool's own containers.

Examples:
  imgtool commit -c 'CMD ["/srv/app"]' -m 'add app' build app:2
  imgtool --root /var/lib/docker commit web1 web:snapshot     # daemon stopped`,
		setFlags: func(fs *pflag.FlagSet) {
			fs.StringArrayVarP(&changes, "change", "c", nil, "apply a Dockerfile instruction to the image (repeatable)")
			fs.StringVarP(&message, "message", "m", "", "commit message")
			fs.StringVarP(&author, "author", "a", "", `author (e.g. "Jane Doe <jane@example.com>")`)
			fs.BoolVar(&jsonOut, "json", false, "print the result as JSON (docs/json.md)")
		},
		minArgs: 1, maxArgs: 2,
		run: func(g *globals, fs *pflag.FlagSet, args []string) error {
			start := time.Now()
			tag, err := optionalTag(args[1:])
			if err != nil {
				return err
			}
			rep, err := g.reporter("committing", false)
			if err != nil {
				return err
			}
			var res *transfer.Imported
			err = withContainer(g, args[0], func(st transfer.Store, c *transfer.Container) error {
				res, err = transfer.Commit(st, c, transfer.CommitOptions{Changes: changes, Message: message, Author: author, Tag: tag, Ctx: g.ctx, Progress: rep})
				return err
			})
			rep.Close()
			if err != nil {
				return err
			}
			return printImported(g, "commit", res, jsonOut, start)
		},
	})
}
