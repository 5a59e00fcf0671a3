package main

import (
	"errors"
	"fmt"
	"os"

	"github.com/imgtool/imgtool/transfer"
	"github.com/spf13/pflag"
)

func init() {
	var repair, deep, quiet bool
	register(&command{
		name:  "check",
		usage: "[--repair] [--deep] [-q]",
		short: "Verify the store; --repair removes leftovers of interrupted writes",
		long: `Checks that every tag names an image, every imagedb config hashes to its name and has its
whole layer chain, every layerdb entry is complete (diff, size, cache-id, tar-split) and
matches its chain ID and parent, every overlay2 dir has diff/ and link with its l/ entry,
every l/ link points at a dir, and container mounts entries are consistent. --deep also
regenerates every layer tar from tar-split and checks its diff ID.

One line per problem: "error: …" (damage; never repaired), "garbage: …" (a leftover of an
interrupted write: layerdb/tmp write-sets, *-removing layers, unreferenced overlay2 dirs,
dangling l/ links, .tmp-* files, tags of missing images), "warning: …" (a complete layer no
image uses). --repair removes garbage and unused layers and prints "repaired: …" for each.
Exit 1 if errors or garbage remain.

Examples:
  imgtool check
  imgtool check --repair --deep`,
		setFlags: func(fs *pflag.FlagSet) {
			fs.BoolVar(&repair, "repair", false, "remove leftovers of interrupted writes and unused layers")
			fs.BoolVar(&deep, "deep", false, "regenerate every layer from tar-split and verify its diff ID")
			fs.BoolVarP(&quiet, "quiet", "q", false, "print only problems that remain")
		},
		maxArgs: 0,
		run: func(g *globals, fs *pflag.FlagSet, args []string) error {
			st, err := g.store()
			if err != nil {
				return err
			}
			r, err := transfer.CheckStore(st, transfer.CheckOptions{Deep: deep, Repair: repair})
			if err != nil {
				return err
			}
			remaining, garbage := 0, 0
			for _, p := range r.Problems {
				if quiet && p.Repaired {
					continue
				}
				fmt.Fprintln(os.Stdout, oneLine(p.String()))
				if !p.Repaired && p.Severity != transfer.Unused {
					remaining++
					if p.Severity == transfer.Garbage {
						garbage++
					}
				}
			}
			if r.Failed() {
				msg := checkPlural(remaining, "problem") + " found"
				if !repair && garbage > 0 {
					msg += fmt.Sprintf(" (%d from interrupted writes: imgtool check --repair removes those)", garbage)
				}
				return errors.New(msg)
			}
			return nil
		},
	})
}

func checkPlural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return fmt.Sprintf("%d %ss", n, what)
}
