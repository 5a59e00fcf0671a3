package main

import (
	"encoding/json"
	"fmt"
	"os"
	"text/tabwriter"
)

// listing prints rows the way docker's listing commands do: one JSON
// object per line (--format json), only IDs (-q), or a padded table.
type listing[T any] struct {
	header string         // tab-separated column names
	cells  func(T) string // tab-separated values of one row
	id     func(T) string // what -q prints
	unique bool           // -q prints each ID once (images: one row per tag)
}

func (l listing[T]) print(format string, quiet bool, rows []T) error {
	switch {
	case format == "json":
		enc := json.NewEncoder(os.Stdout)
		for _, r := range rows {
			if err := enc.Encode(r); err != nil {
				return err
			}
		}
		return nil
	case quiet:
		seen := map[string]bool{}
		for _, r := range rows {
			id := l.id(r)
			if l.unique && seen[id] {
				continue
			}
			seen[id] = true
			fmt.Println(id)
		}
		return nil
	}
	tw := tabwriter.NewWriter(os.Stdout, 10, 1, 3, ' ', 0)
	fmt.Fprintln(tw, l.header)
	for _, r := range rows {
		fmt.Fprintln(tw, l.cells(r))
	}
	return tw.Flush()
}
