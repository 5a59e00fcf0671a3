package main

import (
	"sort"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"github.com/imgtool/imgtool/transfer"
)

const (
	defaultImagesFormat = "{{.Repository}}\t{{.Tag}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}"
	digestsImagesFormat = "{{.Repository}}\t{{.Tag}}\t{{.Digest}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}"
)

// imageHeader are docker images' column names.
var imageHeader = map[string]string{
	"ID": "IMAGE ID", "Repository": "REPOSITORY", "Tag": "TAG", "Digest": "DIGEST",
	"CreatedSince": "CREATED", "CreatedAt": "CREATED AT", "Size": "SIZE",
	"Containers": "CONTAINERS", "VirtualSize": "SIZE", "SharedSize": "SHARED SIZE",
	"UniqueSize": "UNIQUE SIZE",
}

// imageRow is one line of `images`: its methods are the template's fields,
// valued as docker's are; --format json prints them all.
type imageRow struct {
	info              *transfer.ImageInfo
	repo, tag, digest string
	trunc             bool
}

func (r *imageRow) MarshalJSON() ([]byte, error) { return methodsJSON(r) }
func (r *imageRow) ID() string                   { return shortID(r.fullID(), !r.trunc) }
func (r *imageRow) Repository() string           { return r.repo }
func (r *imageRow) Tag() string                  { return r.tag }
func (r *imageRow) Digest() string               { return r.digest }
func (r *imageRow) CreatedSince() string {
	if time.Unix(r.created(), 0).IsZero() {
		return ""
	}
	return sinceUnix(r.created())
}
func (r *imageRow) CreatedAt() string   { return time.Unix(r.created(), 0).String() }
func (r *imageRow) Size() string        { return humanSize(r.size()) }
func (r *imageRow) Containers() string  { return "N/A" }
func (r *imageRow) VirtualSize() string { return humanSizePrec(r.size(), 4) }
func (r *imageRow) SharedSize() string  { return "N/A" }
func (r *imageRow) UniqueSize() string  { return "N/A" }

func (r *imageRow) fullID() string {
	if r.info == nil {
		return ""
	}
	return r.info.ID.String()
}

func (r *imageRow) created() int64 {
	if r.info == nil {
		return 0
	}
	return r.info.Created.Unix()
}

func (r *imageRow) size() int64 {
	if r.info == nil {
		return 0
	}
	return r.info.Size
}

func init() {
	var quiet, noTrunc, all, digests bool
	var format string
	var filters []string
	register(&command{
		name:  "images",
		usage: "[OPTIONS] [REPOSITORY[:TAG]]",
		short: "List images in the store",
		long: `Columns as docker images prints them: REPOSITORY TAG IMAGE ID CREATED SIZE (--digests adds
DIGEST after TAG: the repo@sha256 references a pull or push recorded, as docker's). Untagged
intermediate images (parents of other images, as the classic builder leaves them) are hidden
unless -a, as docker hides them.

--format takes docker's forms: a Go template run per image ({{.Repository}}:{{.Tag}}),
"table TEMPLATE" (with docker's column names as header), or json (one object per line with
docker's keys and values: ID short unless --no-trunc, Size as "7.8MB", CreatedAt as
"2024-01-02 15:04:05 +0000 UTC"). Fields: ` + fieldNames(imageHeader) + `.
Functions: json join index split lower upper title truncate pad println.

Filters (-f/--filter, repeatable): dangling=true|false, reference=GLOB, before=IMAGE,
since=IMAGE, label=KEY or label=KEY=VALUE.

Examples:
  imgtool images
  imgtool images --format '{{.Repository}}:{{.Tag}} {{.Size}}'
  imgtool images --filter dangling=true -q
  imgtool --root /var/lib/docker images --format json`,
		setFlags: func(fs *pflag.FlagSet) {
			fs.BoolVarP(&all, "all", "a", false, "show all images (default hides intermediate images)")
			fs.BoolVarP(&quiet, "quiet", "q", false, "only show image IDs")
			fs.BoolVar(&noTrunc, "no-trunc", false, "don't truncate output")
			fs.BoolVar(&digests, "digests", false, "show digests (the repo@sha256 references a pull or push recorded)")
			fs.StringVar(&format, "format", "", "format output using a custom template: 'table', 'table TEMPLATE', 'json' or a Go template")
			fs.StringArrayVarP(&filters, "filter", "f", nil, "filter output based on conditions provided")
		},
		maxArgs: 1,
		run: func(g *globals, fs *pflag.FlagSet, args []string) error {
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
			infos, err = filterImages(st, infos, filters)
			if err != nil {
				return err
			}
			rows := imageRows(infos, args, !noTrunc, rowDigests{
				// docker's needDigest: a format naming {{.Digest}} shows them beside tags
				withTags: digests || strings.Contains(format, "{{.Digest}}"), alone: digests,
			})
			if quiet && (format == "" || format == "table") {
				format = "{{.ID}}" // one line per row, as docker prints it
			}
			def := defaultImagesFormat
			if digests {
				def = digestsImagesFormat
			}
			f, err := newRowFormat(format, def, imageHeader)
			if err != nil {
				return err
			}
			return f.printRows(rows, &imageRow{})
		},
	})
}

// shortID is docker's 12-character ID unless --no-trunc.
func shortID(id string, noTrunc bool) string {
	if noTrunc {
		return id
	}
	h := id
	if i := strings.IndexByte(h, ':'); i >= 0 {
		h = h[i+1:]
	}
	if len(h) > 12 {
		h = h[:12]
	}
	return h
}

// imageRows expands images into rows as docker's CLI does
// (imageFormatTaggedAndDigest): one per tag, carrying the digests of the
// same repository (one row per digest with --digests), one per digest of a
// repository without a tag, <none> for an image without references;
// newest first, matched by an optional REPOSITORY[:TAG] argument.
func imageRows(infos []*transfer.ImageInfo, filter []string, trunc bool, digests rowDigests) []any {
	infos = append([]*transfer.ImageInfo(nil), infos...)
	sort.SliceStable(infos, func(i, j int) bool { return infos[i].Created.After(infos[j].Created) })
	var rows []any
	for _, info := range infos {
		refs := info.Tags
		if len(filter) > 0 {
			refs = nil
			for _, t := range info.Tags {
				if familiarMatch(filter[0], t) {
					refs = append(refs, t)
				}
			}
			if len(refs) == 0 {
				continue
			}
		}
		if len(refs) == 0 {
			rows = append(rows, &imageRow{info: info, repo: "<none>", tag: "<none>", digest: "<none>", trunc: trunc})
			continue
		}
		for _, r := range refRows(refs, digests) {
			r.info, r.trunc = info, trunc
			rows = append(rows, r)
		}
	}
	return rows
}

// rowDigests say where the rows carry digests: beside tags, and in the
// rows of repositories that only have digests (docker's CLI decides the
// two differently).
type rowDigests struct{ withTags, alone bool }

// refRows are one image's rows for its references (repo:tag and
// repo@digest strings), in docker's CLI order: tags by repository, then
// the repositories that only have digests.
func refRows(refs []string, digests rowDigests) []*imageRow {
	tagsOf, digestsOf := map[string][]string{}, map[string][]string{}
	var repos, digestRepos []string
	for _, ref := range refs {
		repo, tag := splitRef(ref)
		if i := strings.LastIndex(ref, "@"); i >= 0 {
			if digestsOf[repo] == nil {
				digestRepos = append(digestRepos, repo)
			}
			digestsOf[repo] = append(digestsOf[repo], ref[i+1:])
			continue
		}
		if tagsOf[repo] == nil {
			repos = append(repos, repo)
		}
		tagsOf[repo] = append(tagsOf[repo], tag)
	}
	var rows []*imageRow
	for _, repo := range repos {
		ds := digestsOf[repo]
		delete(digestsOf, repo) // shown beside the tags, not as rows of their own
		if !digests.withTags || len(ds) == 0 {
			ds = []string{"<none>"}
		}
		for _, tag := range tagsOf[repo] {
			for _, d := range ds {
				rows = append(rows, &imageRow{repo: repo, tag: tag, digest: d})
			}
		}
	}
	for _, repo := range digestRepos {
		ds, ok := digestsOf[repo]
		if !ok {
			continue
		}
		if !digests.alone {
			ds = []string{""} // docker's CLI leaves it empty here
		}
		for _, d := range ds {
			rows = append(rows, &imageRow{repo: repo, tag: "<none>", digest: d})
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
