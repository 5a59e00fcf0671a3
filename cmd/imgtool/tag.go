package main

import (
	"github.com/imgtool/imgtool/transfer"
	"github.com/spf13/pflag"
)

func init() {
	register(&command{
		name:  "tag",
		usage: "SOURCE_IMAGE[:TAG] TARGET_IMAGE[:TAG]",
		short: "Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE",
		long: `Examples:
  imgtool tag app:1 registry.example.com:5000/team/app:1
  imgtool tag 3f2a9c1b7d4e app:latest`,
		minArgs: 2, maxArgs: 2,
		run: func(g *globals, fs *pflag.FlagSet, args []string) error {
			return g.withStore(func(st transfer.Store) error {
				return transfer.TagImage(st, args[0], args[1])
			})
		},
	})
}
