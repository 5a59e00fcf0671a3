package main

import (
	"fmt"
	"strings"
	"time"

	"github.com/imgtool/imgtool/transfer"
	"github.com/spf13/pflag"
)

type psRow struct {
	ID      string `json:"ID"`
	Image   string `json:"Image"`
	Command string `json:"Command"`
	Created string `json:"CreatedAt"`
	Status  string `json:"Status"`
	Names   string `json:"Names"`
}

func init() {
	var all, quiet, noTrunc bool
	var format string
	register(&command{
		name:  "ps",
		usage: "[-a] [-q] [--no-trunc] [--format table|json]",
		short: "List containers",
		long: `Columns as docker ps prints them: CONTAINER ID IMAGE COMMAND CREATED STATUS PORTS NAMES.
Without -a only running containers are listed (imgtool runs none; Docker's may be).

Examples:
  imgtool ps -a
  imgtool --root /var/lib/docker ps -a --format json`,
		setFlags: func(fs *pflag.FlagSet) {
			fs.BoolVarP(&all, "all", "a", false, "show all containers (default shows just running)")
			fs.BoolVarP(&quiet, "quiet", "q", false, "only display container IDs")
			fs.BoolVar(&noTrunc, "no-trunc", false, "don't truncate output")
			fs.StringVar(&format, "format", "table", "output format: table or json")
		},
		maxArgs: 0,
		run: func(g *globals, fs *pflag.FlagSet, args []string) error {
			st, err := g.store()
			if err != nil {
				return err
			}
			cs, err := transfer.ListContainers(st)
			if err != nil {
				return err
			}
			var rows []psRow
			for _, c := range cs {
				if all || c.Running {
					rows = append(rows, toPSRow(st, c, noTrunc))
				}
			}
			return listing[psRow]{
				header: "CONTAINER ID\tIMAGE\tCOMMAND\tCREATED\tSTATUS\tPORTS\tNAMES",
				cells: func(r psRow) string {
					created, _ := time.Parse(time.RFC3339Nano, r.Created)
					return fmt.Sprintf("%s\t%s\t%s\t%s\t%s\t\t%s", r.ID, r.Image, r.Command, since(created), r.Status, r.Names)
				},
				id: func(r psRow) string { return r.ID },
			}.print(format, quiet, rows)
		},
	})
}

func toPSRow(st transfer.Store, c *transfer.Container, noTrunc bool) psRow {
	image := shortID(c.Image.String(), false)
	if tags := transfer.ImageTags(st, c.Image); len(tags) > 0 {
		image = tags[0]
	}
	cmd := strings.TrimSpace(c.Path + " " + strings.Join(c.Args, " "))
	if !noTrunc && len([]rune(cmd)) > 20 {
		cmd = string([]rune(cmd)[:19]) + "…"
	}
	id := c.ID
	if !noTrunc {
		id = id[:12]
	}
	return psRow{ID: id, Image: image, Command: fmt.Sprintf("%q", cmd), Created: c.Created.Format(time.RFC3339Nano), Status: c.Status, Names: strings.TrimPrefix(c.Name, "/")}
}
