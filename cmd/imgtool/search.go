package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"text/tabwriter"

	"github.com/spf13/pflag"

	"github.com/imgtool/imgtool/registry"
)

func init() {
	var rf registryFlags
	var host, format string
	var limit int
	register(&command{
		name:  "search",
		usage: "[--registry HOST] [--limit N] [--format table|json] TERM",
		short: "Search a registry's catalog (or Docker Hub) for repositories",
		long: `With --registry, lists the registry's catalog (/v2/_catalog) entries whose name
contains TERM; without, asks Docker Hub's search API. Prints docker search's columns
NAME DESCRIPTION STARS OFFICIAL AUTOMATED, or with --format json one object per line.

Examples:
  imgtool search --registry 127.0.0.1:5000 app
  imgtool search --format json busybox`,
		setFlags: func(fs *pflag.FlagSet) {
			fs.StringVar(&host, "registry", "", "registry HOST[:PORT] whose catalog to search (default: Docker Hub)")
			fs.IntVar(&limit, "limit", 25, "maximum number of results")
			fs.StringVar(&format, "format", "table", "output format: table or json")
			fs.BoolVar(&rf.insecure, "insecure", false, "allow plain http and unverified TLS")
			fs.Var((*credsValue)(&rf.creds), "creds", "credentials for the registry, instead of Docker's config.json")
		},
		minArgs: 1, maxArgs: 1,
		run: func(g *globals, fs *pflag.FlagSet, args []string) error {
			if format != "table" && format != "json" {
				return usageError{fmt.Sprintf("unknown --format %q (table, json)", format)}
			}
			res, err := registry.Search(context.Background(), host, args[0], limit, rf.options(g, true))
			if err != nil {
				return err
			}
			if format == "json" {
				enc := json.NewEncoder(os.Stdout)
				for _, r := range res {
					// docker search --format '{{json .}}' field names and values
					if err := enc.Encode(map[string]string{
						"Name": r.Name, "Description": r.Description, "StarCount": strconv.Itoa(r.StarCount),
						"IsOfficial": okMark(r.IsOfficial), "IsAutomated": okMark(r.IsAutomated),
					}); err != nil {
						return err
					}
				}
				return nil
			}
			tw := tabwriter.NewWriter(os.Stdout, 0, 4, 3, ' ', 0)
			fmt.Fprintln(tw, "NAME\tDESCRIPTION\tSTARS\tOFFICIAL\tAUTOMATED")
			for _, r := range res {
				desc := r.Description
				if len(desc) > 45 {
					desc = desc[:44] + "…"
				}
				fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%s\n", r.Name, desc, r.StarCount, okMark(r.IsOfficial), okMark(r.IsAutomated))
			}
			return tw.Flush()
		},
	})
}

func okMark(b bool) string {
	if b {
		return "[OK]"
	}
	return ""
}
