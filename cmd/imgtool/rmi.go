package main

import (
	"errors"
	"fmt"

	"github.com/spf13/pflag"

	"github.com/imgtool/imgtool/store"
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
			return g.withWriter(func(st store.Store) error {
				var errs []error
				for _, a := range args {
					lines, err := st.Images().Remove(a, force)
					for _, l := range lines {
						fmt.Println(l)
					}
					if err != nil {
						errs = append(errs, err)
					}
				}
				return errors.Join(errs...)
			})
		},
	})
}
