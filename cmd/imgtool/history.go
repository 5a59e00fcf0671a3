package main

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"github.com/imgtool/imgtool/transfer"
)

const (
	defaultHistoryFormat  = "{{.ID}}\t{{.CreatedSince}}\t{{.CreatedBy}}\t{{.Size}}\t{{.Comment}}"
	nonHumanHistoryFormat = "{{.ID}}\t{{.CreatedAt}}\t{{.CreatedBy}}\t{{.Size}}\t{{.Comment}}"
)

// historyHeader are docker history's column names.
var historyHeader = map[string]string{
	"ID": "IMAGE", "CreatedSince": "CREATED", "CreatedAt": "CREATED AT",
	"CreatedBy": "CREATED BY", "Size": "SIZE", "Comment": "COMMENT",
}

// historyRow is one history entry; its methods are docker's fields.
type historyRow struct {
	id, createdBy, comment string
	created                time.Time
	size                   int64
	trunc, human           bool
}

func (r *historyRow) MarshalJSON() ([]byte, error) { return methodsJSON(r) }
func (r *historyRow) ID() string                   { return shortID(r.id, !r.trunc) }
func (r *historyRow) CreatedAt() string {
	return time.Unix(r.created.Unix(), 0).Format(time.RFC3339)
}
func (r *historyRow) CreatedSince() string {
	if !r.human {
		return r.CreatedAt()
	}
	return sinceUnix(r.created.Unix())
}
func (r *historyRow) CreatedBy() string {
	by := strings.ReplaceAll(r.createdBy, "\t", " ")
	if r.trunc {
		return ellipsis(by, 45)
	}
	return by
}
func (r *historyRow) Size() string {
	if r.human {
		return humanSize(r.size)
	}
	return strconv.FormatInt(r.size, 10)
}
func (r *historyRow) Comment() string { return r.comment }

func init() {
	var quiet, noTrunc, human bool
	var format string
	register(&command{
		name:  "history",
		usage: "[OPTIONS] IMAGE",
		short: "Show the history of an image",
		long: `Columns as docker history prints them: IMAGE CREATED CREATED BY SIZE COMMENT, newest
first. Entries below the top are <missing>, as for a pulled or loaded image.

--format takes docker's forms: a Go template per entry, "table TEMPLATE" or json (one object
per line with docker's keys). Fields: ` + fieldNames(historyHeader) + `.

Examples:
  imgtool history app:1
  imgtool history --no-trunc --format '{{.CreatedBy}}' app:1`,
		setFlags: func(fs *pflag.FlagSet) {
			fs.BoolVarP(&quiet, "quiet", "q", false, "only show image IDs")
			fs.BoolVar(&noTrunc, "no-trunc", false, "don't truncate output")
			fs.BoolVarP(&human, "human", "H", true, "print sizes and dates in human readable format")
			fs.StringVar(&format, "format", "", "format output using a custom template: 'table', 'table TEMPLATE', 'json' or a Go template")
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
			rows, err := historyRows(st, info, !noTrunc, human)
			if err != nil {
				return err
			}
			def := defaultHistoryFormat
			if !human {
				def = nonHumanHistoryFormat
			}
			if quiet && (format == "" || format == "table") {
				format = "{{.ID}}"
			}
			f, err := newRowFormat(format, def, historyHeader)
			if err != nil {
				return err
			}
			return f.printRows(rows, &historyRow{})
		},
	})
}

// historyRows are an image's history entries, newest first, named as the
// daemon names them: the image's ID, then its parents' IDs while the
// parent chain lasts (a built image's), then <missing>.
func historyRows(st transfer.Store, info *transfer.ImageInfo, trunc, human bool) ([]any, error) {
	var cfg struct {
		History []struct {
			Created    time.Time `json:"created"`
			CreatedBy  string    `json:"created_by"`
			Comment    string    `json:"comment"`
			EmptyLayer bool      `json:"empty_layer"`
		} `json:"history"`
	}
	if err := json.Unmarshal(info.Config, &cfg); err != nil {
		return nil, fmt.Errorf("image %s: config: %w", info.ID, err)
	}
	rows := make([]any, len(cfg.History))
	layer := 0
	for i, h := range cfg.History {
		r := &historyRow{id: "<missing>", createdBy: h.CreatedBy, comment: h.Comment, created: h.Created, trunc: trunc, human: human}
		if !h.EmptyLayer && layer < len(info.Layers) {
			r.size = info.Layers[layer].Size
			layer++
		}
		rows[len(rows)-1-i] = r
	}
	img := info
	for _, r := range rows {
		r.(*historyRow).id = img.ID.String()
		if img.Parent == "" {
			break
		}
		p, err := transfer.LookupImage(st, img.Parent)
		if err != nil {
			break
		}
		img = p
	}
	return rows, nil
}
