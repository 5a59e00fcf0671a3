package main

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/imgtool/imgtool/transfer"
	"github.com/spf13/pflag"
)

type historyRow struct {
	ID        string `json:"ID"`
	Created   string `json:"Created"`
	CreatedBy string `json:"CreatedBy"`
	Size      int64  `json:"Size"`
	Comment   string `json:"Comment"`
}

func init() {
	var quiet, noTrunc bool
	var format string
	register(&command{
		name:  "history",
		usage: "[-q] [--no-trunc] [--format table|json] IMAGE",
		short: "Show the history of an image",
		long: `Columns as docker history prints them: IMAGE CREATED CREATED BY SIZE COMMENT, newest
first. Entries below the top are <missing>, as for a pulled or loaded image.

Example:
  imgtool history app:1`,
		setFlags: func(fs *pflag.FlagSet) {
			fs.BoolVarP(&quiet, "quiet", "q", false, "only show image IDs")
			fs.BoolVar(&noTrunc, "no-trunc", false, "don't truncate output")
			fs.StringVar(&format, "format", "table", "output format: table or json")
		},
		minArgs: 1, maxArgs: 1,
		run: func(g *globals, fs *pflag.FlagSet, args []string) error {
			st, err := g.store()
			if err != nil {
				return err
			}
			info, err := transfer.LookupImage(st, args[0])
			if err != nil {
				return err
			}
			var cfg struct {
				History []struct {
					Created    time.Time `json:"created"`
					CreatedBy  string    `json:"created_by"`
					Comment    string    `json:"comment"`
					EmptyLayer bool      `json:"empty_layer"`
				} `json:"history"`
			}
			if err := json.Unmarshal(info.Config, &cfg); err != nil {
				return fmt.Errorf("image %s: config: %w", info.ID, err)
			}
			rows := make([]historyRow, len(cfg.History))
			layer := 0
			for i, h := range cfg.History {
				r := historyRow{ID: "<missing>", CreatedBy: h.CreatedBy, Comment: h.Comment, Created: h.Created.UTC().Format(time.RFC3339)}
				if !h.EmptyLayer && layer < len(info.Layers) {
					r.Size = info.Layers[layer].Size
					layer++
				}
				rows[len(rows)-1-i] = r
			}
			if len(rows) > 0 {
				rows[0].ID = info.ID.String()
			}
			return listing[historyRow]{
				header: "IMAGE\tCREATED\tCREATED BY\tSIZE\tCOMMENT",
				cells: func(r historyRow) string {
					by := strings.ReplaceAll(r.CreatedBy, "\t", " ")
					if !noTrunc && len([]rune(by)) > 45 {
						by = string([]rune(by)[:44]) + "…"
					}
					created, _ := time.Parse(time.RFC3339, r.Created)
					return fmt.Sprintf("%s\t%s\t%s\t%s\t%s", shortIDOrMissing(r.ID, noTrunc), since(created), by, humanSize(r.Size), r.Comment)
				},
				id: func(r historyRow) string { return shortIDOrMissing(r.ID, noTrunc) },
			}.print(format, quiet, rows)
		},
	})
}

func shortIDOrMissing(id string, noTrunc bool) string {
	if id == "<missing>" {
		return id
	}
	return shortID(id, noTrunc)
}
