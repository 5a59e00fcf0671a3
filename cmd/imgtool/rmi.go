package main

import (
	"fmt"

	"github.com/imgtool/imgtool/transfer"
	"github.com/spf13/pflag"
)

func init() {
	var force bool
	register(&command{
		name:  "rmi",
		usage: "[-f] IMAGE...",
		short: "Remove images (untag; delete the image and unused layers)",
		long: `Removing a tag deletes the image when it was its last reference, with every layer that
no other image or container uses (layerdb entry, overlay2 dir, l/ link). An image ID
that several repositories reference needs -f.

Examples:
  imgtool rmi app:1
  imgtool rmi -f 3f2a9c1b7d4e`,
		setFlags: func(fs *pflag.FlagSet) {
			fs.BoolVarP(&force, "force", "f", false, "remove an image referenced by several tags")
		},
		minArgs: 1, maxArgs: -1,
		run: func(g *globals, fs *pflag.FlagSet, args []string) error {
			return g.withStore(func(st transfer.Store) error {
				return transfer.RemoveImages(st, args, force, func(l string) { fmt.Println(l) })
			})
		},
	})
}
