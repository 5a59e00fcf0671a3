package main

import (
	"fmt"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"github.com/imgtool/imgtool/reference"
	"github.com/imgtool/imgtool/transfer"
)

// imageRow is one line of `images`; its JSON form is --format json.
type imageRow struct {
	Repository   string `json:"Repository"`
	Tag          string `json:"Tag"`
	ID           string `json:"ID"`
	Created      string `json:"Created"`
	CreatedSince string `json:"CreatedSince"`
	Size         int64  `json:"Size"`
}

func init() {
	var quiet, noTrunc, all bool
	var format string
	register(&command{
		name:  "images",
		usage: "[-a] [-q] [--no-trunc] [--format table|json] [REPOSITORY[:TAG]]",
		short: "List images in the store",
		long: `Columns as docker images prints them: REPOSITORY TAG IMAGE ID CREATED SIZE.
--format json prints one JSON object per line: Repository, Tag, ID (full), Created
(RFC 3339), CreatedSince, Size (bytes). Untagged intermediate images (parents of other
images, as the classic builder leaves them) are hidden unless -a, as docker hides them.

Examples:
  imgtool images
  imgtool --root /var/lib/docker images --format json`,
		setFlags: func(fs *pflag.FlagSet) {
			fs.BoolVarP(&all, "all", "a", false, "show all images (default hides intermediate images)")
			fs.BoolVarP(&quiet, "quiet", "q", false, "only show image IDs")
			fs.BoolVar(&noTrunc, "no-trunc", false, "don't truncate output")
			fs.StringVar(&format, "format", "table", "output format: table or json")
		},
		maxArgs: 1,
		run: func(g *globals, fs *pflag.FlagSet, args []string) error {
			if format != "table" && format != "json" {
				return usageError{fmt.Sprintf("unknown --format %q (table, json)", format)}
			}
			st, err := g.store()
			if err != nil {
				return err
			}
			infos, err := transfer.ListImages(st)
			if err != nil {
				return err
			}
			if !all {
				infos = withoutIntermediate(infos)
			}
			rows := imageRows(infos, args)
			return listing[imageRow]{
				header: "REPOSITORY\tTAG\tIMAGE ID\tCREATED\tSIZE",
				cells: func(r imageRow) string {
					return fmt.Sprintf("%s\t%s\t%s\t%s\t%s", r.Repository, r.Tag, shortID(r.ID, noTrunc), r.CreatedSince, humanSize(r.Size))
				},
				id:     func(r imageRow) string { return shortID(r.ID, noTrunc) },
				unique: true,
			}.print(format, quiet, rows)
		},
	})
}

// shortID is docker's 12-character ID unless --no-trunc.
func shortID(id string, noTrunc bool) string {
	if noTrunc {
		return id
	}
	h := strings.TrimPrefix(id, "sha256:")
	if len(h) > 12 {
		h = h[:12]
	}
	return h
}

// imageRows expands images into one row per tag (<none> for untagged),
// filtered by an optional REPOSITORY[:TAG] argument.
func imageRows(infos []*transfer.ImageInfo, filter []string) []imageRow {
	var rows []imageRow
	for _, info := range infos {
		base := imageRow{ID: info.ID.String(), Size: info.Size, CreatedSince: since(info.Created)}
		if !info.Created.IsZero() {
			base.Created = info.Created.UTC().Format(time.RFC3339)
		}
		if len(info.Tags) == 0 {
			r := base
			r.Repository, r.Tag = "<none>", "<none>"
			if len(filter) == 0 {
				rows = append(rows, r)
			}
			continue
		}
		for _, t := range info.Tags {
			r := base
			r.Repository, r.Tag = splitRef(t)
			if len(filter) == 0 || matchesFilter(r, filter[0]) {
				rows = append(rows, r)
			}
		}
	}
	return rows
}

func splitRef(ref string) (repo, tag string) {
	if i := strings.LastIndex(ref, "@"); i >= 0 {
		return ref[:i], "<none>"
	}
	if i := strings.LastIndex(ref, ":"); i > strings.LastIndex(ref, "/") {
		return ref[:i], ref[i+1:]
	}
	return ref, "latest"
}

func matchesFilter(r imageRow, f string) bool {
	ref, err := reference.Parse(f)
	if err != nil {
		return false
	}
	if reference.FamiliarName(ref) != r.Repository {
		return false
	}
	last := f[strings.LastIndex(f, "/")+1:]
	return !strings.Contains(last, ":") || r.Repository+":"+r.Tag == reference.Familiar(ref)
}

// withoutIntermediate drops untagged images that another image names as
// its parent: docker images hides them unless -a.
func withoutIntermediate(infos []*transfer.ImageInfo) []*transfer.ImageInfo {
	parents := map[string]bool{}
	for _, i := range infos {
		if i.Parent != "" {
			parents[i.Parent] = true
		}
	}
	var out []*transfer.ImageInfo
	for _, i := range infos {
		if len(i.Tags) == 0 && parents[i.ID.String()] {
			continue
		}
		out = append(out, i)
	}
	return out
}
