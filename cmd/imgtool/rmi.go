package main

import (
	"errors"
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
that several repositories reference needs -f. As docker, rmi -f IMAGE-ID of an image a
stopped container uses removes every tag and leaves the image (dangling) for the container.

Examples:
  imgtool rmi app:1
  imgtool rmi -f 3f2a9c1b7d4e`,
		setFlags: func(fs *pflag.FlagSet) {
			fs.BoolVarP(&force, "force", "f", false, "remove an image referenced by several tags, or one a stopped container uses (its layers stay for the container)")
		},
		minArgs: 1, maxArgs: -1,
		run: func(g *globals, fs *pflag.FlagSet, args []string) error {
			return g.withStore(func(st transfer.Store) error {
				say := func(l string) { fmt.Println(l) }
				var errs []error
				for _, a := range args {
					errs = append(errs, transfer.RemoveImages(st, []string{a}, force, say))
				}
				return errors.Join(errs...)
			})
		},
	})
}
