package main

import (
	"bufio"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"github.com/imgtool/imgtool/transfer"
)

func init() {
	var all, force bool
	var filters []string
	register(&command{
		name:  "prune",
		usage: "[-a] [-f] [--filter until=…|label=…]",
		short: "Remove unused images (docker image prune)",
		long: `As docker image prune: dangling images (untagged, no child) by default; with -a every
image no container uses. Untagged parents left without children go too, and the layers
nothing else uses. Filters: until=DURATION|TIMESTAMP (created before), label=KEY[=VALUE],
label!=KEY[=VALUE], dangling=false (as -a). Without -f it asks on stdout and reads the answer from stdin, as docker
does (no "y" on stdin, e.g. not a terminal and nothing piped: nothing is removed, exit 0).

Examples:
  imgtool prune -f
  imgtool image prune -a -f --filter until=24h`,
		setFlags: func(fs *pflag.FlagSet) {
			fs.BoolVarP(&all, "all", "a", false, "remove all unused images, not just dangling ones")
			fs.BoolVarP(&force, "force", "f", false, "do not prompt for confirmation")
			fs.StringArrayVar(&filters, "filter", nil, "provide filter values (e.g. \"until=<timestamp>\")")
		},
		maxArgs: 0,
		run: func(g *globals, fs *pflag.FlagSet, args []string) error {
			keep, allImages, err := pruneFilter(filters)
			if err != nil {
				return err
			}
			all = all || allImages
			if !force {
				warning := "WARNING! This will remove all dangling images."
				if all {
					warning = "WARNING! This will remove all images without at least one container associated to them."
				}
				if !confirm(warning + "\nAre you sure you want to continue?") {
					return nil // docker: cancelled, nothing removed, exit 0
				}
			}
			st, err := g.store()
			if err != nil {
				return err
			}
			var lines []string
			n, err := transfer.PruneImages(st, transfer.PruneOptions{All: all, Keep: keep}, func(l string) { lines = append(lines, l) })
			if err != nil {
				return err
			}
			if len(lines) > 0 {
				fmt.Printf("Deleted Images:\n%s\n\n", strings.Join(lines, "\n"))
			}
			fmt.Printf("Total reclaimed space: %s\n", humanSizePrec(n, 4))
			return nil
		},
	})
}

// confirm is docker's prompt: the question on stdout, yes only for "y".
func confirm(question string) bool {
	fmt.Print(question + " [y/N] ")
	sc := bufio.NewScanner(os.Stdin)
	if !sc.Scan() {
		fmt.Println()
		return false
	}
	return strings.EqualFold(strings.TrimSpace(sc.Text()), "y")
}

// pruneFilter reads image prune's filters: until, label, label!, and
// dangling (=false is -a).
func pruneFilter(list []string) (func(*transfer.ImageInfo) bool, bool, error) {
	f, err := parseFilters(list, "until", "label", "label!", "dangling")
	if err != nil {
		return nil, false, err
	}
	dset, dangling, err := boolFilter(f, "dangling")
	if err != nil {
		return nil, false, err
	}
	var until time.Time
	if vs := f["until"]; len(vs) > 0 {
		if until, err = parseUntil(vs[len(vs)-1]); err != nil {
			return nil, false, err
		}
	}
	return func(i *transfer.ImageInfo) bool {
		if !until.IsZero() && i.Created.After(until) {
			return false
		}
		labels := imageLabels(i)
		if len(f["label"]) > 0 && !matchLabels(f["label"], labels) {
			return false
		}
		for _, l := range f["label!"] {
			if matchLabels([]string{l}, labels) {
				return false
			}
		}
		return true
	}, dset && !dangling, nil
}

// parseUntil is docker's until value: a Go duration back from now, a Unix
// time, or an RFC 3339 (or shorter) timestamp.
func parseUntil(v string) (time.Time, error) {
	if d, err := time.ParseDuration(v); err == nil {
		return time.Now().Add(-d), nil
	}
	if s, err := strconv.ParseFloat(v, 64); err == nil {
		return time.Unix(int64(s), 0), nil
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05", "2006-01-02T15:04", "2006-01-02"} {
		if t, err := time.ParseInLocation(layout, v, time.Local); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("failed to parse value as time or duration: %q", v)
}
