package main

import (
	"errors"
	"fmt"

	"github.com/spf13/pflag"

	"github.com/imgtool/imgtool/store"
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
			return g.withWriter(func(st store.Store) error {
				var errs []error
				for _, a := range args {
					c, err := st.Containers().Find(a)
					if err == nil {
						err = st.Containers().Remove(c)
					}
					if err != nil {
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
