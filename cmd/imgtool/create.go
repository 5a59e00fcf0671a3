package main

import (
	"fmt"

	"github.com/imgtool/imgtool/transfer"
	"github.com/spf13/pflag"
)

func init() {
	var name string
	register(&command{
		name:  "create",
		usage: "[--name NAME] IMAGE [COMMAND [ARG...]]",
		short: "Create a container (its init and read-write layers) without running it",
		long: `Lays the container out as dockerd does: containers/<id>/config.v2.json,
layerdb/mounts/<id>/, overlay2/<mount-id>-init with Docker's init files and
overlay2/<mount-id> for its changes. Prints the container ID. Change its files with
imgtool cp (or imgtool mount), then imgtool commit or imgtool export it.

Example:
  id=$(imgtool create --name build app:1 /bin/sh)
  imgtool cp ./out build:/srv/out
  imgtool commit build app:2`,
		setFlags: func(fs *pflag.FlagSet) {
			fs.StringVar(&name, "name", "", "assign a name to the container")
			fs.SetInterspersed(false) // everything after IMAGE is the command, as in docker create
		},
		minArgs: 1, maxArgs: -1,
		run: func(g *globals, fs *pflag.FlagSet, args []string) error {
			return g.withStore(func(st transfer.Store) error {
				c, err := transfer.CreateContainer(st, args[0], transfer.CreateOptions{Name: name, Cmd: args[1:]})
				if err != nil {
					return err
				}
				fmt.Println(c.ID)
				return nil
			})
		},
	})
}
