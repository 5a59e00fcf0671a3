package main

import (
	"fmt"

	"github.com/imgtool/imgtool/transfer"
	"github.com/spf13/pflag"
)

func init() {
	register(&command{
		name:  "mount",
		usage: "CONTAINER",
		short: "Mount a container's merged view (root only) and print its path",
		long: `Mounts overlayfs with the image and init layers below and the container's read-write
layer as upper, so ordinary tools can change its files; then imgtool unmount, and
imgtool commit or export.

Example:
  dir=$(imgtool mount build) && cp -a ./site "$dir/srv/" && imgtool unmount build`,
		minArgs: 1, maxArgs: 1,
		run: func(g *globals, fs *pflag.FlagSet, args []string) error {
			return g.withStore(func(st transfer.Store) error {
				p, err := transfer.MountContainer(st, args[0])
				if err == nil {
					fmt.Println(p)
				}
				return err
			})
		},
	})
	register(&command{
		name:    "unmount",
		usage:   "CONTAINER",
		short:   "Unmount a container mounted with imgtool mount",
		minArgs: 1, maxArgs: 1,
		run: func(g *globals, fs *pflag.FlagSet, args []string) error {
			return g.withStore(func(st transfer.Store) error {
				return transfer.UnmountContainer(st, args[0])
			})
		},
	})
}

// withContainer runs fn on a container under the writer lock.
func withContainer(g *globals, ref string, fn func(transfer.Store, *transfer.Container) error) error {
	return g.withStore(func(st transfer.Store) error {
		return transfer.WithContainer(st, ref, func(c *transfer.Container) error { return fn(st, c) })
	})
}
