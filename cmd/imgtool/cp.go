package main

import (
	"os"
	"strings"

	"github.com/spf13/pflag"

	"github.com/imgtool/imgtool/transfer"
)

func init() {
	register(&command{
		name:  "cp",
		usage: "SRC_PATH|- CONTAINER:DEST_PATH  |  CONTAINER:SRC_PATH DEST_PATH|-",
		short: "Copy files between the host and a container's filesystem",
		long: `Into a container, files land in its read-write layer (parent directories are copied up
from the image with their metadata; ownership and modes are kept). Out of a container,
the merged view is read: a path deleted in a layer does not exist. "-" as the source
reads a tar stream from stdin; "-" as the destination writes one to stdout. No daemon,
no mount.

Examples:
  imgtool cp ./config.yml build:/etc/app/
  imgtool cp build:/var/log/app.log ./
  tar -C site -c . | imgtool cp - build:/srv/www`,
		minArgs: 2, maxArgs: 2,
		run: func(g *globals, fs *pflag.FlagSet, args []string) error {
			src, dst := args[0], args[1]
			rep, err := g.reporter("copying", false)
			if err != nil {
				return err
			}
			defer rep.Close()
			sc, sp, sIn := splitContainerPath(src)
			dc, dp, dIn := splitContainerPath(dst)
			switch {
			case sIn && dIn:
				return usageError{"copying between containers is not supported"}
			case !sIn && !dIn:
				return usageError{"must specify at least one container source"}
			case dIn:
				return withContainer(g, dc, func(st transfer.Store, c *transfer.Container) error {
					return transfer.CopyIn(st, c, src, dp, os.Stdin, rep)
				})
			}
			if dst == "-" && isTerminal(os.Stdout) {
				return usageError{"refusing to write a tar stream to a terminal"}
			}
			st, err := g.store()
			if err != nil {
				return err
			}
			unlock, err := st.Reader()
			if err != nil {
				return err
			}
			defer unlock()
			c, err := st.Containers().Find(sc)
			if err != nil {
				return err
			}
			return transfer.CopyOut(st, c, sp, dst, os.Stdout, rep)
		},
	})
}

// splitContainerPath splits "name:path"; a path with a "/" before the
// colon, or starting with "." or "/", is a host path, as docker cp decides.
func splitContainerPath(arg string) (container, path string, ok bool) {
	if strings.HasPrefix(arg, "/") || strings.HasPrefix(arg, ".") {
		return "", arg, false
	}
	i := strings.Index(arg, ":")
	if i <= 0 || strings.Contains(arg[:i], "/") {
		return "", arg, false
	}
	return arg[:i], arg[i+1:], true
}
