package main

import (
	"fmt"

	"github.com/spf13/pflag"

	"github.com/imgtool/imgtool/store"
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
			return withContainer(g, args[0], func(st store.Store, c *store.Container) error {
				p, err := st.Containers().Mount(c)
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
			return withContainer(g, args[0], func(st store.Store, c *store.Container) error {
				return st.Containers().Unmount(c)
			})
		},
	})
}

// withContainer runs fn on a container under the writer lock.
func withContainer(g *globals, ref string, fn func(store.Store, *store.Container) error) error {
	return g.withWriter(func(st store.Store) error {
		c, err := st.Containers().Find(ref)
		if err != nil {
			return err
		}
		return fn(st, c)
	})
}
