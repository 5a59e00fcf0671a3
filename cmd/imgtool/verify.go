package main

import (
	"context"
	"os"
	"time"

	"github.com/spf13/pflag"

	"github.com/imgtool/imgtool/transfer"
)

func init() {
	var jsonOut bool
	register(&command{
		name:  "verify",
		usage: "SRC",
		short: "Re-hash every blob of an archive, OCI layout or store image",
		long: `SRC is a location as for convert (docker-archive:PATH, oci-archive:PATH, oci:DIR,
store:REF or a bare store reference, else a bare path to an archive or layout;
:REF picks one image). Every manifest, index,
config and layer blob is re-hashed against its digest and size, every layer's
uncompressed stream against the config's diff_id; chain IDs are printed. For a
store image, layerdb is checked too (each chain dir's diff and parent files).
One status line per blob; the exit code is 1 on any mismatch, which is named.

Examples:
  imgtool verify docker-archive:app.tar
  imgtool verify oci:layout
  imgtool --root /var/lib/docker verify debian:12`,
		setFlags: func(fs *pflag.FlagSet) {
			fs.BoolVar(&jsonOut, "json", false, "print the result as JSON on stdout; status lines go to stderr (docs/json.md)")
		},
		minArgs: 1, maxArgs: 1,
		run: func(g *globals, fs *pflag.FlagSet, args []string) error {
			start := time.Now()
			if err := checkStdio(args[0], "store:x"); err != nil {
				return err
			}
			env := g.env()
			lines := os.Stdout
			if jsonOut {
				lines = os.Stderr
			}
			vr, err := transfer.Verify(context.Background(), args[0], env, lines)
			if jsonOut && vr != nil {
				ok := len(vr.Problems) == 0
				r := &result{Command: "verify", Output: args[0], OK: &ok, Layers: vr.Layers, Problems: vr.Problems, Warnings: vr.Warnings}
				if perr := printResult(os.Stdout, r, start); perr != nil {
					return perr
				}
			}
			return err
		},
	})
}
