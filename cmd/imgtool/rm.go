package main

import (
	"errors"
	"fmt"

	"github.com/imgtool/imgtool/transfer"
	"github.com/spf13/pflag"
)

func init() {
	register(&command{
		name:  "rm",
		usage: "CONTAINER...",
		short: "Remove containers (their init and read-write layers); images stay",
		long: `Example:
  imgtool rm build`,
		minArgs: 1, maxArgs: -1,
		run: func(g *globals, fs *pflag.FlagSet, args []string) error {
			return g.withStore(func(st transfer.Store) error {
				var errs []error
				for _, a := range args {
					if err := transfer.RemoveContainer(st, a); err != nil {
						errs = append(errs, err)
						continue
					}
					fmt.Println(a)
				}
				return errors.Join(errs...)
			})
		},
	})
}
